package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodNetwork(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	cases := []struct {
		name    string
		spec    corev1.PodSpec
		ip      string
		sidecar bool
		ok      bool
	}{
		{"istio", corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: "istio-proxy"}}}, "10.1.2.3", true, true},
		{"kuma native sidecar", corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}},
			InitContainers: []corev1.Container{{Name: "kuma-sidecar", RestartPolicy: &always}}}, "10.1.2.4", true, true},
		{"plain", corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}, "fd00::5", false, true},
		{"no ip yet", corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy"}}}, "", false, false},
	}
	for _, c := range cases {
		p := &PodSource{pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: c.spec,
			Status: corev1.PodStatus{PodIP: c.ip}}}
		ip, sidecar, ok := p.PodNetwork()
		if ok != c.ok || sidecar != c.sidecar || (ok && ip.String() != c.ip) {
			t.Errorf("%s: PodNetwork() = %v, %v, %v", c.name, ip, sidecar, ok)
		}
	}
}
