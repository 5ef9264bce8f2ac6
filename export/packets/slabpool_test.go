package packets

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// TestSlabPoolReusesPassTwoMemory exports a capture file of a few
// megabytes, every flow and half of them (the other half's packets are
// dropped), reading it again with and
// without a SlabPool: the files must be the same, secrets masked, and
// with the pool the slabs lent must be few (packets written or dropped
// gave theirs back) rather than one per megabyte of capture.
func TestSlabPoolReusesPassTwoMemory(t *testing.T) {
	var pkts []sources.Packet
	at := t0
	for i := range 3600 {
		client := fmt.Sprintf("10.%d.%d.%d:%d", 1+i/40000, i/200%200, 1+i%200, 10000+i)
		pkts = append(pkts, connPackets(t, client, "10.9.0.1:80", 1448, at, plantedRequest(), plantedResponse())...)
		at = at.Add(3 * time.Millisecond) // connections overlap
	}
	slices.SortStableFunc(pkts, func(a, b sources.Packet) int { return a.Timestamp.Compare(b.Timestamp) })
	pkts = number(pkts)
	dir := t.TempDir()
	path := filepath.Join(dir, "test.pcap")
	var file bytes.Buffer
	pw, err := pcapw.NewPcap(&file, pkts[0].LinkType, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if err := pw.WritePacket(p, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	megabytes := file.Len() >> 20
	if megabytes < 4 {
		t.Fatalf("capture of %d bytes: too small to need several slabs", file.Len())
	}
	plan := NewPlan(false, mask.Default())
	pass1(t, pkts, plan, CollectOptions{})
	for _, all := range []bool{true, false} {
		for id := range plan.flows {
			plan.SetSelected(id, all || id%2 == 0)
		}
		export := func(pool *SlabPool) []byte {
			src, err := pcapfile.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if pool != nil {
				src.SetSlabs(pool)
			}
			var out bytes.Buffer
			pw, err := pcapw.NewPcapng(&out, pcapw.NgOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Write(context.Background(), pw, plan, Inputs{Captured: []Stream{FromSource(context.Background(), src, nil)}, Slabs: pool}, Options{}); err != nil {
				t.Fatal(err)
			}
			return out.Bytes()
		}
		want := export(nil)
		pool := NewSlabPool()
		got := export(pool)
		if !bytes.Equal(got, want) {
			t.Fatalf("all=%v: the export read through the pool differs (%d bytes, %d without)", all, len(got), len(want))
		}
		if leaks := leaked([]byte(payloads(readBack(t, got))), planted); len(leaks) > 0 {
			t.Fatalf("all=%v: secrets survived: %v", all, leaks)
		}
		lent := len(pool.slabs)
		if lent == 0 || lent > megabytes/2 {
			t.Errorf("all=%v: %d slabs lent for a %d MB capture, want a few", all, lent, megabytes)
		}
		if len(pool.free) != lent {
			t.Errorf("all=%v: %d of %d slabs given back at the end", all, len(pool.free), lent)
		}
	}
}
