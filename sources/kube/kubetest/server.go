// Package kubetest is a Kubernetes API server for tests of `tapview
// attach`. It serves, over TLS on loopback with bearer-token auth, the
// real wire protocol of exactly the endpoints attach uses, with content
// negotiation between JSON and protobuf as the API server does it (see
// codec.go): pods get, list and watch (framed watch events), deployments
// get, PATCH of the
// ephemeralcontainers subresource (a real strategic merge patch),
// SelfSubjectAccessReview, pods/attach over WebSocket (v5.channel.k8s.io)
// and SPDY (v4.channel.k8s.io), and pods/portforward over SPDY and SPDY
// tunnelled over WebSocket. Behind attach it plays the capture
// container's script (ready markers, "go", then a capture file's bytes on
// stdout), so a client sees what a kubelet would relay.
package kubetest

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Token is the bearer token the server requires on every request.
const Token = "kubetest-token"

// Capture is what the capture container of a pod "does" once attached.
type Capture struct {
	// Data is written on stdout after the client says "go": a pcap
	// stream, as tcpdump -w - would write it.
	Data []byte
	// Stderr is written on stderr before Data.
	Stderr string
	// Hold keeps the stream open after Data until the client closes
	// stdin (as the real capture runs until tapview detaches); without
	// it the process ends right after Data, like a capture limit.
	Hold bool
	// Chunk is the stdout write size (default 1000 bytes), so captures
	// arrive split across many frames.
	Chunk int
}

// Patch is one recorded PATCH of pods/ephemeralcontainers.
type Patch struct {
	Namespace, Pod string
	ContentType    string
	Body           []byte
	// Added are the ephemeral containers the patch added.
	Added []corev1.EphemeralContainer
}

// Server is the fake API server. Configure it before the client runs;
// the exported fields are read under its lock.
type Server struct {
	t   testing.TB
	srv *httptest.Server
	// URL is the server's https address.
	URL string

	mu          sync.Mutex
	rv          int64
	pods        map[string]*corev1.Pod
	deployments map[string]*appsv1.Deployment
	history     []event
	watchers    map[*watcher]bool
	denied      map[string]bool
	captures    map[string]Capture
	forwards    map[string]string
	patches     []Patch
	reviews     []string
	stdinClosed map[string]bool
	attaches    map[string]string // pod → "websocket" or "spdy"
	// EphemeralDisabled answers the ephemeralcontainers PATCH with a
	// 404 without details, as servers without the feature do.
	EphemeralDisabled bool
	// ImagePullError makes new capture containers wait in ErrImagePull
	// with this message instead of running.
	ImagePullError string
	// NoWebSocket refuses WebSocket upgrades (as an old server or a
	// proxy would), so clients must fall back to SPDY.
	NoWebSocket bool
	// StartDelay is how long a new capture container waits before it
	// runs (default 20ms).
	StartDelay time.Duration
}

type event struct {
	rv  int64
	typ watch.EventType
	pod *corev1.Pod
}

// New starts a server on loopback; it is closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{
		t: t, pods: map[string]*corev1.Pod{}, deployments: map[string]*appsv1.Deployment{},
		watchers: map[*watcher]bool{}, denied: map[string]bool{}, captures: map[string]Capture{},
		forwards: map[string]string{}, stdinClosed: map[string]bool{}, attaches: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods/{name}", s.getPod)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/pods", s.listPods)
	mux.HandleFunc("GET /api/v1/pods", s.listPods)
	mux.HandleFunc("PATCH /api/v1/namespaces/{ns}/pods/{name}/ephemeralcontainers", s.patchEphemeral)
	mux.HandleFunc("GET /apis/apps/v1/namespaces/{ns}/deployments/{name}", s.getDeployment)
	mux.HandleFunc("POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews", s.review)
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{name}/attach", s.attach)
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{name}/portforward", s.portForward)
	s.srv = httptest.NewUnstartedServer(s.auth(mux))
	s.srv.StartTLS()
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and ends open watches and streams.
func (s *Server) Close() {
	s.mu.Lock()
	for w := range s.watchers {
		close(w.ch)
		delete(s.watchers, w)
	}
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// auth requires the bearer token, as a real server requires credentials.
func (s *Server) auth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+Token {
			writeStatus(w, r, http.StatusUnauthorized, metav1.StatusReasonUnauthorized, "Unauthorized", nil)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// RESTConfig returns a client configuration for the server.
func (s *Server) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            s.URL,
		BearerToken:     Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.caPEM()},
	}
}

// Client returns a typed client for the server.
func (s *Server) Client() kubernetes.Interface {
	c, err := kubernetes.NewForConfig(s.RESTConfig())
	if err != nil {
		s.t.Fatalf("kubetest: client: %v", err)
	}
	return c
}

func (s *Server) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// WriteKubeconfig writes a kubeconfig for the server whose context has
// namespace ns, and returns its path.
func (s *Server) WriteKubeconfig(path, ns string) string {
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubetest
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: kubetest
  user:
    token: %s
contexts:
- name: kubetest
  context:
    cluster: kubetest
    user: kubetest
    namespace: %s
current-context: kubetest
`, s.URL, base64.StdEncoding.EncodeToString(s.caPEM()), Token, ns)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		s.t.Fatalf("kubetest: %v", err)
	}
	return path
}

// RunningPod returns a running pod with one container "app" and an IP.
func RunningPod(ns, name string, lbls map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls, UID: types.UID("uid-" + ns + "-" + name)},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app", Image: "example/app"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.0.7", PodIPs: []corev1.PodIP{{IP: "10.1.0.7"}}},
	}
}

// AddPod stores a pod (ADDED to watchers).
func (s *Server) AddPod(p *corev1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p = p.DeepCopy()
	if p.UID == "" {
		p.UID = types.UID("uid-" + p.Namespace + "-" + p.Name)
	}
	s.pods[p.Namespace+"/"+p.Name] = p
	s.emitLocked(watch.Added, p)
}

// DeletePod removes a pod (DELETED to watchers).
func (s *Server) DeletePod(ns, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := ns + "/" + name
	if p, ok := s.pods[k]; ok {
		delete(s.pods, k)
		s.emitLocked(watch.Deleted, p.DeepCopy())
	}
}

// AddDeployment stores a deployment.
func (s *Server) AddDeployment(d *appsv1.Deployment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deployments[d.Namespace+"/"+d.Name] = d.DeepCopy()
}

// SetCapture says what the capture container of pod ns/name streams.
func (s *Server) SetCapture(ns, name string, c Capture) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.captures[ns+"/"+name] = c
}

// Deny makes SelfSubjectAccessReview, and the streaming endpoints
// themselves, refuse one permission (group "" is the core group).
func (s *Server) Deny(verb, group, resource, subresource string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[permKey(verb, group, resource, subresource)] = true
}

// Forward routes port-forwards to port of pod ns/name to addr (a
// loopback listener of the test).
func (s *Server) Forward(ns, name string, port int, addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forwards[ns+"/"+name+":"+strconv.Itoa(port)] = addr
}

// Patches returns the ephemeralcontainers patches received.
func (s *Server) Patches() []Patch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Patch(nil), s.patches...)
}

// Reviews returns the SelfSubjectAccessReviews received, each as
// "namespace verb group resource subresource".
func (s *Server) Reviews() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reviews...)
}

// StdinClosed reports whether a client attached to pod ns/name closed
// the capture's stdin (which ends a real capture).
func (s *Server) StdinClosed(ns, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stdinClosed[ns+"/"+name]
}

// AttachProtocol returns how the last attach to pod ns/name was made:
// "websocket", "spdy", or "".
func (s *Server) AttachProtocol(ns, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attaches[ns+"/"+name]
}

func permKey(verb, group, resource, sub string) string {
	return strings.Join([]string{verb, group, resource, sub}, " ")
}

func (s *Server) deniedKey(verb, group, resource, sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.denied[permKey(verb, group, resource, sub)]
}

// emitLocked bumps the resource version and tells matching watchers.
func (s *Server) emitLocked(typ watch.EventType, p *corev1.Pod) {
	s.rv++
	p.ResourceVersion = strconv.FormatInt(s.rv, 10)
	ev := event{rv: s.rv, typ: typ, pod: p.DeepCopy()}
	s.history = append(s.history, ev)
	for w := range s.watchers {
		if w.matches(ev.pod) {
			select {
			case w.ch <- ev:
			default: // too slow: end its watch, as a real server would
				close(w.ch)
				delete(s.watchers, w)
			}
		}
	}
}

// watcher is one open watch.
type watcher struct {
	ns     string
	labels labels.Selector
	fields fields.Selector
	ch     chan event
}

func (w *watcher) matches(p *corev1.Pod) bool {
	return (w.ns == "" || p.Namespace == w.ns) && w.labels.Matches(labels.Set(p.Labels)) && w.fields.Matches(podFields(p))
}

// podFields are the field selectors the server supports on pods.
func podFields(p *corev1.Pod) fields.Set {
	return fields.Set{
		"metadata.name": p.Name, "metadata.namespace": p.Namespace,
		"spec.nodeName": p.Spec.NodeName, "status.phase": string(p.Status.Phase),
	}
}

// writeStatus writes a metav1.Status error as the API server does.
func writeStatus(w http.ResponseWriter, r *http.Request, code int, reason metav1.StatusReason, msg string, details *metav1.StatusDetails) {
	writeObject(w, r, code, &metav1.Status{
		Status: metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code), Details: details,
	})
}

func forbidden(w http.ResponseWriter, r *http.Request, verb, resource, sub, ns, name string) {
	res, group := resource, ""
	if sub != "" {
		res += "/" + sub
	}
	if resource == "deployments" {
		group = "apps"
	}
	writeStatus(w, r, http.StatusForbidden, metav1.StatusReasonForbidden,
		fmt.Sprintf("%s %q is forbidden: User \"test\" cannot %s resource %q in API group %q in the namespace %q", resource, name, verb, res, group, ns),
		&metav1.StatusDetails{Name: name, Kind: resource})
}

func notFound(w http.ResponseWriter, r *http.Request, kind, name string) {
	writeStatus(w, r, http.StatusNotFound, metav1.StatusReasonNotFound, fmt.Sprintf("%s %q not found", kind, name),
		&metav1.StatusDetails{Name: name, Kind: kind})
}
