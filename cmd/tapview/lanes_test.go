package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tapview/tapview/bench/capgen"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/sources"
)

// openOutput runs `tapview open ARGS...` in-process and returns stdout.
func openOutput(t *testing.T, args ...string) []byte {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(append([]string{"open"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("tapview open %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

// statusTimes are the wall-clock times of status lines, which differ
// between any two runs.
var statusTimes = regexp.MustCompile(`"time":"[^"]*"`)

// sameForLanes checks that `open -o json` and `open --flows -o json`
// print the same bytes with -j 1, 2 and 3, and returns the line count.
func sameForLanes(t *testing.T, files ...string) int {
	t.Helper()
	lines := 0
	for _, mode := range [][]string{{"-o", "json"}, {"--flows", "-o", "json"}} {
		var want []byte
		for _, j := range laneCounts() {
			args := append(append([]string{"-j", strconv.Itoa(j)}, mode...), files...)
			got := statusTimes.ReplaceAll(openOutput(t, args...), []byte(`"time":"T"`))
			if j == 1 {
				want = got
				lines += bytes.Count(got, []byte("\n"))
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s %v: -j %d prints other lines than -j 1: %s", strings.Join(mode, " "), names(files), j, firstLineDiff(want, got))
			}
		}
	}
	return lines
}

// laneCounts are the -j values compared; the race detector looks at 1
// and 2 only.
func laneCounts() []int {
	if raceEnabled {
		return []int{1, 2}
	}
	return []int{1, 2, 3}
}

func names(files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = filepath.Base(f)
	}
	if len(out) > 3 {
		return append(out[:3:3], "...")
	}
	return out
}

func firstLineDiff(a, b []byte) string {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y []byte
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if !bytes.Equal(x, y) {
			return "line " + strconv.Itoa(i+1) + ":\n  -j 1: " + string(x) + "\n  -j N: " + string(y)
		}
	}
	return "same lines"
}

// TestLanesSameOutputCorpus: every corpus capture prints the same JSON
// lines (IDs, order, bytes) for exchanges and for flows whatever the
// number of decoder lanes. (Several files in one run are read
// concurrently, so how their packets interleave, and with it the IDs,
// varies from run to run with any number of lanes; decode/lanes' tests
// interleave them deterministically.)
func TestLanesSameOutputCorpus(t *testing.T) {
	dir := corpustest.Dir(t)
	total := 0
	for _, row := range corpustest.Manifest(t) {
		total += sameForLanes(t, filepath.Join(dir, row["file"]))
	}
	t.Logf("%d lines compared per lane count", total)
}

// TestLanesSameOutputGenerated: the same on generated captures of many
// connections: real HTTP/1.1, h2c and gRPC traffic replayed as 64
// concurrent connections, and connection churn (idle timeouts, resets,
// lost segments, DNS). decode/lanes' tests add a flow cap low enough to
// evict.
func TestLanesSameOutputGenerated(t *testing.T) {
	requests := int64(4000)
	conns := 400
	if raceEnabled || testing.Short() {
		requests, conns = 800, 120
	}
	dir := t.TempDir()
	corpus, err := capgen.Record(context.Background(), capgen.RecordOptions{HTTP1: 60, H2C: 2, GRPC: 2, Seed: 16})
	if err != nil {
		t.Fatalf("recording traffic: %v", err)
	}
	mixed := filepath.Join(dir, "mixed.pcap")
	writeCapture(t, mixed, func(pw *pcapw.PcapWriter) error {
		_, err := capgen.Replay(pw, corpus, capgen.ReplayOptions{Requests: requests, Mix: capgen.MixMixed, Seed: 16})
		return err
	})
	churn := filepath.Join(dir, "churn.pcap")
	pkts, err := capgen.Churn(capgen.ChurnOptions{Seed: 16, Conns: conns, DNS: conns / 2})
	if err != nil {
		t.Fatal(err)
	}
	writeCapture(t, churn, func(pw *pcapw.PcapWriter) error {
		for _, p := range pkts {
			if err := pw.WritePacket(p, ""); err != nil {
				return err
			}
		}
		return nil
	})
	n := sameForLanes(t, mixed)
	n += sameForLanes(t, churn)
	t.Logf("%d lines compared per lane count", n)
}

func writeCapture(t *testing.T, path string, write func(*pcapw.PcapWriter) error) {
	t.Helper()
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
	if err := write(pw); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
}
