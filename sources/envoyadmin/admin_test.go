package envoyadmin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/envoyadmin"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// fakeEnvoy speaks the admin /tap contract: POST with a JSON TapRequest
// for a known config id, one attached stream at a time, then pretty JSON
// TraceWrappers with no delimiter, flushed in chunks that cut objects
// apart. The tap detaches when the client goes away.
type fakeEnvoy struct {
	configID string
	traces   []*tapv3.TraceWrapper
	attached atomic.Bool
	detached chan struct{}
	mu       sync.Mutex
	last     *adminv3.TapRequest
	hold     bool // keep the stream open after the traces
}

func (f *fakeEnvoy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/tap" {
		http.Error(w, "invalid path: "+r.URL.Path, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method GET not allowed, POST required.", http.StatusMethodNotAllowed)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if len(body) == 0 {
		http.Error(w, "/tap requires a JSON/YAML body", http.StatusBadRequest)
		return
	}
	req := &adminv3.TapRequest{}
	if err := protojson.Unmarshal(body, req); err != nil {
		http.Error(w, "Unable to parse JSON as proto: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := req.ValidateAll(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if req.GetConfigId() != f.configID {
		http.Error(w, "Unknown config id '"+req.GetConfigId()+"'. No extension has registered with this id.", http.StatusBadRequest)
		return
	}
	if !f.attached.CompareAndSwap(false, true) {
		http.Error(w, "An attached /tap admin stream already exists. Detach it.", http.StatusBadRequest)
		return
	}
	defer func() {
		f.attached.Store(false)
		if f.detached != nil {
			f.detached <- struct{}{}
		}
	}()
	f.mu.Lock()
	f.last = req
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	fl.Flush()
	var all []byte
	for _, t := range f.traces {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: " ", UseProtoNames: true, EmitUnpopulated: true}.Marshal(t)
		if err != nil {
			panic(err)
		}
		all = append(all, b...)
	}
	// Garbage object in the middle: Envoy would never send it, the
	// client must skip it.
	all = append(all, []byte(`{"http_buffered_trace": {"request": "oops"}}`)...)
	for len(all) > 0 {
		n := min(37, len(all))
		if _, err := w.Write(all[:n]); err != nil {
			return
		}
		fl.Flush()
		all = all[n:]
	}
	if f.hold {
		<-r.Context().Done()
	}
}

type collector struct {
	mu     sync.Mutex
	traces []sources.Trace
	notes  []sources.Status
}

func (c *collector) Packet(sources.Packet) {}
func (c *collector) Status(s sources.Status) {
	c.mu.Lock()
	c.notes = append(c.notes, s)
	c.mu.Unlock()
}
func (c *collector) Trace(t sources.Trace) {
	c.mu.Lock()
	c.traces = append(c.traces, t)
	c.mu.Unlock()
}
func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.traces)
}

func sample() []*tapv3.TraceWrapper {
	ws := []*tapv3.TraceWrapper{tracetest.HTTPBuffered(1, "/admin/a", 200, `{"x":"}{"}`), tracetest.GRPCBuffered(2), tracetest.SocketBuffered(3)}
	return append(ws, tracetest.HTTPStreamed(4, "/admin/s")...)
}

func TestAdminTapStream(t *testing.T) {
	f := &fakeEnvoy{configID: "tapview", traces: sample(), detached: make(chan struct{}, 1)}
	srv := httptest.NewServer(f)
	defer srv.Close()
	src, err := envoyadmin.New(envoyadmin.Config{URL: srv.URL, ConfigID: "tapview", MaxBytes: 1 << 20, Streaming: true})
	if err != nil {
		t.Fatal(err)
	}
	em := &collector{}
	if err := src.Run(context.Background(), em); err != nil {
		t.Fatal(err)
	}
	if len(em.traces) != len(f.traces) {
		t.Fatalf("%d traces, want %d", len(em.traces), len(f.traces))
	}
	for i, tr := range em.traces {
		if !proto.Equal(tr.Wrapper, f.traces[i]) {
			t.Fatalf("trace %d differs:\n%v\n%v", i, tr.Wrapper, f.traces[i])
		}
		if tr.Ordinal != uint64(i+1) || !strings.HasPrefix(tr.Source, "envoy 127.0.0.1:") {
			t.Fatalf("trace %d: %+v", i, tr)
		}
	}
	if c := src.Counts(); c.Malformed != 1 || c.Received != int64(len(f.traces)) {
		t.Errorf("counts %+v", c)
	}
	kinds := []string{}
	for _, n := range em.notes {
		kinds = append(kinds, n.Kind)
	}
	if strings.Join(kinds, ",") != "attached,malformed,detached" {
		t.Errorf("notes %v", kinds)
	}
	// What Envoy was asked for.
	oc := f.last.GetTapConfig().GetOutputConfig()
	if !f.last.GetTapConfig().GetMatch().GetAnyMatch() || !oc.GetStreaming() || oc.GetMaxBufferedRxBytes().GetValue() != 1<<20 ||
		oc.GetSinks()[0].GetStreamingAdmin() == nil {
		t.Errorf("request %v", f.last)
	}
}

// Cancelling detaches the tap (Envoy sees the disconnect), and Envoy's
// refusals come back as errors that say what to do.
func TestAdminDetachAndRefusals(t *testing.T) {
	f := &fakeEnvoy{configID: "tapview", traces: sample()[:1], hold: true, detached: make(chan struct{}, 1)}
	srv := httptest.NewServer(f)
	defer srv.Close()
	src, err := envoyadmin.New(envoyadmin.Config{URL: strings.TrimPrefix(srv.URL, "http://"), ConfigID: "tapview"})
	if err != nil {
		t.Fatal(err)
	}
	em := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, em) }()
	deadline := time.Now().Add(10 * time.Second)
	for em.len() < 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}

	// A second client while attached.
	second, _ := envoyadmin.New(envoyadmin.Config{URL: srv.URL, ConfigID: "tapview"})
	err = second.Run(context.Background(), &collector{})
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "one at a time") {
		t.Errorf("second attach: %v", err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	select {
	case <-f.detached:
	case <-time.After(10 * time.Second):
		t.Fatal("Envoy never saw the client detach")
	}

	for _, c := range []struct {
		cfg  envoyadmin.Config
		want string
	}{
		{envoyadmin.Config{URL: srv.URL, ConfigID: "other"}, "admin_config.config_id \"other\""},
		{envoyadmin.Config{URL: srv.URL + "/nope", ConfigID: "tapview"}, "no /tap admin endpoint"},
		{envoyadmin.Config{URL: "http://127.0.0.1:1", ConfigID: "tapview"}, "cannot reach"},
	} {
		s, err := envoyadmin.New(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Run(context.Background(), &collector{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []envoyadmin.Config{
		{URL: "http://x:9901"},
		{URL: "ftp://x", ConfigID: "a"},
		{URL: "http://x:9901", ConfigID: "a", Match: `{"bogus": 1}`},
		{URL: "http://x:9901", ConfigID: "a", Match: `{}`},
	} {
		if _, err := envoyadmin.New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	body, err := envoyadmin.TapRequest(envoyadmin.Config{ConfigID: "a", Match: `{"http_request_headers_match": {"headers": [{"name": ":path", "string_match": {"prefix": "/api"}}]}}`})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"config_id":"a"`) || !strings.Contains(string(body), `"streaming_admin":{}`) {
		t.Errorf("body %s", body)
	}
}
