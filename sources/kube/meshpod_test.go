package kube

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
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
		ip, sidecar, _, ok := p.PodNetwork()
		if ok != c.ok || sidecar != c.sidecar || (ok && ip.String() != c.ip) {
			t.Errorf("%s: PodNetwork() = %v, %v, %v", c.name, ip, sidecar, ok)
		}
	}
}

// TestClusterRanges reads node pod CIDRs and ServiceCIDRs, and gives the
// ranges to the pod's mesh context; a cluster that refuses gives none.
func TestClusterRanges(t *testing.T) {
	c := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{PodCIDRs: []string{"10.244.0.0/24", "fd00:10:244::/64"}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24"}},
		&networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes"}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.96.0.0/12", "10.96.0.0/12"}}},
	)
	got := clusterRanges(context.Background(), clientset{c})
	want := []string{"10.244.0.0/24", "fd00:10:244::/64", "10.244.1.0/24", "10.96.0.0/12"}
	if len(got) != len(want) {
		t.Fatalf("ranges %v, want %v", got, want)
	}
	for i, w := range want {
		if got[i].String() != w {
			t.Errorf("range %d = %v, want %s", i, got[i], w)
		}
	}
	p := &PodSource{s: &Session{ranges: got}, pod: &corev1.Pod{Status: corev1.PodStatus{PodIP: "10.244.0.7"}}}
	if _, _, r, ok := p.PodNetwork(); !ok || len(r) != 4 {
		t.Errorf("PodNetwork ranges %v", r)
	}
	if r := clusterRanges(context.Background(), clientset{fake.NewClientset()}); len(r) != 0 {
		t.Errorf("empty cluster: %v", r)
	}
}

// TestClusterNamespaces: the pod's own namespace first, then what the
// API lists; a cluster that refuses the list still gives the pod's own.
func TestClusterNamespaces(t *testing.T) {
	c := fake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "payments"}},
	)
	s := &Session{namespaces: clusterNamespaces(context.Background(), clientset{c})}
	p := &PodSource{s: s, pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}}
	got := p.ClusterNamespaces()
	if len(got) != 3 || got[0] != "shop" || !slices.Contains(got, "payments") || !slices.Contains(got, "default") {
		t.Errorf("ClusterNamespaces() = %v, want shop first, then default and payments once each", got)
	}
	denied := fake.NewClientset()
	denied.PrependReactor("list", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("namespaces"), "", errors.New("no"))
	})
	p = &PodSource{s: &Session{namespaces: clusterNamespaces(context.Background(), clientset{denied})},
		pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}}}
	if got := p.ClusterNamespaces(); len(got) != 1 || got[0] != "shop" {
		t.Errorf("forbidden list: ClusterNamespaces() = %v, want [shop]", got)
	}
}

// TestRangesRBAC: deploy/rbac-cluster-ranges.yaml grants exactly the
// lists clusterRanges and clusterNamespaces make.
func TestRangesRBAC(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "rbac-cluster-ranges.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var role struct {
		Kind  string
		Rules []struct {
			APIGroups []string `yaml:"apiGroups"`
			Resources []string
			Verbs     []string
		}
	}
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if doc["kind"] == "ClusterRole" {
			raw, _ := yaml.Marshal(doc)
			if err := yaml.Unmarshal(raw, &role); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := map[string]bool{}
	for _, r := range role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					got[g+"/"+res+":"+v] = true
				}
			}
		}
	}
	want := map[string]bool{"/nodes:list": true, "networking.k8s.io/servicecidrs:list": true, "/namespaces:list": true}
	if len(got) != len(want) {
		t.Fatalf("ClusterRole grants %v, want exactly %v", got, want)
	}
	for k := range want {
		if !got[k] {
			t.Errorf("ClusterRole lacks %s", k)
		}
	}
}
