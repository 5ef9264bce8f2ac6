package kube

import (
	"context"
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// rangesTimeout bounds the best-effort range lookup, so a slow API server
// never delays the capture.
const rangesTimeout = 5 * time.Second

// clusterRanges reads the cluster's own address ranges: the pod ranges of
// its nodes (spec.podCIDRs) and its service ranges (ServiceCIDR objects,
// networking.k8s.io/v1). The mesh view uses them to tell in-cluster
// destinations from external ones even when both are private addresses.
// It is best effort: both lists are cluster-scoped reads that
// deploy/rbac-cluster-ranges.yaml grants, and without them (or on older
// clusters without ServiceCIDR) the view falls back to RFC 1918 and
// link-local heuristics, so errors only shorten the list.
func clusterRanges(ctx context.Context, c Client) []netip.Prefix {
	ctx, cancel := context.WithTimeout(ctx, rangesTimeout)
	defer cancel()
	var out []netip.Prefix
	add := func(s string) {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	if nodes, err := c.Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		for _, n := range nodes.Items {
			for _, cidr := range n.Spec.PodCIDRs {
				add(cidr)
			}
			if len(n.Spec.PodCIDRs) == 0 {
				add(n.Spec.PodCIDR)
			}
		}
	}
	if scs, err := c.ServiceCIDRs().List(ctx, metav1.ListOptions{}); err == nil {
		for _, sc := range scs.Items {
			for _, cidr := range sc.Spec.CIDRs {
				add(cidr)
			}
		}
	}
	return dedupPrefixes(out)
}

// maxNamespaces bounds the namespace names kept for the mesh view: a
// cluster with more is rare, and the list only refines name matching.
const maxNamespaces = 10000

// clusterNamespaces lists the cluster's namespace names, so the mesh view
// knows "reviews.shop" as service reviews in namespace shop even though
// "shop" is also a public top-level domain. Best effort like
// clusterRanges (a cluster-scoped list that rbac-cluster-ranges.yaml
// grants): without it the view still knows the captured pod's own
// namespace, which the caller adds.
func clusterNamespaces(ctx context.Context, c Client) []string {
	ctx, cancel := context.WithTimeout(ctx, rangesTimeout)
	defer cancel()
	l, err := c.Namespaces().List(ctx, metav1.ListOptions{Limit: maxNamespaces})
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(l.Items))
	for _, n := range l.Items {
		if n.Name != "" && len(out) < maxNamespaces {
			out = append(out, n.Name)
		}
	}
	return out
}

func dedupPrefixes(ps []netip.Prefix) []netip.Prefix {
	seen := make(map[netip.Prefix]bool, len(ps))
	out := ps[:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
