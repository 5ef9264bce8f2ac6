package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Permission is one verb on one resource that attach needs. The list of
// them (Required) is the single source of truth for both the
// SelfSubjectAccessReview checks made before anything changes in the
// cluster and deploy/rbac.yaml, which a test compares against it.
type Permission struct {
	Verb        string
	Group       string // "" for the core group
	Resource    string
	Subresource string
}

// String names the permission the way `kubectl auth can-i` takes it:
// "create pods/attach", "get deployments.apps".
func (p Permission) String() string {
	r := p.Resource
	if p.Group != "" {
		r += "." + p.Group
	}
	if p.Subresource != "" {
		r += "/" + p.Subresource
	}
	return p.Verb + " " + r
}

// Resource names the rule resource as RBAC writes it ("pods/attach").
func (p Permission) RuleResource() string {
	if p.Subresource != "" {
		return p.Resource + "/" + p.Subresource
	}
	return p.Resource
}

var (
	podsRead = []Permission{
		{Verb: "get", Resource: "pods"},
		{Verb: "list", Resource: "pods"},
		{Verb: "watch", Resource: "pods"},
	}
	deploymentGet = Permission{Verb: "get", Group: "apps", Resource: "deployments"}
	// Streaming subresources need create (SPDY POST) and get (WebSocket
	// GET); since Kubernetes 1.35 WebSocket upgrades also need create.
	attachPerms = []Permission{
		{Verb: "patch", Resource: "pods", Subresource: "ephemeralcontainers"},
		{Verb: "create", Resource: "pods", Subresource: "attach"},
		{Verb: "get", Resource: "pods", Subresource: "attach"},
	}
	portForwardPerms = []Permission{
		{Verb: "create", Resource: "pods", Subresource: "portforward"},
		{Verb: "get", Resource: "pods", Subresource: "portforward"},
	}
)

// Required returns what attach needs: in the target pods' namespace (or
// cluster-wide with -A), and, for ViaAgent, in the agents' namespace
// (finding the agent on a node and port-forwarding to it).
func Required(via Via, kind TargetKind) (target, agentNS []Permission) {
	target = append(target, podsRead...)
	if kind == KindDeployment {
		target = append(target, deploymentGet)
	}
	switch via {
	case ViaEphemeral:
		target = append(target, attachPerms...)
	case ViaEnvoy:
		target = append(target, portForwardPerms...)
	case ViaAgent:
		agentNS = append(agentNS, Permission{Verb: "list", Resource: "pods"})
		agentNS = append(agentNS, portForwardPerms...)
	}
	return target, agentNS
}

// access checks permissions with SelfSubjectAccessReview.
type access struct {
	reviews AccessReviewer
}

// missing returns the permissions of perms the caller lacks in ns ("" is
// every namespace). An error means the check itself could not be made.
func (a access) missing(ctx context.Context, ns string, perms []Permission) ([]Permission, error) {
	var out []Permission
	for _, p := range perms {
		r := &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authv1.ResourceAttributes{
				Namespace: ns, Verb: p.Verb, Group: p.Group, Resource: p.Resource, Subresource: p.Subresource,
			},
		}}
		res, err := a.reviews.Create(ctx, r, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("checking %s with a SelfSubjectAccessReview: %w", p, err)
		}
		if !res.Status.Allowed {
			out = append(out, p)
		}
	}
	return out, nil
}

// AccessError says which permissions are missing where, and what to do.
type AccessError struct {
	Namespace string // "" means every namespace (-A)
	Missing   []Permission
	// Agent is set when the permissions are needed in the agents'
	// namespace rather than the pods'.
	Agent bool
}

func (e *AccessError) Error() string {
	where := "in namespace " + e.Namespace
	if e.Namespace == "" {
		where = "in every namespace (-A)"
	}
	names := make([]string, len(e.Missing))
	for i, p := range e.Missing {
		names[i] = p.String()
	}
	sort.Strings(names)
	var b strings.Builder
	if len(names) == 1 {
		fmt.Fprintf(&b, "missing permission: %s %s", names[0], where)
	} else {
		fmt.Fprintf(&b, "missing permissions %s: %s", where, strings.Join(names, ", "))
	}
	role := "the Role tapview-attach in deploy/rbac.yaml"
	switch {
	case e.Agent:
		role = "the Role tapview-attach-agent in deploy/rbac.yaml (agents' namespace)"
	case e.Namespace == "":
		role = "the ClusterRole tapview-attach-all-namespaces in deploy/rbac.yaml"
	}
	fmt.Fprintf(&b, "\nask a cluster admin to bind you %s; check with: kubectl auth can-i %s", role, e.Missing[0].canI(e.Namespace))
	return b.String()
}

// canI is the `kubectl auth can-i` arguments for p.
func (p Permission) canI(ns string) string {
	s := p.Verb + " " + p.RuleResource()
	if p.Group != "" {
		s = p.Verb + " " + p.Resource + "." + p.Group
	}
	if ns == "" {
		return s + " -A"
	}
	return s + " -n " + ns
}
