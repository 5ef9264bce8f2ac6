package kube

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/kube/kubetest"
)

// collector is an Emitter that keeps everything, safe for the
// concurrent use a watcher's captures make of it.
type collector struct {
	mu     sync.Mutex
	pkts   []sources.Packet
	notes  []sources.Status
	traces []sources.Trace
}

func (c *collector) Packet(p sources.Packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pkts = append(c.pkts, p)
}

func (c *collector) Status(s sources.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notes = append(c.notes, s)
}

func (c *collector) Trace(t sources.Trace) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.traces = append(c.traces, t)
}

func (c *collector) packets() []sources.Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sources.Packet(nil), c.pkts...)
}

func (c *collector) statuses() []sources.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sources.Status(nil), c.notes...)
}

// note returns the first note of kind, or nil.
func (c *collector) note(kind string) *sources.Status {
	for _, s := range c.statuses() {
		if s.Kind == kind {
			return &s
		}
	}
	return nil
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// corpusFile returns a corpus capture's bytes.
func corpusFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpustest.Dir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// samePackets checks that got carries want's frames, in order, tagged
// with source.
func samePackets(t *testing.T, got, want []sources.Packet, source string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Data, want[i].Data) || !got[i].Timestamp.Equal(want[i].Timestamp) {
			t.Fatalf("packet %d differs", i+1)
		}
		if got[i].Source != source {
			t.Fatalf("packet %d source %q, want %q", i+1, got[i].Source, source)
		}
	}
}

// newServer returns a fake API server with running pods shop/web-1 and
// shop/web-2 (app=web) whose captures stream file.
func newServer(t *testing.T, file string) *kubetest.Server {
	srv := kubetest.New(t)
	data := corpusFile(t, file)
	for _, n := range []string{"web-1", "web-2"} {
		srv.AddPod(kubetest.RunningPod("shop", n, map[string]string{"app": "web"}))
		srv.SetCapture("shop", n, kubetest.Capture{Data: data, Stderr: "tcpdump: listening on any, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144 bytes\n"})
	}
	return srv
}

// options returns Options for srv with target t.
func options(srv *kubetest.Server, t Target) Options {
	if t.Namespace == "" && !t.AllNamespaces {
		t.Namespace = "shop"
	}
	// The production client over kubetest's wire protocol; a nil Client
	// (it could not be built) makes Start fail.
	c, _ := NewClient(srv.RESTConfig())
	return Options{Client: c, REST: srv.RESTConfig(), Target: t, RunningTimeout: 10 * time.Second}
}

// runAll runs every source of a session into one collector until they
// end or the timeout.
func runAll(t *testing.T, ctx context.Context, s *Session) (*collector, []error) {
	t.Helper()
	c := &collector{}
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
	wg.Wait()
	return c, errs
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
