package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"syscall"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapsvc "github.com/envoyproxy/go-control-plane/envoy/service/tap/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// liveRecord is the part of a JSON line these tests look at.
type liveRecord struct {
	Type, Kind, Message, Path string
	Packets                   int64
	Done                      bool
}

func parseRecord(s string) (liveRecord, bool) {
	var r liveRecord
	return r, json.Unmarshal([]byte(s), &r) == nil
}

func isType(typ string) func(string) bool {
	return func(s string) bool { r, ok := parseRecord(s); return ok && r.Type == typ }
}

var grpcAddrRe = regexp.MustCompile(`gRPC (127\.0\.0\.1:\d+)`)

// startSink runs `tapview sink -o json` on a free loopback port and
// opens one long-lived StreamTaps stream to it, as Envoy keeps one open.
func startSink(t *testing.T, bin string) (*proc, tapsvc.TapSinkService_StreamTapsClient) {
	t.Helper()
	p := startProc(t, bin, "sink", "-o", "json", "--grpc", "127.0.0.1:0", "--http", "off")
	l := p.next(t, 10*time.Second, "the listening status line", func(s string) bool {
		r, ok := parseRecord(s)
		return ok && r.Kind == "listening"
	})
	r, _ := parseRecord(l.text)
	m := grpcAddrRe.FindStringSubmatch(r.Message)
	if m == nil {
		t.Fatalf("no gRPC address in %q", r.Message)
	}
	cc, err := grpc.NewClient(m[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := tapsvc.NewTapSinkServiceClient(cc).StreamTaps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return p, st
}

// sendTrace sends one buffered HTTP trace for path on the stream.
func sendTrace(t *testing.T, st tapsvc.TapSinkService_StreamTapsClient, n int, path string) {
	t.Helper()
	req := &tapsvc.StreamTapsRequest{Trace: tracetest.HTTPBuffered(n, path, 200, "ok"), TraceId: uint64(n)}
	if n == 1 {
		req.Identifier = &tapsvc.StreamTapsRequest_Identifier{Node: &corev3.Node{Id: "envoy-live"}, TapId: "live"}
	}
	if err := st.Send(req); err != nil {
		t.Fatalf("sending trace %d: %v", n, err)
	}
}

// testSinkStreams sends traces one at a time on an open stream; each
// exchange line must be read within a second of its trace.
func testSinkStreams(t *testing.T, bin string) {
	p, st := startSink(t, bin)
	var worst time.Duration
	for n := 1; n <= 5; n++ {
		path := fmt.Sprintf("/live/%d", n)
		sendTrace(t, st, n, path)
		sent := time.Now()
		l := p.next(t, liveDeadline, "exchange line for "+path, func(s string) bool {
			r, ok := parseRecord(s)
			return ok && r.Type == "exchange" && r.Path == path
		})
		worst = max(worst, l.at.Sub(sent))
		t.Logf("trace %d: line %v after sending", n, l.at.Sub(sent).Round(time.Millisecond))
		time.Sleep(300 * time.Millisecond) // longer than the periodic flush
	}
	t.Logf("sink -o json: worst latency %v", worst.Round(time.Millisecond))
	// Envoy never closes its stream; the sink waits for it on shutdown
	// longer than a person waits, so the exit may be the forced one
	// (130), which still ends with the statistics.
	took, status, rest := stopWithin(t, p, syscall.SIGINT)
	t.Logf("SIGINT with a sender's stream open: exited with %d after %v", status, took.Round(time.Millisecond))
	if took > liveDeadline {
		t.Errorf("tapview sink took %v to end after SIGINT, want under %v", took, liveDeadline)
	}
	if status != 0 && status != 130 {
		t.Errorf("exit status %d after SIGINT, want 0 or 130", status)
	}
	if final := statsLines(rest); len(final) != 1 {
		t.Errorf("%d stats lines after SIGINT, want exactly 1: %q", len(final), final)
	}
}

func statsLines(lines []string) []string {
	var out []string
	for _, s := range lines {
		if isType("stats")(s) {
			out = append(out, s)
		}
	}
	return out
}

// testLiveStats checks the stats lines of a live run: one every statsEvery
// while the sink runs, even when no traffic changed them, and the final
// one exactly once after SIGINT.
func testLiveStats(t *testing.T, bin string) {
	p, st := startSink(t, bin)
	for n := 1; n <= 3; n++ {
		sendTrace(t, st, n, fmt.Sprintf("/stats/%d", n))
	}
	slack := 2 * time.Second
	first := p.next(t, statsEvery+slack, "the first periodic stats line", isType("stats"))
	second := p.next(t, statsEvery+slack, "the second periodic stats line", isType("stats"))
	if gap := second.at.Sub(first.at); gap < statsEvery-slack {
		t.Errorf("periodic stats lines %v apart, want about %v", gap, statsEvery)
	}
	for _, l := range []line{first, second} {
		if r, _ := parseRecord(l.text); r.Packets != 3 || r.Done {
			t.Errorf("periodic stats line %s: want packets 3, not done", l.text)
		}
	}
	// The sender is done, so the sink can end cleanly and report it.
	if _, err := st.CloseAndRecv(); err != nil {
		t.Fatalf("closing the tap stream: %v", err)
	}
	_, status, rest := stopWithin(t, p, syscall.SIGINT)
	if status != 0 {
		t.Fatalf("tapview sink exited with %d after SIGINT, want 0", status)
	}
	final := statsLines(rest)
	if len(final) != 1 {
		t.Fatalf("%d stats lines after SIGINT, want exactly 1: %q", len(final), final)
	}
	if r, _ := parseRecord(final[0]); r.Packets != 3 || !r.Done {
		t.Errorf("final stats line %s: want packets 3, done", final[0])
	}
}
