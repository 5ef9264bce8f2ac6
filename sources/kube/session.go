package kube

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/tapview/tapview/sources"
)

// Session is one `tapview attach`: the pods found at the start, each its
// own Source, and for selectors and deployments a watcher Source that
// adds pods starting later and marks pods that go away.
type Session struct {
	opts  Options
	att   attacher
	fwd   forwarder
	sem   chan struct{}
	pods  []*corev1.Pod
	sel   labels.Selector // for watching targets
	ns    string          // "" with -A
	label string          // how the user named the pods, for notes

	mu     sync.Mutex
	roster map[string]*rosterEntry // by "namespace/pod"

	// ranges are the cluster's pod and service CIDRs (best effort).
	ranges []netip.Prefix
	// namespaces are the cluster's namespace names (best effort).
	namespaces []string
}

// rosterEntry is a pod being captured.
type rosterEntry struct {
	cancel context.CancelCauseFunc
}

// errPodGone cancels a pod's capture when the pod is deleted.
var errPodGone = errors.New("pod went away")

// Start checks permissions and finds the pods to capture. Nothing in the
// cluster changes until a Source runs. Errors say what to do.
func Start(ctx context.Context, o Options) (*Session, error) {
	o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Session{opts: o, sem: make(chan struct{}, o.Parallel), roster: map[string]*rosterEntry{}}
	if o.REST != nil {
		rs := restStreams{cfg: o.REST, core: o.Client.CoreREST()}
		s.att, s.fwd = rs, rs
	}
	t := o.Target
	if !t.AllNamespaces {
		s.ns = t.Namespace
	}
	if err := s.checkAccess(ctx); err != nil {
		return nil, err
	}
	var err error
	switch t.Kind {
	case KindPod:
		err = s.namedPods(ctx)
	case KindDeployment:
		err = s.deploymentPods(ctx)
	case KindSelector:
		sel, perr := labels.Parse(t.Selector)
		if perr != nil {
			return nil, fmt.Errorf("-l %q: %w", t.Selector, perr)
		}
		s.sel, s.label = sel, "-l "+t.Selector
		err = s.selectedPods(ctx)
	}
	if err != nil {
		return nil, err
	}
	if o.Client != nil {
		s.ranges = clusterRanges(ctx, o.Client)
		s.namespaces = clusterNamespaces(ctx, o.Client)
	}
	return s, nil
}

// checkAccess asks the API server, before anything changes, whether the
// user may do everything the chosen way of capturing needs.
func (s *Session) checkAccess(ctx context.Context) error {
	target, agentNS := Required(s.opts.Via, s.opts.Target.Kind)
	a := access{reviews: s.opts.Client.AccessReviews()}
	miss, err := a.missing(ctx, s.ns, target)
	if err != nil {
		return err
	}
	if len(miss) > 0 {
		return &AccessError{Namespace: s.ns, Missing: miss}
	}
	if len(agentNS) > 0 {
		miss, err := a.missing(ctx, s.opts.Agent.Namespace, agentNS)
		if err != nil {
			return err
		}
		if len(miss) > 0 {
			return &AccessError{Namespace: s.opts.Agent.Namespace, Missing: miss, Agent: true}
		}
	}
	return nil
}

// namedPods gets each named pod; each must be running.
func (s *Session) namedPods(ctx context.Context) error {
	seen := map[string]bool{}
	for _, n := range s.opts.Target.Names {
		if seen[n] {
			continue
		}
		seen[n] = true
		p, err := s.opts.Client.Pods(s.ns).Get(ctx, n, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("pod %s not found in namespace %s (kubectl get pods -n %s lists them)", n, s.ns, s.ns)
		}
		if err != nil {
			return fmt.Errorf("getting pod %s/%s: %w", s.ns, n, err)
		}
		if err := checkRunning(p); err != nil {
			return err
		}
		if err := s.checkContainer(p); err != nil {
			return err
		}
		s.pods = append(s.pods, p)
	}
	return s.checkCount()
}

// deploymentPods resolves the deployment's selector, then selects by it.
func (s *Session) deploymentPods(ctx context.Context) error {
	name := s.opts.Target.Names[0]
	d, err := s.opts.Client.Deployments(s.ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("deployment %s not found in namespace %s", name, s.ns)
	}
	if err != nil {
		return fmt.Errorf("getting deployment %s/%s: %w", s.ns, name, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		return fmt.Errorf("deployment %s/%s has no usable pod selector: %v", s.ns, name, err)
	}
	s.sel, s.label = sel, "deployment "+name
	return s.selectedPods(ctx)
}

// selectedPods lists the running pods matching s.sel now; later ones
// are added by the watcher.
func (s *Session) selectedPods(ctx context.Context) error {
	list, err := s.opts.Client.Pods(s.ns).List(ctx, metav1.ListOptions{LabelSelector: s.sel.String()})
	if err != nil {
		return fmt.Errorf("listing pods (%s): %w", s.label, err)
	}
	for i := range list.Items {
		p := &list.Items[i]
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		if s.opts.Via == ViaEnvoy && s.opts.Target.Container == "" {
			if _, err := findSidecar(p, "", s.opts.Envoy.AdminPort); err != nil {
				continue // pods without a sidecar are not capturable this way
			}
		}
		s.pods = append(s.pods, p)
	}
	sort.Slice(s.pods, func(i, j int) bool { return key(s.pods[i]) < key(s.pods[j]) })
	return s.checkCount()
}

func (s *Session) checkCount() error {
	if len(s.pods) > s.opts.MaxPods {
		return fmt.Errorf("%d pods match (%s), more than --max-pods %d: narrow the selector, or raise --max-pods", len(s.pods), s.describe(), s.opts.MaxPods)
	}
	return nil
}

func (s *Session) describe() string {
	if s.label != "" {
		return s.label
	}
	return "pod " + strings.Join(s.opts.Target.Names, ", ")
}

// checkRunning says why a pod cannot be captured now.
func checkRunning(p *corev1.Pod) error {
	if p.DeletionTimestamp != nil {
		return fmt.Errorf("pod %s/%s is being deleted", p.Namespace, p.Name)
	}
	if p.Status.Phase == corev1.PodRunning {
		return nil
	}
	why := string(p.Status.Phase)
	if p.Status.Reason != "" {
		why += " (" + p.Status.Reason + ")"
	}
	return fmt.Errorf("pod %s/%s is %s, not Running: attach needs a running pod", p.Namespace, p.Name, why)
}

// checkContainer validates -c against the pod.
func (s *Session) checkContainer(p *corev1.Pod) error {
	c := s.opts.Target.Container
	if c == "" {
		return nil
	}
	if s.opts.Via == ViaEnvoy {
		_, err := findSidecar(p, c, s.opts.Envoy.AdminPort)
		return err
	}
	names := map[string]bool{}
	for _, x := range p.Spec.Containers {
		names[x.Name] = true
	}
	if !names[c] {
		return fmt.Errorf("pod %s/%s has no container %q (it has %s)", p.Namespace, p.Name, c, strings.Join(sortedKeys(names), ", "))
	}
	return nil
}

// Pods returns the pods found at the start, as "namespace/name".
func (s *Session) Pods() []string {
	out := make([]string, len(s.pods))
	for i, p := range s.pods {
		out[i] = key(p)
	}
	return out
}

// Sources returns one Source per pod found at the start, then, for
// selectors and deployments, the watcher that captures pods starting
// later (they show under the watcher's name in the status bar).
func (s *Session) Sources() []sources.Source {
	var out []sources.Source
	for _, p := range s.pods {
		s.claim(key(p))
		out = append(out, &PodSource{s: s, pod: p})
	}
	if s.opts.Target.watches() {
		out = append(out, &watchSource{s: s})
	}
	return out
}

// setup runs f while holding one of the Parallel setup slots, so a large
// selection does not hit the API server with every pod at once.
func (s *Session) setup(ctx context.Context, f func() error) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Canceled
	}
	defer func() { <-s.sem }()
	return f()
}

// claim marks a pod as handled; it returns false when it already was.
func (s *Session) claim(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roster[k]; ok {
		return false
	}
	s.roster[k] = &rosterEntry{}
	return true
}

// claimUpTo claims a pod unless it is claimed already or max pods are.
func (s *Session) claimUpTo(k string, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roster[k]; ok || len(s.roster) >= max {
		return false
	}
	s.roster[k] = &rosterEntry{}
	return true
}

// has reports whether a pod is claimed.
func (s *Session) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.roster[k]
	return ok
}

// running records the cancel function of a claimed pod's capture.
func (s *Session) running(k string, cancel context.CancelCauseFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.roster[k]; ok {
		e.cancel = cancel
	}
}

// gone cancels the capture of a pod that was deleted and forgets it, so
// a new pod of the same name (a StatefulSet's) is captured afresh.
func (s *Session) gone(k string) {
	s.mu.Lock()
	e, ok := s.roster[k]
	delete(s.roster, k)
	s.mu.Unlock()
	if ok && e.cancel != nil {
		e.cancel(errPodGone)
	}
}

func (s *Session) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.roster)
}

// capture runs the chosen way of capturing for one pod.
func (s *Session) capture(ctx context.Context, pod *corev1.Pod, em *podEmitter) error {
	switch s.opts.Via {
	case ViaEnvoy:
		return s.captureEnvoy(ctx, pod, em)
	case ViaAgent:
		return s.captureAgent(ctx, pod, em)
	default:
		return s.captureEphemeral(ctx, pod, em)
	}
}

func key(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
