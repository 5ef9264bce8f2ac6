// Package kube captures the traffic of Kubernetes pods without changing
// their workloads: it adds an ephemeral container that runs tcpdump in the
// pod's network namespace and streams the capture over attach, or
// port-forwards to the pod's Envoy sidecar admin /tap, or to the tapview
// agent on the pod's node. Every pod becomes a source named
// "namespace/pod", so flows and exchanges can be attributed to it.
//
// Nothing here is kubectl code: it is built on client-go's public APIs
// (generic typed clients, remotecommand, portforward).
package kube

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/tapview/tapview/sources/agent"
)

// Via says how a pod's traffic reaches tapview. Each way needs different
// permissions and a different thing in the cluster, so the user picks one.
type Via string

// The ways to reach a pod's traffic.
const (
	// ViaEphemeral adds an ephemeral tcpdump container to the pod.
	ViaEphemeral Via = "ephemeral"
	// ViaEnvoy port-forwards to the pod's Envoy sidecar admin /tap.
	ViaEnvoy Via = "envoy"
	// ViaAgent port-forwards to the tapview agent on the pod's node.
	ViaAgent Via = "agent"
)

// ParseVia checks a --via value, so a typo fails before anything is sent.
func ParseVia(s string) (Via, error) {
	switch v := Via(strings.ToLower(s)); v {
	case ViaEphemeral, ViaEnvoy, ViaAgent:
		return v, nil
	}
	return "", fmt.Errorf("--via %q: use ephemeral, envoy or agent", s)
}

// TargetKind says how the pods to capture are named.
type TargetKind string

// Target kinds.
const (
	// KindPod names pods one by one.
	KindPod TargetKind = "pod"
	// KindDeployment names one deployment; its pods are captured, and
	// pods it starts later are added.
	KindDeployment TargetKind = "deployment"
	// KindSelector selects pods by labels; pods that start later are
	// added, pods that go away are marked.
	KindSelector TargetKind = "selector"
)

// Target is what the user asked to capture.
type Target struct {
	Kind TargetKind
	// Names are pod names (KindPod) or the one deployment name.
	Names []string
	// Selector is the label selector of KindSelector.
	Selector string
	// Namespace is where the pods are; AllNamespaces (KindSelector
	// only) selects in every namespace.
	Namespace     string
	AllNamespaces bool
	// Container is -c: the Envoy sidecar with ViaEnvoy, or the container
	// whose process namespace the capture container joins with
	// ViaEphemeral (the network namespace is the pod's either way).
	Container string
}

// watches reports whether pods that start later are added.
func (t Target) watches() bool { return t.Kind != KindPod }

// Profile selects the capture container's privileges.
type Profile string

// Capture container profiles.
const (
	// ProfileNetRaw drops every capability and adds NET_RAW, the only
	// one tcpdump needs to open a packet socket on "any". This is the
	// default: least privilege.
	ProfileNetRaw Profile = "netraw"
	// ProfileBaseline leaves the runtime's default capabilities alone
	// (containerd and Docker include NET_RAW, CRI-O does not), for
	// namespaces whose Pod Security level forbids adding NET_RAW.
	ProfileBaseline Profile = "baseline"
)

// DefaultImage is the capture image: nicolaka/netshoot, an Alpine-based
// image built for exactly this kind of debugging (it is the image most
// `kubectl debug` guides use), published for amd64 and arm64, with
// tcpdump and a POSIX shell. Alpine's tcpdump is built without a default
// user to switch to, so it captures as root with only NET_RAW. It is large
// (a few hundred MB, pulled once per node); --image takes any image with
// tcpdump, sh, cat, sleep and kill.
const DefaultImage = "docker.io/nicolaka/netshoot:v0.13"

// Defaults for zero Options fields.
const (
	DefaultRunningTimeout = time.Minute
	DefaultCaptureLimit   = 8 * time.Hour
	DefaultMaxPods        = 10
	DefaultParallel       = 4
	DefaultAgentNamespace = "tapview"
	DefaultAgentSelector  = "app.kubernetes.io/name=tapview-agent"
	DefaultAgentPort      = 9494
	DefaultEnvoyConfigID  = "tapview"
)

// EphemeralOptions configure the capture container.
type EphemeralOptions struct {
	// Image runs the capture (DefaultImage when empty).
	Image   string
	Profile Profile
	// CaptureLimit ends the capture in the pod after this long even if
	// tapview's connection is lost without the runtime noticing; it is a
	// backstop, tapview's own exit ends the capture at once.
	CaptureLimit time.Duration
}

// EnvoyOptions configure the admin /tap request (see sources/envoyadmin).
type EnvoyOptions struct {
	ConfigID     string
	AdminPort    int // 0: detected from the sidecar
	Match        string
	Streaming    bool
	MaxBytes     uint32
	BodyAsString bool
}

// AgentOptions say where the agents are and how to talk to them.
type AgentOptions struct {
	Namespace string
	Selector  string
	Port      int
	Device    string
	SnapLen   uint32
	Transport agent.Transport
}

// Options configure a Session.
type Options struct {
	// Client talks to the API server; REST is its configuration, needed
	// for the attach and port-forward streams (nil disables them, which
	// only tests that stop before streaming do).
	Client Client
	REST   *rest.Config
	Target Target
	Via    Via
	// Filter is a tcpdump-syntax capture filter (--bpf).
	Filter    string
	Ephemeral EphemeralOptions
	Envoy     EnvoyOptions
	Agent     AgentOptions
	// RunningTimeout bounds the wait for a capture container to run.
	RunningTimeout time.Duration
	// MaxPods caps how many pods one session captures, so a broad
	// selector does not add containers to a whole namespace.
	MaxPods int
	// Parallel bounds how many pods are being set up at once.
	Parallel int
}

func (o *Options) withDefaults() {
	if o.Via == "" {
		o.Via = ViaEphemeral
	}
	if o.Ephemeral.Image == "" {
		o.Ephemeral.Image = DefaultImage
	}
	if o.Ephemeral.Profile == "" {
		o.Ephemeral.Profile = ProfileNetRaw
	}
	if o.Ephemeral.CaptureLimit <= 0 {
		o.Ephemeral.CaptureLimit = DefaultCaptureLimit
	}
	if o.Envoy.ConfigID == "" {
		o.Envoy.ConfigID = DefaultEnvoyConfigID
	}
	if o.Agent.Namespace == "" {
		o.Agent.Namespace = DefaultAgentNamespace
	}
	if o.Agent.Selector == "" {
		o.Agent.Selector = DefaultAgentSelector
	}
	if o.Agent.Port == 0 {
		o.Agent.Port = DefaultAgentPort
	}
	if o.RunningTimeout <= 0 {
		o.RunningTimeout = DefaultRunningTimeout
	}
	if o.MaxPods <= 0 {
		o.MaxPods = DefaultMaxPods
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
}

// validate catches option combinations that cannot work, before any
// request is sent.
func (o *Options) validate() error {
	t := o.Target
	if o.Client == nil {
		return errors.New("kube: no API client")
	}
	switch t.Kind {
	case KindPod:
		if len(t.Names) == 0 {
			return errors.New("name the pod: attach pod NAME")
		}
	case KindDeployment:
		if len(t.Names) != 1 {
			return errors.New("name one deployment: attach deployment NAME")
		}
	case KindSelector:
		if strings.TrimSpace(t.Selector) == "" {
			return errors.New("-l needs a label selector, e.g. -l app=web")
		}
	default:
		return fmt.Errorf("unknown target kind %q", t.Kind)
	}
	if t.AllNamespaces && t.Kind != KindSelector {
		return errors.New("-A works with -l SELECTOR only: pods and deployments are named within one namespace")
	}
	if !t.AllNamespaces && t.Namespace == "" {
		return errors.New("no namespace: use -n NAMESPACE")
	}
	switch o.Ephemeral.Profile {
	case ProfileNetRaw, ProfileBaseline:
	default:
		return fmt.Errorf("--profile %q: use netraw or baseline", o.Ephemeral.Profile)
	}
	if o.Envoy.AdminPort < 0 || o.Envoy.AdminPort > 65535 {
		return fmt.Errorf("--admin-port %d is not a port", o.Envoy.AdminPort)
	}
	return nil
}
