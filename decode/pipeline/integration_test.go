package pipeline

import (
	"context"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
)

// corpusSource replays one corpus file as a source.
type corpusSource struct {
	name string
	pkts []sources.Packet
}

func (c *corpusSource) Name() string { return c.name }
func (c *corpusSource) Run(ctx context.Context, emit sources.Emitter) error {
	for _, p := range c.pkts {
		if ctx.Err() != nil {
			return nil
		}
		emit.Packet(p)
	}
	return nil
}

// TestCorpusThroughPipeline runs several corpus files concurrently into
// a real tcp.Decoder and a Store: every file's TCP connections appear as
// tshark counts them, each flow tied to its own source.
func TestCorpusThroughPipeline(t *testing.T) {
	rows := corpustest.Manifest(t)
	var inputs []Input
	want := map[string]int{}
	for _, row := range rows {
		name := row["file"]
		inputs = append(inputs, Input{Source: &corpusSource{name: name, pkts: corpustest.Read(t, name)}})
		want[name] = row.Int(t, "tcp_streams")
	}
	store := decode.NewStore()
	dec := tcp.NewDecoder(store, tcp.Config{})
	if err := Run(context.Background(), inputs, dec, Options{Notes: store, Stats: store, BatchSize: 32}); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range store.Flows() {
		if f.Transport == "tcp" {
			got[f.Source]++
		}
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s: %d TCP flows, tshark %d", name, got[name], n)
		}
	}
	stats := store.Stats()
	if len(stats) != len(rows) {
		t.Fatalf("%d source stats for %d sources", len(stats), len(rows))
	}
	for _, st := range stats {
		if !st.Done || st.Packets == 0 {
			t.Errorf("stats %+v", st)
		}
	}
}
