package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tapview/tapview/sources/agent"
	"github.com/tapview/tapview/sources/kube"
)

// kubeFlags are the kubectl flags attach takes, with kubectl's names, so
// the same cluster, context and namespace are reached as with kubectl.
type kubeFlags struct {
	kubeconfig    string
	context       string
	namespace     string
	allNamespaces bool
}

func (k *kubeFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&k.kubeconfig, "kubeconfig", "", "path to the kubeconfig `FILE` (default $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&k.context, "context", "", "kubeconfig context to use (default: the current context)")
	fs.StringVarP(&k.namespace, "namespace", "n", "", "namespace of the pods (default: the context's namespace)")
	fs.BoolVarP(&k.allNamespaces, "all-namespaces", "A", false, "select pods in every namespace (with -l)")
}

// attachFlags are the flags of `tapview attach` beyond the session's.
type attachFlags struct {
	kube      kubeFlags
	selector  string
	container string
	via       string
	bpf       string
	image     string
	profile   string
	limit     time.Duration
	running   time.Duration
	maxPods   int
	envoy     kube.EnvoyOptions
	agent     kube.AgentOptions
	agentTLS  agentClientTLSFlags
	agentH2C  bool
}

func (a *attachFlags) add(fs *pflag.FlagSet) {
	a.kube.add(fs)
	fs.StringVarP(&a.selector, "selector", "l", "", "capture every pod matching this label selector (pods starting later are added)")
	fs.StringVarP(&a.container, "container", "c", "", "--via ephemeral: container whose processes the capture container sees; --via envoy: the Envoy sidecar")
	fs.StringVar(&a.via, "via", string(kube.ViaEphemeral), "how to reach the traffic: ephemeral (tcpdump container), envoy (sidecar admin /tap) or agent (tapview agent DaemonSet)")
	fs.StringVar(&a.bpf, "bpf", "", "capture filter in tcpdump syntax (e.g. 'tcp port 8080')")
	fs.StringVar(&a.image, "image", kube.DefaultImage, "--via ephemeral: image with tcpdump and a POSIX shell")
	fs.StringVar(&a.profile, "profile", string(kube.ProfileNetRaw), "--via ephemeral: capture container privileges: netraw (drop all, add NET_RAW) or baseline (runtime defaults)")
	fs.DurationVar(&a.limit, "capture-limit", kube.DefaultCaptureLimit, "--via ephemeral: the capture in the pod ends after this long even if tapview's connection is lost unnoticed")
	fs.DurationVar(&a.running, "pod-running-timeout", kube.DefaultRunningTimeout, "how long to wait for the capture container to start")
	fs.IntVar(&a.maxPods, "max-pods", kube.DefaultMaxPods, "capture at most this many pods at once")
	fs.IntVar(&a.envoy.AdminPort, "admin-port", 0, "--via envoy: Envoy admin port (default: 15000 for istio-proxy, 9901 or kuma.io/envoy-admin-port for kuma-sidecar)")
	fs.StringVar(&a.envoy.ConfigID, "config-id", kube.DefaultEnvoyConfigID, "--via envoy: the tap filter's admin_config.config_id")
	fs.StringVar(&a.envoy.Match, "match", "", "--via envoy: MatchPredicate in JSON selecting what to tap (default: everything)")
	fs.Uint32Var(&a.envoy.MaxBytes, "max-bytes", 64<<10, "--via envoy: body bytes Envoy buffers per direction")
	fs.StringVar(&a.agent.Namespace, "agent-namespace", kube.DefaultAgentNamespace, "--via agent: namespace of the agent DaemonSet")
	fs.StringVar(&a.agent.Selector, "agent-selector", kube.DefaultAgentSelector, "--via agent: label selector of the agent pods")
	fs.IntVar(&a.agent.Port, "agent-port", kube.DefaultAgentPort, "--via agent: the agents' gRPC port")
	fs.StringVar(&a.agent.Device, "device", agent.DefaultDevice, "--via agent: interface the agent captures on")
	fs.Uint32Var(&a.agent.SnapLen, "snaplen", agent.DefaultSnapLen, "--via agent: bytes kept of each packet")
	fs.StringVar(&a.agentTLS.ca, "agent-ca", "", "--via agent: PEM `FILE` of the CA that signs the agents' certificate")
	fs.StringVar(&a.agentTLS.cert, "agent-cert", "", "--via agent: PEM client certificate `FILE`")
	fs.StringVar(&a.agentTLS.key, "agent-key", "", "--via agent: PEM private key `FILE` of --agent-cert")
	fs.StringVar(&a.agentTLS.serverName, "agent-server-name", "tapview-agent.tapview.svc", "--via agent: name in the agents' certificate")
	fs.BoolVar(&a.agentH2C, "agent-plaintext", false, "--via agent: talk to the agents without TLS")
}

// target turns the arguments (pod NAME..., deployment NAME, or none with
// -l) into what to capture.
func (a *attachFlags) target(args []string) (kube.Target, error) {
	t := kube.Target{Selector: a.selector, Container: a.container, AllNamespaces: a.kube.allNamespaces}
	if a.selector != "" {
		if len(args) > 0 {
			return t, usageErr("give either -l SELECTOR or pod/deployment NAME, not both")
		}
		t.Kind = kube.KindSelector
		return t, nil
	}
	if len(args) == 0 {
		return t, usageErr("say what to capture: attach pod NAME, attach deployment NAME, or attach -l SELECTOR")
	}
	kind, names := args[0], args[1:]
	// kubectl's TYPE/NAME form: pod/web-1, deployment/web.
	if k, n, ok := strings.Cut(kind, "/"); ok {
		kind, names = k, append([]string{n}, names...)
	}
	switch strings.ToLower(kind) {
	case "pod", "pods", "po":
		t.Kind = kube.KindPod
	case "deployment", "deployments", "deploy":
		t.Kind = kube.KindDeployment
	default:
		return t, usageErr("attach %s: use attach pod NAME, attach deployment NAME, or attach -l SELECTOR", kind)
	}
	if len(names) == 0 {
		return t, usageErr("name the %s: attach %s NAME", t.Kind, t.Kind)
	}
	if t.Kind == kube.KindDeployment && len(names) > 1 {
		return t, usageErr("attach deployment takes one NAME")
	}
	if t.AllNamespaces {
		return t, usageErr("-A works with -l SELECTOR only: pods and deployments are named within one namespace (use -n)")
	}
	t.Names = names
	return t, nil
}

// options builds the capture options; the client comes later.
func (a *attachFlags) options(args []string) (kube.Options, error) {
	t, err := a.target(args)
	if err != nil {
		return kube.Options{}, err
	}
	via, err := kube.ParseVia(a.via)
	if err != nil {
		return kube.Options{}, usageErr("%v", err)
	}
	o := kube.Options{
		Target: t, Via: via, Filter: a.bpf,
		Ephemeral:      kube.EphemeralOptions{Image: a.image, Profile: kube.Profile(a.profile), CaptureLimit: a.limit},
		Envoy:          a.envoy,
		Agent:          a.agent,
		RunningTimeout: a.running,
		MaxPods:        a.maxPods,
	}
	if via == kube.ViaAgent && !a.agentH2C {
		creds, err := a.agentTLS.creds()
		if err != nil {
			return o, err
		}
		o.Agent.Transport = agent.Transport{Creds: creds}
	}
	return o, nil
}

func newAttachCmd() *cobra.Command {
	var (
		f sessionFlags
		a attachFlags
	)
	cmd := &cobra.Command{
		Use:   "attach (pod NAME... | deployment NAME | -l SELECTOR)",
		Short: "Capture the traffic of Kubernetes pods without changing their workloads",
		Long: `Capture the traffic of running pods, each a source of its own: flows and
exchanges carry the pod and namespace (filter with pod == "web-1" or
namespace == "shop"). With -l or deployment, pods that start later are added
and pods that go away are marked.

--via ephemeral (default) adds an ephemeral container to each pod that runs
tcpdump in the pod's network namespace with only NET_RAW, and streams the
capture over attach (WebSocket, falling back to SPDY). The capture stops
when tapview exits. Ephemeral containers cannot be removed; each run adds
one (stopped) container to the pod's spec.

--via envoy port-forwards to the pod's Envoy sidecar admin port (Istio
istio-proxy 15000, Kuma kuma-sidecar 9901) and streams its /tap; the sidecar
needs a tap filter with admin_config.config_id (--config-id).

--via agent port-forwards to the tapview agent on the pod's node
(deploy/agent-daemonset.yaml) and captures the pod's IP there.

Permissions are checked first (SelfSubjectAccessReview); deploy/rbac.yaml
has a Role with exactly what attach needs.`,
		Example: `  tapview attach pod web-1 -n shop
  tapview attach pod web-1 -c app --bpf 'tcp port 8080' -o json
  tapview attach -l app=web -n shop -w web.pcapng
  tapview attach deployment web --duration 5m
  tapview attach pod web-1 --via envoy --config-id tapview`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := a.options(args)
			if err != nil {
				return err
			}
			cc, err := kube.LoadClientConfig(a.kube.kubeconfig, a.kube.context, "tapview-attach")
			if err != nil {
				return err
			}
			o.Client, o.REST = cc.Client, cc.REST
			o.Target.Namespace = a.kube.namespace
			if o.Target.Namespace == "" {
				o.Target.Namespace = cc.Namespace
			}
			ctx := withPodOwner(cmd.Context(), kube.SourceOwner)
			s, err := kube.Start(ctx, o)
			if err != nil {
				return err
			}
			srcs := s.Sources()
			if len(s.Pods()) == 0 && o.Target.Kind != kube.KindPod {
				fmt.Fprintf(cmd.ErrOrStderr(), "tapview: no running pod matches yet; waiting for one (Ctrl-C to stop)\n")
			}
			inputs := make([]input, len(srcs))
			for i, src := range srcs {
				inputs[i] = input{src: src, live: true}
			}
			cmd.SetContext(ctx)
			return runSession(cmd, inputs, &f)
		},
	}
	a.add(cmd.Flags())
	f.add(cmd)
	return cmd
}

// podOwnerKey is the context key of a session's pod owner function.
type podOwnerKey struct{}

// withPodOwner records how the session's sources name their pods, so
// the decoder (built far from the command, see runPipeline) can put pod
// and namespace on flows and exchanges. It travels in the context
// because sources are wrapped (recording with -w) on the way there.
func withPodOwner(ctx context.Context, owner func(source string) (pod, namespace string)) context.Context {
	return context.WithValue(ctx, podOwnerKey{}, owner)
}

// podOwnerFrom returns the owner function of the session, nil outside
// attach.
func podOwnerFrom(ctx context.Context) func(source string) (pod, namespace string) {
	f, _ := ctx.Value(podOwnerKey{}).(func(source string) (pod, namespace string))
	return f
}
