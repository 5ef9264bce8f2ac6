package main

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/tapview/tapview/bench/tapdecode"
)

// TestSmoke writes a tiny capture with the real recording and replay
// path and checks, through tapview's decoder, that it holds exactly the
// requested exchanges (run() verifies and fails otherwise).
func TestSmoke(t *testing.T) {
	for _, mix := range []string{"http1", "mixed"} {
		t.Run(mix, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "smoke.pcap")
			c := config{out: out, requests: 200, mix: mix, seed: 1, concurrency: 8, verify: true}
			if err := run(context.Background(), c, io.Discard); err != nil {
				t.Fatal(err)
			}
			got, err := tapdecode.File(context.Background(), out)
			if err != nil {
				t.Fatal(err)
			}
			if got.Exchanges != 200 || got.ByState["complete"] != 200 {
				t.Fatalf("decoded %d exchanges %v, want 200 complete", got.Exchanges, got.ByState)
			}
			if mix == "mixed" && (got.ByProto["h2"] == 0 || got.ByProto["grpc"] == 0) {
				t.Errorf("mixed capture without h2c or gRPC exchanges: %v", got.ByProto)
			}
			t.Logf("%v", got.ByProto)
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"150M": 150 << 20, "1G": 1 << 30, "600MB": 600 << 20, "4096": 4096, "1.5k": 1536} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSize("lots"); err == nil {
		t.Error("parseSize accepted garbage")
	}
}
