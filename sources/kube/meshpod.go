package kube

import (
	"net/netip"
	"slices"
)

// PodNetwork tells what the mesh view needs about the captured pod, from
// the API rather than guessed from traffic: its IP, whether it runs an
// Envoy sidecar (Istio istio-proxy or Kuma/Kong Mesh kuma-sidecar, as a
// container or a native sidecar init container), and the cluster's pod
// and service ranges when they could be read. ok is false when the pod
// has no IP yet.
func (p *PodSource) PodNetwork() (ip netip.Addr, sidecar bool, ranges []netip.Prefix, ok bool) {
	ip, err := netip.ParseAddr(p.pod.Status.PodIP)
	if err != nil {
		return netip.Addr{}, false, nil, false
	}
	_, err = findSidecar(p.pod, "", 0)
	if p.s != nil {
		ranges = p.s.ranges
	}
	return ip, err == nil, ranges, true
}

// ClusterNamespaces lists the namespaces the mesh view should take as
// in-cluster name suffixes: the captured pod's own, then every namespace
// the API listed (when the user may list them).
func (p *PodSource) ClusterNamespaces() []string {
	var out []string
	if p.pod != nil && p.pod.Namespace != "" {
		out = append(out, p.pod.Namespace)
	}
	if p.s != nil {
		for _, n := range p.s.namespaces {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}
