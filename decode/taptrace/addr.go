package taptrace

import (
	"net/netip"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// addrPort converts an Envoy socket address; pipes, internal addresses,
// named ports and host names give the zero value.
func addrPort(a *corev3.Address) netip.AddrPort {
	sa := a.GetSocketAddress()
	if sa == nil {
		return netip.AddrPort{}
	}
	ip, err := netip.ParseAddr(sa.GetAddress())
	if err != nil {
		return netip.AddrPort{}
	}
	port := sa.GetPortValue()
	if port > 65535 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port))
}

// stamp returns ts, or fallback when the trace did not record a time.
func stamp(ts *timestamppb.Timestamp, fallback time.Time) time.Time {
	if ts == nil || ts.CheckValid() != nil {
		return fallback
	}
	return ts.AsTime()
}

// podOf reads the pod and namespace from an Istio-style Envoy node id
// ("sidecar~10.1.2.3~name.namespace~namespace.svc.cluster.local", or
// "router~..." for gateways), which is how most mesh sidecars identify
// themselves; other node ids give empty strings.
func podOf(node string) (namespace, pod string) {
	parts := strings.Split(node, "~")
	if len(parts) != 4 || (parts[0] != "sidecar" && parts[0] != "router") {
		return "", ""
	}
	name, ns, ok := strings.Cut(parts[2], ".")
	if !ok || name == "" || ns == "" {
		return "", ""
	}
	return ns, name
}
