package sink_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/sink"
)

// collector is an emitter that keeps what a source delivers.
type collector struct {
	mu     sync.Mutex
	traces []sources.Trace
	notes  []sources.Status
	// gate, when set, blocks Trace until it is closed (a stalled
	// pipeline).
	gate chan struct{}
	more chan struct{}
}

func newCollector() *collector { return &collector{more: make(chan struct{}, 1)} }

func (c *collector) Packet(sources.Packet) {}

func (c *collector) Status(s sources.Status) {
	c.mu.Lock()
	c.notes = append(c.notes, s)
	c.mu.Unlock()
}

func (c *collector) Trace(t sources.Trace) {
	if c.gate != nil {
		<-c.gate
	}
	c.mu.Lock()
	c.traces = append(c.traces, t)
	c.mu.Unlock()
	select {
	case c.more <- struct{}{}:
	default:
	}
}

// wait returns the traces once at least n arrived, failing after a while.
func (c *collector) wait(t *testing.T, n int) []sources.Trace {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		if len(c.traces) >= n {
			out := append([]sources.Trace(nil), c.traces...)
			c.mu.Unlock()
			return out
		}
		got := len(c.traces)
		c.mu.Unlock()
		select {
		case <-c.more:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("only %d of %d traces arrived", got, n)
		}
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.traces)
}

// start runs a sink on loopback ports until the test ends.
func start(t testing.TB, cfg sink.Config, em sources.Emitter) *sink.Sink {
	t.Helper()
	if cfg.GRPCAddr == "" {
		cfg.GRPCAddr = "127.0.0.1:0"
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	s, err := sink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, em) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	return s
}
