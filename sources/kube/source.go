package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/tapview/tapview/sources"
)

// PodOwner is implemented by this package's Sources so the decoder can
// fill Flow.Pod/Namespace and Exchange.Pod/Namespace: it maps the Source
// field of a Packet or Trace the source emitted to the pod it was
// captured in. Every such Source field is "namespace/pod".
type PodOwner interface {
	PodOf(source string) (namespace, pod string, ok bool)
}

// owner is a captured pod's identity.
type owner struct {
	namespace, pod, ip string
}

func ownerOf(p *corev1.Pod) owner { return owner{p.Namespace, p.Name, p.Status.PodIP} }

func (o owner) source() string { return o.namespace + "/" + o.pod }

// node is the Istio sidecar node id of the pod, the form the trace
// decoder already reads a pod and namespace from.
func (o owner) node() string {
	return "sidecar~" + o.ip + "~" + o.pod + "." + o.namespace + "~" + o.namespace + ".svc.cluster.local"
}

// splitSource parses "namespace/pod".
func splitSource(s string) (ns, pod string, ok bool) {
	ns, pod, ok = strings.Cut(s, "/")
	if !ok || ns == "" || pod == "" || strings.Contains(pod, "/") {
		return "", "", false
	}
	return ns, pod, true
}

// SourceOwner maps the source name of everything this package's Sources
// emit ("namespace/pod") to the pod and namespace, for decoders that
// attribute flows to pods (decode/tcp Config.Owner). Names of another
// form yield empty strings.
func SourceOwner(source string) (pod, namespace string) {
	ns, pod, ok := splitSource(source)
	if !ok {
		return "", ""
	}
	return pod, ns
}

// PodSource captures one pod found when the session started. Its name,
// and the Source of everything it emits, is "namespace/pod".
type PodSource struct {
	s   *Session
	pod *corev1.Pod
}

// Name implements sources.Source.
func (p *PodSource) Name() string { return key(p.pod) }

// Owner returns the pod this source captures.
func (p *PodSource) Owner() (pod, namespace string) { return p.pod.Name, p.pod.Namespace }

// PodOf implements PodOwner.
func (p *PodSource) PodOf(source string) (string, string, bool) {
	if source != key(p.pod) {
		return "", "", false
	}
	return p.pod.Namespace, p.pod.Name, true
}

// Run captures until ctx ends, the pod goes away (a Warning note of kind
// "gone", and nil), or the capture fails (an error saying why).
func (p *PodSource) Run(ctx context.Context, emit sources.Emitter) error {
	return p.s.runPod(ctx, p.pod, newPodEmitter(emit, ownerOf(p.pod)))
}

// runPod runs one pod's capture with a cancel the watcher can use when
// the pod is deleted, and tells a pod that went away from a failure.
func (s *Session) runPod(ctx context.Context, pod *corev1.Pod, em *podEmitter) error {
	k := key(pod)
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.running(k, cancel)
	err := s.capture(pctx, pod, em)
	if ctx.Err() != nil {
		return nil
	}
	if errors.Is(context.Cause(pctx), errPodGone) || s.podGone(ctx, pod) {
		em.note(sources.Warning, "gone", fmt.Sprintf("pod %s went away", k))
		return nil
	}
	if err == nil {
		em.note(sources.Info, "ended", fmt.Sprintf("the capture in pod %s ended", k))
	}
	return err
}

// podGone reports whether the pod no longer exists, is being deleted, or
// was replaced by a pod of the same name.
func (s *Session) podGone(ctx context.Context, pod *corev1.Pod) bool {
	gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := s.opts.Client.Pods(pod.Namespace).Get(gctx, pod.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	return err == nil && (p.DeletionTimestamp != nil || p.UID != pod.UID ||
		p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed)
}

// watchSource follows a selector: it captures matching pods that start
// running after the session started, and cancels the capture of pods
// that are deleted. Captures it starts emit through it.
type watchSource struct {
	s  *Session
	wg sync.WaitGroup
	// noted holds pods left out because of --max-pods, so each is
	// reported once (used by the watch goroutine only).
	noted map[string]bool
}

// Name implements sources.Source.
func (w *watchSource) Name() string { return "kube " + w.s.describe() }

// PodOf implements PodOwner.
func (w *watchSource) PodOf(source string) (string, string, bool) { return splitSource(source) }

// Run watches until ctx ends. A watch that the API server ends is
// resumed from the last version seen, or from a fresh list when that
// version expired.
func (w *watchSource) Run(ctx context.Context, emit sources.Emitter) error {
	defer w.wg.Wait()
	s := w.s
	emit.Status(sources.Status{Time: time.Now(), Source: w.Name(), Level: sources.Info, Kind: "watching",
		Message: fmt.Sprintf("watching for pods (%s): %d being captured, new ones are added", s.describe(), s.count())})
	rv := ""
	for ctx.Err() == nil {
		if rv == "" {
			var err error
			if rv, err = w.relist(ctx, emit); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		wi, err := s.opts.Client.Pods(s.ns).Watch(ctx, metav1.ListOptions{LabelSelector: s.sel.String(), ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watching pods (%s): %w", s.describe(), err)
		}
		began := time.Now()
		rv = w.events(ctx, wi, emit, rv)
		wi.Stop()
		if time.Since(began) < time.Second {
			// A watch that ends at once (an error, an expired
			// version) is not retried in a tight loop.
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// relist lists the matching pods, handles them as if they had just been
// seen, and returns the list's version to watch from.
func (w *watchSource) relist(ctx context.Context, emit sources.Emitter) (string, error) {
	s := w.s
	list, err := s.opts.Client.Pods(s.ns).List(ctx, metav1.ListOptions{LabelSelector: s.sel.String()})
	if err != nil {
		return "", fmt.Errorf("listing pods (%s): %w", s.describe(), err)
	}
	present := map[string]bool{}
	for i := range list.Items {
		present[key(&list.Items[i])] = true
		w.seen(ctx, &list.Items[i], emit)
	}
	s.mu.Lock()
	var missing []string
	for k := range s.roster {
		if !present[k] {
			missing = append(missing, k)
		}
	}
	s.mu.Unlock()
	for _, k := range missing {
		s.gone(k)
	}
	return list.ResourceVersion, nil
}

// events handles one watch's events and returns the version to resume
// from ("" to list again).
func (w *watchSource) events(ctx context.Context, wi watch.Interface, emit sources.Emitter, rv string) string {
	for {
		select {
		case <-ctx.Done():
			return rv
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return rv
			}
			if ev.Type == watch.Error {
				// Usually 410 Gone: the version expired. List again.
				return ""
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rv = p.ResourceVersion
			switch ev.Type {
			case watch.Deleted:
				w.s.gone(key(p))
			case watch.Added, watch.Modified:
				if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
					w.s.gone(key(p))
					continue
				}
				w.seen(ctx, p, emit)
			}
		}
	}
}

// seen starts capturing a running pod not captured yet.
func (w *watchSource) seen(ctx context.Context, p *corev1.Pod, emit sources.Emitter) {
	s := w.s
	if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return
	}
	if s.opts.Via == ViaEnvoy && s.opts.Target.Container == "" {
		if _, err := findSidecar(p, "", s.opts.Envoy.AdminPort); err != nil {
			return
		}
	}
	k := key(p)
	if !s.claimUpTo(k, s.opts.MaxPods) {
		if !s.has(k) && !w.noted[k] {
			if w.noted == nil {
				w.noted = map[string]bool{}
			}
			w.noted[k] = true
			emit.Status(sources.Status{Time: time.Now(), Source: k, Level: sources.Warning, Kind: "max-pods",
				Message: fmt.Sprintf("pod %s not captured: --max-pods %d pods are being captured", k, s.opts.MaxPods)})
		}
		return
	}
	delete(w.noted, k)
	em := newPodEmitter(emit, ownerOf(p))
	em.note(sources.Info, "added", fmt.Sprintf("pod %s started; capturing it", k))
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := s.runPod(ctx, p, em); err != nil {
			em.note(sources.Error, "error", err.Error())
		}
	}()
}
