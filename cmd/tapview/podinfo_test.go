package main

import (
	"context"
	"net/netip"
	"testing"

	"github.com/tapview/tapview/sources"
)

type podNetSource struct {
	ip      string
	sidecar bool
}

func (p podNetSource) Name() string                               { return "shop/web-1" }
func (p podNetSource) Run(context.Context, sources.Emitter) error { return nil }
func (p podNetSource) ClusterNamespaces() []string                { return []string{"shop", "payments"} }
func (p podNetSource) PodNetwork() (netip.Addr, bool, []netip.Prefix, bool) {
	a, err := netip.ParseAddr(p.ip)
	return a, p.sidecar, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16")}, err == nil
}

// TestPodContextFromAttach: the attach source's pod IP, sidecar and the
// cluster's namespaces reach the mesh view, also through -w's recording wrapper.
func TestPodContextFromAttach(t *testing.T) {
	rec := &recorder{}
	in := rec.wrap([]input{{src: podNetSource{ip: "10.1.2.3", sidecar: true}, live: true}})
	p := pod(in)
	if p == nil || p.IP != netip.MustParseAddr("10.1.2.3") || !p.Sidecar || p.InboundPort != 15006 || p.OutboundPort != 15001 ||
		len(p.ClusterCIDRs) != 1 || len(p.Namespaces) != 2 || p.Namespaces[0] != "shop" {
		t.Fatalf("pod context %+v", p)
	}
	if pod([]input{{src: podNetSource{ip: ""}}}) != nil {
		t.Fatal("a pod without an IP gives no context")
	}
	if pod([]input{{src: podNetSource{ip: "10.0.0.1"}}, {src: podNetSource{ip: "10.0.0.2"}}}) != nil {
		t.Fatal("two pods: no single pod's view applies")
	}
}
