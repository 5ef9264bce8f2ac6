package watch_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tapview/tapview/proto/gloo"
	watchpb "github.com/tapview/tapview/proto/watch"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/sink"
	"github.com/tapview/tapview/sources/sink/auth"
	"github.com/tapview/tapview/sources/sink/auth/authtest"
	"github.com/tapview/tapview/sources/sink/watch"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

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
func (c *collector) snapshot() ([]sources.Trace, []sources.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sources.Trace(nil), c.traces...), append([]sources.Status(nil), c.notes...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run starts fn in the background and waits for it at cleanup.
func run(t *testing.T, fn func(ctx context.Context) error) (cancel func(), done <-chan error) {
	ctx, cancelFn := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- fn(ctx) }()
	t.Cleanup(func() {
		cancelFn()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Errorf("did not stop")
		}
	})
	return cancelFn, ch
}

// A sink in "the cluster" re-streams what Envoy sends to a watcher on
// "the laptop", over TLS with a token.
func TestSinkToWatcher(t *testing.T) {
	files := authtest.New(t)
	serverTLS, err := auth.ServerTLS(files.ServerCert, files.ServerKey, "")
	if err != nil {
		t.Fatal(err)
	}
	hub := watch.NewHub(watch.HubOptions{StatsEvery: 100 * time.Millisecond})
	s, err := sink.New(sink.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "off", Tee: hub})
	if err != nil {
		t.Fatal(err)
	}
	run(t, func(ctx context.Context) error { return s.Run(ctx, &collector{}) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	run(t, func(ctx context.Context) error { return hub.Serve(ctx, ln, serverTLS, "tok") })

	clientTLS, err := auth.ClientTLS(files.CA, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	// Refused without the token, or without trusting the server.
	for name, cfg := range map[string]watch.ClientConfig{
		"no token":  {Addr: ln.Addr().String(), TLS: clientTLS},
		"no TLS":    {Addr: ln.Addr().String(), Token: "tok"},
		"wrong tok": {Addr: ln.Addr().String(), TLS: clientTLS, Token: "nope"},
	} {
		c, _ := watch.NewClient(cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.Run(ctx, &collector{})
		cancel()
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	c, err := watch.NewClient(watch.ClientConfig{Addr: ln.Addr().String(), TLS: clientTLS, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	em := &collector{}
	run(t, func(ctx context.Context) error { return c.Run(ctx, em) })
	eventually(t, "the watcher", func() bool { return hub.Watchers() == 1 })

	cc, err := grpc.NewClient(s.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	st, err := gloo.NewTapServiceClient(cc).ReportTap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ws := append([]*tapv3.TraceWrapper{tracetest.HTTPBuffered(1, "/w", 200, "body")}, tracetest.HTTPStreamed(9, "/s")...)
	for _, w := range ws {
		if err := st.Send(&gloo.TapRequest{TraceData: w}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the traces", func() bool { tr, _ := em.snapshot(); return len(tr) == len(ws) })
	traces, notes := em.snapshot()
	for i, tr := range traces {
		if tr.Ordinal != uint64(i+1) || tr.Node != "127.0.0.1" || tr.Source != "sink "+ln.Addr().String() || tr.Arrival.IsZero() {
			t.Errorf("trace %d: %+v", i, tr)
		}
	}
	if traces[0].Wrapper.GetHttpBufferedTrace().GetResponse().GetBody().GetAsBytes() == nil {
		t.Errorf("body lost on the way")
	}
	if len(notes) == 0 || notes[0].Kind != "connected" {
		t.Errorf("notes %+v", notes)
	}
	if got := c.Counts(); got.Received != int64(len(ws)) {
		t.Errorf("counts %+v", got)
	}
}

// A watcher that stops reading loses traces (counted, and told in the
// next stats event); the hub never blocks the sink.
func TestSlowWatcherDrops(t *testing.T) {
	hub := watch.NewHub(watch.HubOptions{WatcherTraces: 8, StatsEvery: 50 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	run(t, func(ctx context.Context) error { return hub.Serve(ctx, ln, nil, "") })
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	stream, err := watchpb.NewTraceWatchClient(cc).Watch(context.Background(), &watchpb.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // the first stats event
		t.Fatal(err)
	}
	w := tracetest.HTTPBuffered(1, "/slow", 200, strings.Repeat("z", 8<<10))
	start := time.Now()
	for i := 0; i < 5000; i++ {
		hub.Publish(sources.Trace{Wrapper: w, Source: "sink", Arrival: time.Now(), Ordinal: uint64(i + 1)}, 9<<10)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Publish blocked for %v", d)
	}
	var traces int
	var dropped uint64
	for dropped == 0 || traces+int(dropped) < 5000 {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetTrace() != nil {
			traces++
		}
		if s := ev.GetStats(); s != nil {
			dropped = s.GetWatcherDropped()
		}
	}
	if traces+int(dropped) != 5000 || dropped < 4000 {
		t.Fatalf("%d delivered + %d dropped, want 5000 with most dropped", traces, dropped)
	}
}
