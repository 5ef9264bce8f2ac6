package kube

import (
	"bytes"
	"context"
	"os"
	"sort"
	"strings"
	"testing"

	authv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"
)

// fakeClient returns a fake clientset whose SelfSubjectAccessReviews
// deny the permissions in denied ("verb resource/sub") and record every
// review as "namespace verb group resource subresource".
func fakeClient(denied ...string) (*fake.Clientset, *[]string) {
	cs := fake.NewClientset()
	var seen []string
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authv1.SelfSubjectAccessReview).DeepCopy()
		ra := r.Spec.ResourceAttributes
		seen = append(seen, strings.Join([]string{ra.Namespace, ra.Verb, ra.Group, ra.Resource, ra.Subresource}, " "))
		p := Permission{Verb: ra.Verb, Group: ra.Group, Resource: ra.Resource, Subresource: ra.Subresource}
		r.Status.Allowed = true
		for _, d := range denied {
			if d == p.Verb+" "+p.RuleResource() {
				r.Status.Allowed = false
			}
		}
		return true, r, nil
	})
	return cs, &seen
}

func TestAccessErrorNamesVerbResourceAndRole(t *testing.T) {
	cs, _ := fakeClient("patch pods/ephemeralcontainers")
	_, err := Start(context.Background(), Options{Client: clientset{cs}, Target: Target{Kind: KindPod, Names: []string{"web-1"}, Namespace: "shop"}})
	want := "missing permission: patch pods/ephemeralcontainers in namespace shop\n" +
		"ask a cluster admin to bind you the Role tapview-attach in deploy/rbac.yaml; check with: kubectl auth can-i patch pods/ephemeralcontainers -n shop"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}

	cs, _ = fakeClient("get deployments", "list pods")
	_, err = Start(context.Background(), Options{Client: clientset{cs}, Target: Target{Kind: KindDeployment, Names: []string{"web"}, Namespace: "shop"}})
	if err == nil || !strings.HasPrefix(err.Error(), "missing permissions in namespace shop: get deployments.apps, list pods\n") ||
		!strings.Contains(err.Error(), "kubectl auth can-i list pods -n shop") {
		t.Fatalf("two missing: %v", err)
	}

	cs, _ = fakeClient("watch pods")
	_, err = Start(context.Background(), Options{Client: clientset{cs}, Target: Target{Kind: KindSelector, Selector: "app=web", AllNamespaces: true}})
	if err == nil || !strings.Contains(err.Error(), "watch pods in every namespace (-A)") || !strings.Contains(err.Error(), "ClusterRole tapview-attach-all-namespaces") ||
		!strings.Contains(err.Error(), "can-i watch pods -A") {
		t.Fatalf("-A: %v", err)
	}

	cs, _ = fakeClient("create pods/portforward")
	_, err = Start(context.Background(), Options{Client: clientset{cs}, Via: ViaAgent, Target: Target{Kind: KindPod, Names: []string{"web-1"}, Namespace: "shop"}})
	if err == nil || !strings.Contains(err.Error(), "create pods/portforward in namespace tapview") || !strings.Contains(err.Error(), "tapview-attach-agent") {
		t.Fatalf("agent: %v", err)
	}
}

func TestAccessChecksExactlyWhatTheWayNeeds(t *testing.T) {
	for _, c := range []struct {
		via  Via
		kind TargetKind
		want []string
	}{
		{ViaEphemeral, KindPod, []string{"shop get  pods ", "shop list  pods ", "shop watch  pods ", "shop patch  pods ephemeralcontainers", "shop create  pods attach", "shop get  pods attach"}},
		{ViaEnvoy, KindDeployment, []string{"shop get  pods ", "shop list  pods ", "shop watch  pods ", "shop get apps deployments ", "shop create  pods portforward", "shop get  pods portforward"}},
		{ViaAgent, KindPod, []string{"shop get  pods ", "shop list  pods ", "shop watch  pods ", "tapview list  pods ", "tapview create  pods portforward", "tapview get  pods portforward"}},
	} {
		cs, seen := fakeClient()
		Start(context.Background(), Options{Client: clientset{cs}, Via: c.via, Target: Target{Kind: c.kind, Names: []string{"web"}, Namespace: "shop"}})
		if strings.Join(*seen, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s %s reviewed\n%q\nwant\n%q", c.via, c.kind, *seen, c.want)
		}
	}
}

// TestRBACManifestMatchesRequired keeps deploy/rbac.yaml equal to what
// attach checks: the Role and ClusterRole grant the union over every way
// and target kind, the agent Role what --via agent needs there.
func TestRBACManifestMatchesRequired(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	grants := map[string][]string{}
	for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
		var r rbacv1.Role // a ClusterRole has the same shape for rules
		if err := yaml.UnmarshalStrict(doc, &r); err != nil {
			t.Fatalf("rbac.yaml: %v", err)
		}
		var g []string
		for _, rule := range r.Rules {
			if len(rule.ResourceNames) > 0 || len(rule.NonResourceURLs) > 0 {
				t.Errorf("%s: unexpected resourceNames or nonResourceURLs", r.Name)
			}
			for _, grp := range rule.APIGroups {
				for _, res := range rule.Resources {
					for _, v := range rule.Verbs {
						g = append(g, v+" "+grp+" "+res)
					}
				}
			}
		}
		sort.Strings(g)
		grants[r.Kind+"/"+r.Name] = g
	}
	var target, agentNS []string
	add := func(dst *[]string, ps []Permission) {
		for _, p := range ps {
			s := p.Verb + " " + p.Group + " " + p.RuleResource()
			if !contains(strings.Join(*dst, "\n")+"\n", s+"\n") {
				*dst = append(*dst, s)
			}
		}
	}
	for _, via := range []Via{ViaEphemeral, ViaEnvoy, ViaAgent} {
		for _, kind := range []TargetKind{KindPod, KindDeployment, KindSelector} {
			tp, ap := Required(via, kind)
			add(&target, tp)
			add(&agentNS, ap)
		}
	}
	sort.Strings(target)
	sort.Strings(agentNS)
	for name, want := range map[string][]string{
		"Role/tapview-attach":                       target,
		"ClusterRole/tapview-attach-all-namespaces": target,
		"Role/tapview-attach-agent":                 agentNS,
	} {
		if strings.Join(grants[name], "\n") != strings.Join(want, "\n") {
			t.Errorf("%s grants\n%s\nattach needs\n%s", name, strings.Join(grants[name], "\n"), strings.Join(want, "\n"))
		}
	}
	if len(grants) != 3 {
		t.Errorf("rbac.yaml has %d objects, want 3: %v", len(grants), grants)
	}
}
