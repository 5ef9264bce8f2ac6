package kube

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/kube/kubetest"
)

// runBackground runs every source of s until the returned stop is
// called; stop waits for them and returns their errors.
func runBackground(s *Session, c *collector) (stop func() []error) {
	ctx, cancel := context.WithCancel(context.Background())
	srcs := s.Sources()
	errs := make([]error, len(srcs))
	var wg sync.WaitGroup
	for i, src := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = src.Run(ctx, c)
		}()
	}
	return func() []error {
		cancel()
		wg.Wait()
		return errs
	}
}

// bySource counts packets per source.
func bySource(ps []sources.Packet) map[string]int {
	m := map[string]int{}
	for _, p := range ps {
		m[p.Source]++
	}
	return m
}

// noteOf returns the first note of kind from source, or nil.
func (c *collector) noteOf(source, kind string) *sources.Status {
	for _, s := range c.statuses() {
		if s.Source == source && s.Kind == kind {
			return &s
		}
	}
	return nil
}

// TestSelectorAddsAndMarksPods: two pods merge into one stream, a pod
// that starts later is captured, a pod that is deleted is marked gone.
func TestSelectorAddsAndMarksPods(t *testing.T) {
	srv := newServer(t, keepalive)
	data := corpusFile(t, keepalive)
	for _, n := range []string{"web-1", "web-2", "web-3"} {
		srv.SetCapture("shop", n, kubetest.Capture{Data: data, Hold: true})
	}
	s, err := Start(context.Background(), options(srv, Target{Kind: KindSelector, Selector: "app=web"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Pods(), " "); got != "shop/web-1 shop/web-2" {
		t.Fatalf("pods %q", got)
	}
	c := &collector{}
	stop := runBackground(s, c)
	defer stop()
	n := len(corpustest.Read(t, keepalive))
	waitFor(t, "both pods' packets", func() bool {
		m := bySource(c.packets())
		return m["shop/web-1"] == n && m["shop/web-2"] == n
	})

	srv.AddPod(kubetest.RunningPod("shop", "web-3", map[string]string{"app": "web"}))
	srv.AddPod(kubetest.RunningPod("shop", "db-1", map[string]string{"app": "db"}))
	waitFor(t, "the new pod's packets", func() bool { return bySource(c.packets())["shop/web-3"] == n })
	if c.noteOf("shop/web-3", "added") == nil {
		t.Error("no note that web-3 was added")
	}
	srv.DeletePod("shop", "web-1")
	waitFor(t, "web-1 marked gone", func() bool { return c.noteOf("shop/web-1", "gone") != nil })
	waitFor(t, "web-1's capture stopped", func() bool { return srv.StdinClosed("shop", "web-1") })
	if srv.StdinClosed("shop", "web-2") {
		t.Error("web-2's capture stopped with web-1's")
	}
	for i, err := range stop() {
		if err != nil {
			t.Errorf("source %d: %v", i, err)
		}
	}
	if m := bySource(c.packets()); len(m) != 3 {
		t.Errorf("packets from %v, want web-1, web-2 and web-3 only", m)
	}
	if ps := srv.Patches(); len(ps) != 3 {
		t.Errorf("%d capture containers added, want 3", len(ps))
	}
}

func TestClusterStateErrors(t *testing.T) {
	srv := newServer(t, keepalive)
	srv.EphemeralDisabled = true
	s, err := Start(context.Background(), options(srv, Target{Kind: KindPod, Names: []string{"web-1"}}))
	if err != nil {
		t.Fatal(err)
	}
	_, errs := runAll(t, context.Background(), s)
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "ephemeral containers are not enabled on this cluster") {
		t.Errorf("disabled: %v", errs[0])
	}

	srv = newServer(t, keepalive)
	srv.ImagePullError = `failed to pull image "docker.io/nicolaka/netshoot:v0.13": not found`
	s, err = Start(context.Background(), options(srv, Target{Kind: KindPod, Names: []string{"web-2"}}))
	if err != nil {
		t.Fatal(err)
	}
	_, errs = runAll(t, context.Background(), s)
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "the capture image "+DefaultImage+" cannot be pulled on node node-1 (ErrImagePull") ||
		!strings.Contains(errs[0].Error(), "use --image") {
		t.Errorf("image pull: %v", errs[0])
	}
}

// fakeEnvoy serves an Envoy admin /tap on loopback: code and body, and
// records the request body.
func fakeEnvoy(t *testing.T, code int, body string) (addr string, requests func() []string) {
	var mu sync.Mutex
	var got []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	})
	es := httptest.NewServer(h)
	t.Cleanup(es.Close)
	return strings.TrimPrefix(es.URL, "http://"), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

const envoyTrace = `{"http_buffered_trace":{"request":{"headers":[{"key":":method","value":"GET"},{"key":":path","value":"/cart"}]},"response":{"headers":[{"key":":status","value":"200"}]}}}`

// TestEnvoyViaPortForward port-forwards (over the WebSocket tunnel, and
// plain SPDY) to the sidecar's admin port and reads its /tap.
func TestEnvoyViaPortForward(t *testing.T) {
	for _, noWS := range []bool{false, true} {
		srv := kubetest.New(t)
		srv.NoWebSocket = noWS
		p := kubetest.RunningPod("shop", "web-1", nil)
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "istio-proxy"})
		srv.AddPod(p)
		addr, reqs := fakeEnvoy(t, http.StatusOK, envoyTrace)
		srv.Forward("shop", "web-1", 15000, addr)
		o := options(srv, Target{Kind: KindPod, Names: []string{"web-1"}})
		o.Via = ViaEnvoy
		s, err := Start(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		c, errs := runAll(t, context.Background(), s)
		if errs[0] != nil {
			t.Fatalf("websocket=%v: %v", !noWS, errs[0])
		}
		if r := reqs(); len(r) != 1 || !strings.HasPrefix(r[0], "POST /tap ") || !strings.Contains(r[0], `"tapview"`) {
			t.Errorf("admin requests %q", r)
		}
		if len(c.traces) != 1 || c.traces[0].Source != "shop/web-1" || c.traces[0].Node != "sidecar~10.1.0.7~web-1.shop~shop.svc.cluster.local" {
			t.Errorf("traces %+v", c.traces)
		}
		if len(srv.Patches()) != 0 {
			t.Error("--via envoy added a container")
		}
	}

	// A sidecar without a tap filter: say what to configure.
	srv := kubetest.New(t)
	p := kubetest.RunningPod("shop", "web-1", nil)
	p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "istio-proxy"})
	srv.AddPod(p)
	addr, _ := fakeEnvoy(t, http.StatusBadRequest, "Unknown config id 'tapview'. No extension has registered with this id.")
	srv.Forward("shop", "web-1", 15000, addr)
	o := options(srv, Target{Kind: KindPod, Names: []string{"web-1"}})
	o.Via = ViaEnvoy
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	_, errs := runAll(t, context.Background(), s)
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "Unknown config id") || !strings.Contains(errs[0].Error(), "EnvoyFilter") ||
		!strings.Contains(errs[0].Error(), `config_id: "tapview"`) {
		t.Errorf("no tap filter: %v", errs[0])
	}
}
