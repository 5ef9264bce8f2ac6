package kubetest

import (
	"context"
	"testing"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// TestBothWireFormats runs the typed client with its default protobuf
// and with JSON against the server: each request and response must
// decode, including watch streams, as against a real API server.
func TestBothWireFormats(t *testing.T) {
	for _, ct := range []string{"", "application/json"} {
		srv := New(t)
		srv.AddPod(RunningPod("shop", "web-1", map[string]string{"app": "web"}))
		srv.Deny("patch", "", "pods", "ephemeralcontainers")
		cfg := srv.RESTConfig()
		cfg.ContentType = ct
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		p, err := cs.CoreV1().Pods("shop").Get(ctx, "web-1", metav1.GetOptions{})
		if err != nil || p.Status.PodIP != "10.1.0.7" || p.Labels["app"] != "web" {
			t.Fatalf("%q get: %v %+v", ct, err, p)
		}
		list, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil || len(list.Items) != 1 || list.ResourceVersion == "" {
			t.Fatalf("%q list: %v %+v", ct, err, list)
		}
		w, err := cs.CoreV1().Pods("shop").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
		if err != nil {
			t.Fatalf("%q watch: %v", ct, err)
		}
		srv.DeletePod("shop", "web-1")
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Deleted {
				t.Errorf("%q watch event %v %+v", ct, ev.Type, ev.Object)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%q: no watch event", ct)
		}
		w.Stop()
		for _, verb := range []string{"patch", "get"} {
			r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authv1.ResourceAttributes{Namespace: "shop", Verb: verb, Resource: "pods", Subresource: "ephemeralcontainers"},
			}}, metav1.CreateOptions{})
			if err != nil || r.Status.Allowed != (verb == "get") {
				t.Errorf("%q review %s: %v %+v", ct, verb, err, r)
			}
		}
		if _, err := cs.CoreV1().Pods("shop").Get(ctx, "web-1", metav1.GetOptions{}); err == nil || err.Error() != `pods "web-1" not found` {
			t.Errorf("%q: deleted pod: %v", ct, err)
		}
	}
}
