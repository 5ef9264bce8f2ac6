package kube

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// pod returns a pod in phase with labels and containers.
func pod(ns, name string, phase corev1.PodPhase, lbls map[string]string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls}, Status: corev1.PodStatus{Phase: phase}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
	}
	return p
}

// start runs Start on a fake clientset holding objs, every permission
// granted.
func start(t *testing.T, o Options, objs ...runtime.Object) (*Session, error) {
	t.Helper()
	cs, _ := fakeClient()
	for _, obj := range objs {
		if err := cs.Tracker().Add(obj); err != nil {
			t.Fatal(err)
		}
	}
	o.Client = clientset{cs}
	return Start(context.Background(), o)
}

func TestSelectionByNameSelectorDeployment(t *testing.T) {
	web := map[string]string{"app": "web"}
	objs := []runtime.Object{
		pod("shop", "web-2", corev1.PodRunning, web, "app"),
		pod("shop", "web-1", corev1.PodRunning, web, "app"),
		pod("shop", "web-3", corev1.PodPending, web, "app"),
		pod("shop", "db-1", corev1.PodRunning, map[string]string{"app": "db"}, "db"),
		pod("other", "web-9", corev1.PodRunning, web, "app"),
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: web}}},
	}
	for _, c := range []struct {
		name  string
		t     Target
		want  string
		watch bool
	}{
		{"named", Target{Kind: KindPod, Names: []string{"web-2", "db-1", "web-2"}, Namespace: "shop"}, "shop/web-2 shop/db-1", false},
		{"selector skips pods not running", Target{Kind: KindSelector, Selector: "app=web", Namespace: "shop"}, "shop/web-1 shop/web-2", true},
		{"selector in every namespace", Target{Kind: KindSelector, Selector: "app=web", AllNamespaces: true}, "other/web-9 shop/web-1 shop/web-2", true},
		{"set-based selector", Target{Kind: KindSelector, Selector: "app in (db, cache)", Namespace: "shop"}, "shop/db-1", true},
		{"deployment", Target{Kind: KindDeployment, Names: []string{"web"}, Namespace: "shop"}, "shop/web-1 shop/web-2", true},
	} {
		s, err := start(t, Options{Target: c.t}, objs...)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := strings.Join(s.Pods(), " "); got != c.want {
			t.Errorf("%s: pods %q, want %q", c.name, got, c.want)
		}
		srcs := s.Sources()
		_, watching := srcs[len(srcs)-1].(*watchSource)
		if watching != c.watch {
			t.Errorf("%s: watcher %v, want %v", c.name, watching, c.watch)
		}
	}
}

func TestSelectionErrors(t *testing.T) {
	web := map[string]string{"app": "web"}
	pending := pod("shop", "web-3", corev1.PodPending, web, "app")
	pending.Status.Reason = "Unschedulable"
	objs := []runtime.Object{pod("shop", "web-1", corev1.PodRunning, web, "app", "istio-proxy"), pending, pod("shop", "web-2", corev1.PodRunning, web, "app")}
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{Target: Target{Kind: KindPod, Names: []string{"web-3"}, Namespace: "shop"}}, "pod shop/web-3 is Pending (Unschedulable), not Running: attach needs a running pod"},
		{Options{Target: Target{Kind: KindPod, Names: []string{"nope"}, Namespace: "shop"}}, "pod nope not found in namespace shop"},
		{Options{Target: Target{Kind: KindPod, Names: []string{"web-1"}, Namespace: "shop", Container: "sidecar"}}, `pod shop/web-1 has no container "sidecar" (it has app, istio-proxy)`},
		{Options{Target: Target{Kind: KindDeployment, Names: []string{"api"}, Namespace: "shop"}}, "deployment api not found in namespace shop"},
		{Options{Target: Target{Kind: KindSelector, Selector: "app=web", Namespace: "shop"}, MaxPods: 1}, "2 pods match (-l app=web), more than --max-pods 1"},
		{Options{Target: Target{Kind: KindSelector, Selector: "app=", Namespace: "shop"}}, ""},
		{Options{Target: Target{Kind: KindSelector, Selector: "app==x=y", Namespace: "shop"}}, `-l "app==x=y"`},
		{Options{Target: Target{Kind: KindPod, Names: []string{"web-1"}}}, "no namespace: use -n NAMESPACE"},
		{Options{Via: ViaEnvoy, Target: Target{Kind: KindPod, Names: []string{"web-2"}, Namespace: "shop"}}, ""},
		{Options{Via: ViaEnvoy, Target: Target{Kind: KindPod, Names: []string{"web-2"}, Namespace: "shop", Container: "app"}}, "not a known mesh sidecar: give its Envoy admin port with --admin-port"},
	} {
		_, err := start(t, c.o, objs...)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.o.Target, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v:\n got %v\nwant %q", c.o.Target, err, c.want)
		}
	}
	// With --via envoy a selector captures only pods with a sidecar.
	s, err := start(t, Options{Via: ViaEnvoy, Target: Target{Kind: KindSelector, Selector: "app=web", Namespace: "shop"}}, objs...)
	if err != nil || strings.Join(s.Pods(), " ") != "shop/web-1" {
		t.Errorf("envoy selector: %v %v", s.Pods(), err)
	}
}

func TestFindSidecarAdminPort(t *testing.T) {
	p := pod("shop", "web-1", corev1.PodRunning, nil, "app", "istio-proxy")
	if sc, err := findSidecar(p, "", 0); err != nil || sc.port != 15000 || sc.container != "istio-proxy" {
		t.Errorf("istio default: %+v %v", sc, err)
	}
	p.Annotations = map[string]string{"proxy.istio.io/config": "proxyAdminPort: 15100\nconcurrency: 2\n"}
	if sc, _ := findSidecar(p, "", 0); sc.port != 15100 {
		t.Errorf("istio annotation: port %d, want 15100", sc.port)
	}
	if sc, _ := findSidecar(p, "", 7000); sc.port != 7000 {
		t.Errorf("--admin-port: port %d, want 7000", sc.port)
	}
	k := pod("shop", "web-1", corev1.PodRunning, nil, "app")
	always := corev1.ContainerRestartPolicyAlways
	k.Spec.InitContainers = []corev1.Container{{Name: "kuma-sidecar", RestartPolicy: &always}}
	if sc, err := findSidecar(k, "", 0); err != nil || sc.port != 9901 || sc.mesh != "kuma" {
		t.Errorf("kuma native sidecar: %+v %v", sc, err)
	}
	k.Annotations = map[string]string{"kuma.io/envoy-admin-port": "9902"}
	if sc, _ := findSidecar(k, "", 0); sc.port != 9902 {
		t.Errorf("kuma annotation: port %d", sc.port)
	}
	k.Annotations["kuma.io/envoy-admin-port"] = "http"
	if _, err := findSidecar(k, "", 0); err == nil || !strings.Contains(err.Error(), "is not a port") {
		t.Errorf("bad kuma annotation: %v", err)
	}
	if _, err := findSidecar(pod("shop", "web-1", corev1.PodRunning, nil, "app"), "", 0); err == nil || !strings.Contains(err.Error(), "no Envoy sidecar") {
		t.Errorf("no sidecar: %v", err)
	}
}

func TestAgentFilter(t *testing.T) {
	p := pod("shop", "web-1", corev1.PodRunning, nil, "app")
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.1.0.7"}, {IP: "fd00::7"}}
	f, err := agentFilter(p, "tcp port 80")
	if err != nil || f != "(host 10.1.0.7 or host fd00::7) and (tcp port 80)" {
		t.Errorf("filter %q %v", f, err)
	}
	p.Spec.HostNetwork = true
	if _, err := agentFilter(p, ""); err == nil || !strings.Contains(err.Error(), "host network") {
		t.Errorf("host network: %v", err)
	}
}
