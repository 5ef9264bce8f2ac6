package kube

import "net/netip"

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
