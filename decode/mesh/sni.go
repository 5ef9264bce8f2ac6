package mesh

import (
	"strconv"
	"strings"
)

// Service is the destination a mesh names in the SNI of its mTLS
// connections, so a network-leg flow can be matched with the request that
// caused it and shown by name.
type Service struct {
	Host string // e.g. "reviews.default.svc.cluster.local"
	Port uint16 // service port, 0 when the SNI does not say
	// Subset is Istio's DestinationRule subset ("v1"), "" when none.
	Subset string
}

// ParseSNI reads a mesh SNI: Istio's "outbound_.9080_.v1_.reviews.default.svc.cluster.local"
// (and the older "inbound_." form) or Kuma's tag form
// "backend_kuma-demo_svc_3001{mesh=default}". ok is false for any other
// server name, which is then an ordinary host name.
func ParseSNI(sni string) (Service, bool) {
	for _, prefix := range []string{"outbound_.", "inbound_."} {
		rest, ok := strings.CutPrefix(sni, prefix)
		if !ok {
			continue
		}
		port, rest, ok := strings.Cut(rest, "_.")
		if !ok {
			return Service{}, false
		}
		subset, host, ok := strings.Cut(rest, "_.")
		if !ok || host == "" {
			return Service{}, false
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return Service{}, false
		}
		return Service{Host: host, Port: uint16(n), Subset: subset}, true
	}
	if i := strings.Index(sni, "{mesh="); i > 0 && strings.HasSuffix(sni, "}") {
		svc := Service{Host: sni[:i]}
		// Kuma's Kubernetes service tags end in the port:
		// name_namespace_svc_port.
		if j := strings.LastIndexByte(svc.Host, '_'); j > 0 {
			if n, err := strconv.ParseUint(svc.Host[j+1:], 10, 16); err == nil {
				svc.Port = uint16(n)
			}
		}
		return svc, true
	}
	return Service{}, false
}

// meshSNI reports a server name only a mesh sidecar sends.
func meshSNI(sni string) bool {
	_, ok := ParseSNI(sni)
	return ok
}

// istioALPN reports Istio's own ALPN protocols, which sidecars offer on
// mTLS connections between them ("istio-peer-exchange", "istio-h2",
// "istio-http/1.1", "istio").
func istioALPN(alpn []string) bool {
	for _, p := range alpn {
		if p == "istio" || strings.HasPrefix(p, "istio-") {
			return true
		}
	}
	return false
}

// sameService reports whether a request's host names the service of a
// mesh SNI: equal, or the short form of it ("reviews" and
// "reviews.default" for "reviews.default.svc.cluster.local").
func sameService(host, svc string) bool {
	if host == "" || svc == "" {
		return false
	}
	host, svc = strings.ToLower(host), strings.ToLower(svc)
	if strings.ContainsRune(svc, '_') {
		// Kuma's tag form name_namespace_svc_port names
		// name.namespace.svc.
		if i := strings.LastIndexByte(svc, '_'); i > 0 {
			if _, err := strconv.ParseUint(svc[i+1:], 10, 16); err == nil {
				svc = svc[:i]
			}
		}
		svc = strings.ReplaceAll(svc, "_", ".")
	}
	if host == svc {
		return true
	}
	return strings.HasPrefix(svc, host+".") || strings.HasPrefix(host, svc+".")
}
