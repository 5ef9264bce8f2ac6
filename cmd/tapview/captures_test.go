package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// TestDemoPacketsReadAgain: the demo is no file, yet its flows' bytes
// (key s) and a pcapng of its shown flows (key x) come from its packets,
// as for a capture file, not the "packets not kept" note or synthesized
// packets.
func TestDemoPacketsReadAgain(t *testing.T) {
	t.Chdir(t.TempDir()) // no file named like the demo around
	src, err := demoSource()
	if err != nil {
		t.Fatal(err)
	}
	ins := []input{{src: src, reread: demoSource}}
	store := decode.NewStore()
	if err := runPipeline(context.Background(), ins, nil, store, nil); err != nil {
		t.Fatal(err)
	}
	again := capturesOf(ins)
	var web *decode.Flow
	for _, f := range store.Flows() {
		if f.Proto == "http/1.1" && len(f.Ordinals) > 0 {
			web = f
			break
		}
	}
	if web == nil {
		t.Fatal("the demo has no HTTP/1.1 flow with packets")
	}
	seq, err := streamReader{again: again}.Stream(context.Background(), web, true)
	if err != nil {
		t.Fatalf("bytes of a demo flow: %v", err)
	}
	var payload bytes.Buffer
	for c, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		payload.Write(c.Data)
	}
	if !bytes.Contains(payload.Bytes(), []byte("HTTP/1.1 200 OK")) {
		t.Errorf("the demo flow's bytes hold no response:\n%.300s", payload.Bytes())
	}
	if _, err := (streamReader{}).Stream(context.Background(), web, true); err == nil {
		t.Error("without the demo's reader its bytes were found anyway; the test proves nothing")
	}

	out := filepath.Join(t.TempDir(), "demo.pcapng")
	var exs []*decode.Exchange
	for _, e := range store.Exchanges() {
		if e.FlowID == web.ID {
			exs = append(exs, e)
		}
	}
	if err := exportShownWith(&sessionFlags{}, again)(context.Background(), out, slices.Values(exs), []*decode.Flow{web}, true); err != nil {
		t.Fatal(err)
	}
	got, err := pcapfile.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := got.Run(context.Background(), countPackets{&n}); err != nil {
		t.Fatal(err)
	}
	if n != len(web.Ordinals) {
		t.Errorf("the export holds %d packets, the flow has %d", n, len(web.Ordinals))
	}
	data, _ := os.ReadFile(out)
	if bytes.Contains(data, []byte("synthesized")) {
		t.Error("the export says its packets were synthesized")
	}
}

// countPackets counts what a source emits.
type countPackets struct{ n *int }

func (c countPackets) Packet(sources.Packet) { *c.n++ }
func (c countPackets) Status(sources.Status) {}
