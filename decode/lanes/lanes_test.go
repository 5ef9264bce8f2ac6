package lanes_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/bench/capgen"
	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/dns"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/http2"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/decode/tls"
	"github.com/tapview/tapview/decode/ws"
	"github.com/tapview/tapview/sources"
)

// config returns what cmd/tapview gives each lane, with a flow cap
// (checked every 16 items, so a short capture reaches it).
func config(maxFlows int) func() tcp.Config {
	return func() tcp.Config {
		h1 := http1.NewWithOptions(http1.Options{GzipTrailerSizes: true})
		return tcp.Config{
			Parsers:   []decode.Parser{h1, http2.New(), tls.New(nil, h1, http2.New()), dns.New(), ws.New()},
			Datagrams: []decode.DatagramParser{dns.New()},
			MaxFlows:  maxFlows,
			CapEvery:  16,
		}
	}
}

// recorder writes down every publication, in order, as JSON.
type recorder struct {
	buf   bytes.Buffer
	lines int
}

func (r *recorder) put(kind string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	r.buf.WriteString(kind)
	r.buf.Write(b)
	r.buf.WriteByte('\n')
	r.lines++
}

func (r *recorder) Flow(f *decode.Flow)         { r.put("F ", f) }
func (r *recorder) Exchange(e *decode.Exchange) { r.put("X ", e) }
func (r *recorder) Note(s sources.Status)       { r.put("N ", s) }

// decodeAll runs pkts through n lanes. seed picks where batches are
// handed over (and their size), which must not matter; ticks come at
// fixed packets.
func decodeAll(pkts []sources.Packet, n int, seed uint64, cfg func() tcp.Config) *recorder {
	rec := &recorder{}
	decodeInto(rec, pkts, n, seed, cfg)
	return rec
}

// sameOutput decodes pkts with 1, 2 and 3 lanes (and batch hand-overs
// varied) and fails at the first line that differs.
func sameOutput(t *testing.T, name string, pkts []sources.Packet, cfg func() tcp.Config) int {
	t.Helper()
	want := decodeAll(pkts, 1, 1, cfg)
	runs := []struct {
		n    int
		seed uint64
	}{{1, 2}, {2, 3}, {3, 4}, {2, 5}}
	if raceEnabled {
		runs = runs[1:2] // the race detector looks at one two-lane run
	}
	for _, run := range runs {
		got := decodeAll(pkts, run.n, run.seed, cfg)
		if !bytes.Equal(got.buf.Bytes(), want.buf.Bytes()) {
			t.Errorf("%s: -j %d (seed %d) differs from -j 1: %s", name, run.n, run.seed, firstDiff(want.buf.String(), got.buf.String()))
		}
	}
	return want.lines
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d of %d/%d:\n  -j 1: %.400s\n  -j N: %.400s", i+1, len(al), len(bl), x, y)
		}
	}
	return "no line differs"
}

// TestSameOutputCorpus: every corpus capture gives the same publications
// (flows, exchanges, every version, notes; IDs and order) for any number
// of lanes, one capture at a time and all of them as sources of one run
// (only the latter under the race detector).
func TestSameOutputCorpus(t *testing.T) {
	var all [][]sources.Packet
	total := 0
	for _, row := range corpustest.Manifest(t) {
		name := row["file"]
		pkts := corpustest.Read(t, name)
		for i := range pkts {
			pkts[i].Source = name
		}
		if !raceEnabled {
			total += sameOutput(t, name, pkts, config(0))
		}
		all = append(all, pkts)
	}
	// All files at once, interleaved: sources with unrelated clocks.
	var mixed []sources.Packet
	for i := 0; ; i++ {
		more := false
		for _, pkts := range all {
			if i < len(pkts) {
				mixed = append(mixed, pkts[i])
				more = true
			}
		}
		if !more {
			break
		}
	}
	total += sameOutput(t, "whole corpus", mixed, config(0))
	t.Logf("%d publications compared per run", total)
}

// TestSameOutputChurn: a generated capture where clock-driven work (idle
// timeouts, gap flushes, UDP expiry, ticks, the end) hits many
// connections in different lanes at the same packet.
func TestSameOutputChurn(t *testing.T) {
	conns, dnsN := 400, 200
	if testing.Short() || raceEnabled {
		conns, dnsN = 80, 40
	}
	pkts, err := capgen.Churn(capgen.ChurnOptions{Seed: 3, Conns: conns, DNS: dnsN})
	if err != nil {
		t.Fatal(err)
	}
	n := sameOutput(t, "churn", pkts, config(0))
	t.Logf("%d packets, %d publications", len(pkts), n)
	// Capture times that go back by seconds (a second interface with a
	// slow clock): flows that cannot be put in order of last activity
	// within a few steps become strays (tcp.flowList), which idle checks
	// must still find at the same packet in every lane.
	pkts, err = capgen.Churn(capgen.ChurnOptions{Seed: 5, Conns: conns, DNS: dnsN, Span: 4 * time.Minute, Skew: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	sameOutput(t, "churn, skewed clock", pkts, config(0))
}

// TestSameOutputFlowCap: with a flow cap far below the open flows, the
// lanes evict the same flows (and note the same counts) whatever their
// number.
func TestSameOutputFlowCap(t *testing.T) {
	// Enough packets that the cap is checked (from CapEvery*64 items on)
	// many times.
	conns := 300
	if testing.Short() || raceEnabled {
		conns = 200
	}
	pkts, err := capgen.Churn(capgen.ChurnOptions{Seed: 4, Conns: conns, DNS: conns / 2, Span: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	sameOutput(t, "churn, cap 20", pkts, config(20))
	rec := decodeAll(pkts, 2, 9, config(20))
	if !strings.Contains(rec.buf.String(), `"Kind":"evicted"`) {
		t.Fatal("no eviction note: the cap was never reached")
	}
}
