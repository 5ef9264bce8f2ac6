package mesh

import (
	"net/netip"
	"strings"

	"github.com/tapview/tapview/decode"
)

// Istio's iptables redirect ports and the sidecar's own port range.
const (
	// DefaultInboundPort is where Istio redirects traffic entering the
	// pod (Envoy's virtualInbound listener).
	DefaultInboundPort = 15006
	// DefaultOutboundPort is where Istio redirects traffic leaving the
	// pod (Envoy's virtualOutbound listener).
	DefaultOutboundPort = 15001
	// dnsCapturePort is Istio's DNS proxy, where port 53 is redirected.
	dnsCapturePort = 15053
	// proxyPortLow and proxyPortHigh bound the ports the sidecar and its
	// agent listen on (admin 15000, status 15020/15021, stats 15090).
	proxyPortLow  = 15000
	proxyPortHigh = 15090
)

// PodInfo is what the Kubernetes API tells about the captured pod. The
// attach command fills it; without it (capture files) everything is
// inferred from the traffic.
type PodInfo struct {
	// IP is the pod's address; the zero value means unknown.
	IP netip.Addr
	// Sidecar says the pod runs a mesh sidecar. With PodInfo given it is
	// authoritative: false means no leg labels at all.
	Sidecar bool
	// InboundPort and OutboundPort are the redirect ports; 0 means
	// DefaultInboundPort and DefaultOutboundPort.
	InboundPort, OutboundPort uint16
	// ClusterCIDRs are the pod and service ranges of the cluster. When
	// set, addresses outside them are external even if private (a VPC
	// database); when empty, private ranges count as inside.
	ClusterCIDRs []netip.Prefix
	// Namespaces are namespaces of the cluster (the pod's, and the
	// others when the API lists them), so that a Host such as
	// "reviews.shop" is known for service reviews in namespace shop
	// whatever its last label looks like.
	Namespaces []string
}

// withDefaults fills the redirect ports.
func (p PodInfo) withDefaults() PodInfo {
	if p.InboundPort == 0 {
		p.InboundPort = DefaultInboundPort
	}
	if p.OutboundPort == 0 {
		p.OutboundPort = DefaultOutboundPort
	}
	return p
}

// maxPodIPs bounds the pod addresses learnt from traffic (dual stack and
// a few mistakes at most).
const maxPodIPs = 8

// podView is what a Labeler knows about the pod: given or learnt.
type podView struct {
	info  PodInfo
	given bool // PodInfo came from the API: Sidecar is the truth
	mesh  bool // a sidecar is present (given, or evidence seen)
	ips   []netip.Addr
}

func newPodView(p *PodInfo) podView {
	if p == nil {
		return podView{info: PodInfo{}.withDefaults()}
	}
	v := podView{info: p.withDefaults(), given: true, mesh: p.Sidecar}
	if p.IP.IsValid() {
		v.ips = append(v.ips, p.IP.Unmap())
	}
	return v
}

func (v *podView) isPod(a netip.Addr) bool {
	a = a.Unmap()
	for _, ip := range v.ips {
		if ip == a {
			return true
		}
	}
	return false
}

func (v *podView) learnIP(a netip.Addr) {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsUnspecified() || v.isPod(a) || len(v.ips) >= maxPodIPs {
		return
	}
	v.ips = append(v.ips, a)
}

// isPassthroughSource reports Istio's inbound passthrough source address
// (127.0.0.6, ::6), from which the sidecar connects to the app so the
// app's own loopback traffic is never confused with it.
func isPassthroughSource(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is4() {
		return a == netip.AddrFrom4([4]byte{127, 0, 0, 6})
	}
	return a == netip.AddrFrom16([16]byte{15: 6})
}

// endpoints are the facts classification uses.
type endpoints struct {
	client, server netip.AddrPort
	sni            string
	alpn           []string
	// orig is the original destination of a connection the capture
	// shows redirected (see Wire), invalid otherwise.
	orig netip.AddrPort
}

// observe looks for sidecar evidence and learns pod addresses. It returns
// whether the flow itself is evidence.
func (v *podView) observe(ep endpoints) bool {
	sp := ep.server.Port()
	evidence := false
	switch {
	case ep.orig.IsValid():
		// Redirected by netfilter to a local port: a sidecar's iptables
		// rules, whatever the port.
		evidence = true
		v.learnIP(ep.client.Addr())
	case sp == v.info.OutboundPort:
		evidence = true
		v.learnIP(ep.client.Addr())
	case isPassthroughSource(ep.client.Addr()):
		evidence = true
		v.learnIP(ep.server.Addr())
	case sp == v.info.InboundPort:
		evidence = true
	case meshSNI(ep.sni) || istioALPN(ep.alpn):
		evidence = true
	}
	if evidence && !v.given {
		v.mesh = true
	}
	return evidence
}

// classify returns the leg and direction of a connection.
func (v *podView) classify(ep endpoints) (leg, dir string) {
	dir = v.direction(ep)
	if !v.mesh {
		return "", dir
	}
	c, s := ep.client.Addr().Unmap(), ep.server.Addr().Unmap()
	sp := ep.server.Port()
	switch {
	case meshSNI(ep.sni) || istioALPN(ep.alpn):
		return decode.LegNetwork, dir
	case ep.orig.IsValid(), isPassthroughSource(c), sp == v.info.InboundPort, sp == v.info.OutboundPort:
		return decode.LegApp, dir
	case c.IsLoopback() || s.IsLoopback():
		return decode.LegApp, dir
	case sp >= proxyPortLow && sp <= proxyPortHigh:
		return decode.LegApp, dir
	}
	return decode.LegNetwork, dir
}

// direction is inbound or outbound relative to the pod, "" when the
// connection says nothing about it (the sidecar talking to itself).
func (v *podView) direction(ep endpoints) string {
	c, s := ep.client.Addr().Unmap(), ep.server.Addr().Unmap()
	sp := ep.server.Port()
	switch {
	case isPassthroughSource(c), sp == v.info.InboundPort && v.mesh:
		return decode.DirInbound
	case sp == v.info.OutboundPort && v.mesh:
		return decode.DirOutbound
	case ep.orig.IsValid():
		// Redirected to the sidecar: the pod's own address as the
		// original destination is a connection into the pod.
		if v.isPod(ep.orig.Addr()) {
			return decode.DirInbound
		}
		return decode.DirOutbound
	case strings.HasPrefix(ep.sni, "inbound_."):
		return decode.DirInbound
	}
	cp, spod := v.isPod(c), v.isPod(s)
	switch {
	case spod && !cp:
		return decode.DirInbound
	case cp && !spod:
		return decode.DirOutbound
	case v.mesh && s.IsLoopback() && sp == dnsCapturePort:
		return decode.DirOutbound
	}
	return ""
}
