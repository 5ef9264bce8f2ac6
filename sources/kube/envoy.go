package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/envoyadmin"
)

// Mesh sidecars tapview knows, and where their Envoy admin listens (on
// the pod's loopback, which port-forward reaches).
const (
	istioSidecar = "istio-proxy"
	kumaSidecar  = "kuma-sidecar"
	// istioAdminPort is Istio's ProxyAdminPort default; a pod may
	// change it with proxyAdminPort in the proxy.istio.io/config
	// annotation.
	istioAdminPort   = 15000
	istioProxyConfig = "proxy.istio.io/config"
	// kumaAdminPort is Kuma's bootstrap adminPort default; the
	// kuma.io/envoy-admin-port annotation overrides it per pod.
	kumaAdminPort       = 9901
	kumaAdminAnnotation = "kuma.io/envoy-admin-port"
)

// sidecar is an Envoy found in a pod.
type sidecar struct {
	container string
	mesh      string // "istio", "kuma", or "" for -c with --admin-port
	port      int
}

// findSidecar locates the pod's Envoy and its admin port: the container
// named by -c (or the first known sidecar, in containers or, for native
// sidecars, restartable init containers), with the port from --admin-port,
// the mesh's pod annotation, or the mesh default.
func findSidecar(pod *corev1.Pod, container string, adminPort int) (sidecar, error) {
	names := map[string]bool{}
	for _, c := range pod.Spec.Containers {
		names[c.Name] = true
	}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			names[c.Name] = true
		}
	}
	sc := sidecar{container: container}
	switch {
	case container != "" && !names[container]:
		return sc, fmt.Errorf("pod %s/%s has no container %q (it has %s)", pod.Namespace, pod.Name, container, strings.Join(sortedKeys(names), ", "))
	case container == "" && names[istioSidecar]:
		sc.container = istioSidecar
	case container == "" && names[kumaSidecar]:
		sc.container = kumaSidecar
	case container == "":
		return sc, fmt.Errorf("pod %s/%s has no Envoy sidecar (looked for containers %s and %s)\nuse --via ephemeral, or name another Envoy with -c CONTAINER --admin-port PORT", pod.Namespace, pod.Name, istioSidecar, kumaSidecar)
	}
	switch sc.container {
	case istioSidecar:
		sc.mesh, sc.port = "istio", istioAdminPort
		if p, err := istioAnnotatedPort(pod.Annotations[istioProxyConfig]); err != nil {
			return sc, fmt.Errorf("pod %s/%s: annotation %s: %w", pod.Namespace, pod.Name, istioProxyConfig, err)
		} else if p > 0 {
			sc.port = p
		}
	case kumaSidecar:
		sc.mesh, sc.port = "kuma", kumaAdminPort
		if v := pod.Annotations[kumaAdminAnnotation]; v != "" {
			p, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || p < 1 || p > 65535 {
				return sc, fmt.Errorf("pod %s/%s: annotation %s=%q is not a port", pod.Namespace, pod.Name, kumaAdminAnnotation, v)
			}
			sc.port = p
		}
	}
	if adminPort > 0 {
		sc.port = adminPort
	}
	if sc.port == 0 {
		return sc, fmt.Errorf("container %s of pod %s/%s is not a known mesh sidecar: give its Envoy admin port with --admin-port", sc.container, pod.Namespace, pod.Name)
	}
	return sc, nil
}

// istioAnnotatedPort reads proxyAdminPort from a proxy.istio.io/config
// annotation (ProxyConfig as YAML); 0 when it is not set.
func istioAnnotatedPort(v string) (int, error) {
	if strings.TrimSpace(v) == "" {
		return 0, nil
	}
	var pc struct {
		ProxyAdminPort int `yaml:"proxyAdminPort"`
	}
	if err := yaml.Unmarshal([]byte(v), &pc); err != nil {
		return 0, fmt.Errorf("not ProxyConfig YAML: %w", err)
	}
	if pc.ProxyAdminPort < 0 || pc.ProxyAdminPort > 65535 {
		return 0, fmt.Errorf("proxyAdminPort %d is not a port", pc.ProxyAdminPort)
	}
	return pc.ProxyAdminPort, nil
}

// captureEnvoy port-forwards to the pod's Envoy admin port and streams
// its /tap traces.
func (s *Session) captureEnvoy(ctx context.Context, pod *corev1.Pod, em *podEmitter) error {
	if s.fwd == nil {
		return errors.New("kube: no REST configuration for port-forward streams")
	}
	sc, err := findSidecar(pod, s.opts.Target.Container, s.opts.Envoy.AdminPort)
	if err != nil {
		return err
	}
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	var addr string
	var lost <-chan error
	err = s.setup(ctx, func() error {
		var err error
		addr, lost, err = s.fwd.Forward(fctx, pod.Namespace, pod.Name, sc.port, newLineNotes(em, "port-forward", 10))
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("reaching the Envoy admin port %d of %s/%s: %w", sc.port, pod.Namespace, pod.Name, err)
	}
	o := s.opts.Envoy
	src, err := envoyadmin.New(envoyadmin.Config{
		URL: "http://" + addr, ConfigID: o.ConfigID, Match: o.Match, Streaming: o.Streaming,
		MaxBytes: o.MaxBytes, BodyAsString: o.BodyAsString, Client: &http.Client{}, Name: em.name,
	})
	if err != nil {
		return err
	}
	em.note(sources.Info, "port-forward", fmt.Sprintf("forwarding %s to %s's Envoy admin port %d (%s)", addr, sc.container, sc.port, pod.Name))
	runErr := make(chan error, 1)
	go func() { runErr <- src.Run(fctx, em) }()
	select {
	case err = <-runErr:
	case err = <-lost:
		stop()
		<-runErr
		if err == nil {
			return nil
		}
		return fmt.Errorf("port-forward to %s/%s ended: %w", pod.Namespace, pod.Name, err)
	}
	if err != nil {
		return envoyHint(err, sc, o.ConfigID)
	}
	return nil
}

// envoyHint adds what to configure in the mesh when the sidecar has no
// tap filter for the config id (Envoy answers 400 "Unknown config id", or
// 404 when no tap is configured at all).
func envoyHint(err error, sc sidecar, id string) error {
	msg := err.Error()
	if !strings.Contains(msg, "Unknown config id") && !strings.Contains(msg, "answered 404") {
		return err
	}
	var how string
	switch sc.mesh {
	case "istio":
		how = fmt.Sprintf(`Istio installs no tap filter by default. Add one with an EnvoyFilter that inserts
envoy.filters.http.tap (type envoy.extensions.filters.http.tap.v3.Tap) before
envoy.filters.http.router on the sidecar's HTTP connection managers, with
common_config: {admin_config: {config_id: %q}}; then run attach again.`, id)
	case "kuma":
		how = fmt.Sprintf(`Kuma installs no tap filter by default. Add envoy.filters.http.tap with
common_config: {admin_config: {config_id: %q}} to the sidecar's HTTP connection
managers with a MeshProxyPatch (or ProxyTemplate); then run attach again.`, id)
	default:
		how = fmt.Sprintf(`Add a tap filter (envoy.filters.http.tap) with common_config.admin_config.config_id %q
to this Envoy, or pass the id it has with --config-id.`, id)
	}
	return fmt.Errorf("%w\n%s\nOr capture packets instead: --via ephemeral", err, how)
}
