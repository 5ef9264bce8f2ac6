package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tapview/tapview/bench/capgen"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/sources"
)

// bigCapture generates an HTTP/1.1 keep-alive capture large enough that
// decoding it takes seconds (bench/capgen: real net/http traffic
// replayed).
func bigCapture(t *testing.T, requests int64) string {
	t.Helper()
	corpus, err := capgen.Record(context.Background(), capgen.RecordOptions{HTTP1: 100, H2C: -1, GRPC: -1, Seed: 15})
	if err != nil {
		t.Fatalf("recording traffic for the capture: %v", err)
	}
	path := filepath.Join(t.TempDir(), "big.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	pw, err := pcapw.NewPcap(bw, sources.LinkEthernet, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := capgen.Replay(pw, corpus, capgen.ReplayOptions{Requests: requests, Seed: 15}); err != nil {
		t.Fatalf("writing the capture: %v", err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return path
}

// stopWithin sends sig and returns how long the process took to exit,
// its exit status and the lines it printed after the signal; the test
// fails when it outlives liveDeadline by far (the wait is longer, so the
// failure says how long it really took).
func stopWithin(t *testing.T, p *proc, sig ...syscall.Signal) (time.Duration, int, []string) {
	t.Helper()
	start := time.Now()
	for i, s := range sig {
		if i > 0 {
			time.Sleep(50 * time.Millisecond)
		}
		if err := p.cmd.Process.Signal(s); err != nil {
			t.Fatal(err)
		}
	}
	rest, err := p.rest(t, 10*time.Second)
	return time.Since(start), exitStatus(err), rest
}

// allJSON fails when a printed line is not a whole JSON object: a forced
// exit writes out only complete records.
func allJSON(t *testing.T, lines []string) {
	t.Helper()
	for i, s := range lines {
		if !json.Valid([]byte(s)) {
			t.Fatalf("line %d after the signal is not JSON: %.200q", i, s)
		}
	}
}

// testSignalEndsBusyRun checks that SIGTERM and SIGINT end a command
// within a second: a big capture in the middle of decoding, and a pipe
// whose reader cannot be interrupted (the process must then force its
// exit, saving what it printed).
func testSignalEndsBusyRun(t *testing.T, bin string) {
	big := bigCapture(t, 60000)

	t.Run("file", func(t *testing.T) {
		p := startProc(t, bin, "open", "-o", "json", big)
		p.next(t, 20*time.Second, "a first exchange line", func(s string) bool { return json.Valid([]byte(s)) })
		took, status, rest := stopWithin(t, p, syscall.SIGTERM)
		t.Logf("SIGTERM mid-decode: exited with %d after %v, %d lines after the signal", status, took.Round(time.Millisecond), len(rest))
		if took > liveDeadline {
			t.Errorf("tapview open took %v to end after SIGTERM, want under %v", took, liveDeadline)
		}
		if status != 0 && status != 143 {
			t.Errorf("exit status %d after SIGTERM, want 0 (finished) or 143 (forced)", status)
		}
		allJSON(t, rest)
	})

	// A capture on stdin that stops mid-record: the reader blocks in
	// read(2) and cannot see the cancellation, so only the forced exit
	// ends these, and what was printed before stays intact.
	pkts := capturePackets(t, "http11_keepalive_5req_1conn.pcap")
	idx, paths := completions(t, pkts)
	var stream bytes.Buffer
	pw, err := pcapw.NewPcap(&stream, pkts[0].LinkType, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	cut := 0
	for i := 0; i <= idx[2]+1; i++ {
		if i == idx[2]+1 {
			_ = pw.Flush()
			cut = stream.Len() + 10 // into the next record's header
		}
		if err := pw.WritePacket(pkts[i], ""); err != nil {
			t.Fatal(err)
		}
	}
	_ = pw.Flush()
	head := func(t *testing.T) *proc {
		p := startProc(t, bin, "open", "-o", "json", "-")
		if _, err := p.stdin.Write(stream.Bytes()[:cut]); err != nil {
			t.Fatal(err)
		}
		p.next(t, 10*time.Second, "the third exchange", func(s string) bool {
			r, ok := parseRecord(s)
			return ok && r.Type == "exchange" && r.Path == paths[2]
		})
		return p
	}
	for _, c := range []struct {
		name   string
		sigs   []syscall.Signal
		status int
		within time.Duration
		stats  int // final stats lines: the forced exit writes them, a second signal does not wait
	}{
		{"pipe-sigterm", []syscall.Signal{syscall.SIGTERM}, 143, liveDeadline, 1},
		{"pipe-sigint", []syscall.Signal{syscall.SIGINT}, 130, liveDeadline, 1},
		{"pipe-twice", []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, 130, exitGrace, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := head(t)
			took, status, rest := stopWithin(t, p, c.sigs...)
			t.Logf("%v on an open pipe: exited with %d after %v", c.sigs, status, took.Round(time.Millisecond))
			if took > c.within {
				t.Errorf("took %v to exit, want under %v", took, c.within)
			}
			if status != c.status {
				t.Errorf("exit status %d, want %d", status, c.status)
			}
			allJSON(t, rest)
			if n := len(statsLines(rest)); n != c.stats {
				t.Errorf("%d stats lines after the signal, want %d: %q", n, c.stats, rest)
			}
			_ = p.stdin.Close()
		})
	}
}
