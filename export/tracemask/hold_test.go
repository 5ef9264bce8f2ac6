package tracemask

import (
	"bufio"
	"io"
	"os"
	"testing"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"

	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/sources/taptrace"
)

// Past the hold bound the oldest held trace is masked and released, so
// memory stays bounded however many streamed traces never complete;
// every segment still comes out exactly once, in its trace's order.
func TestHoldBoundReleasesOldest(t *testing.T) {
	rd := reopen(t)
	var in []*tapv3.TraceWrapper
	for {
		w, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, w)
	}
	streamed := 0
	for _, w := range in {
		if w.GetHttpStreamedTraceSegment() != nil {
			streamed++
		}
	}
	if streamed < 4 {
		t.Fatalf("the corpus traces have %d streamed segments: re-run scripts/record-leak-traces.sh", streamed)
	}
	// Without the bound only completed traces (response trailers) are
	// released before Flush.
	unbounded := 0
	y := New(mask.Default())
	for _, w := range in {
		unbounded += len(y.Add(w))
	}
	in = nil
	rd2 := reopen(t)
	for {
		w, err := rd2.Next()
		if err == io.EOF {
			break
		}
		in = append(in, w)
	}
	x := New(mask.Default())
	x.hold = 600 // bytes: about one segment with headers
	seen := map[*tapv3.TraceWrapper]int{}
	var out []*tapv3.TraceWrapper
	maxHeld := int64(0)
	for _, w := range in {
		out = append(out, x.Add(w)...)
		maxHeld = max(maxHeld, x.bytes)
	}
	released := len(out)
	out = append(out, x.Flush()...)
	for _, w := range out {
		seen[w]++
	}
	if len(out) != len(in) || len(seen) != len(in) {
		t.Fatalf("%d traces in, %d out (%d distinct)", len(in), len(out), len(seen))
	}
	if released <= unbounded {
		t.Errorf("the bound released no more before Flush than completion did (%d, %d without the bound, of %d)", released, unbounded, len(in))
	}
	if maxHeld > x.hold+4096 {
		t.Errorf("held %d bytes with a bound of %d", maxHeld, x.hold)
	}
	if x.bytes != 0 || len(x.held) != 0 {
		t.Errorf("after Flush %d bytes in %d traces still held", x.bytes, len(x.held))
	}
	// Within one trace the segments keep their order.
	last := map[uint64]int{}
	for i, w := range out {
		if s := w.GetHttpStreamedTraceSegment(); s != nil {
			pos := -1
			for j, v := range in {
				if v == w {
					pos = j
				}
			}
			if p, ok := last[s.GetTraceId()]; ok && pos < p {
				t.Errorf("trace %d: segment %d written after a later one (output %d)", s.GetTraceId(), pos, i)
			}
			last[s.GetTraceId()] = pos
		}
	}
}

// reopen reads the corpus's HTTP traces afresh (masking changes them in
// place).
func reopen(t *testing.T) *taptrace.Reader {
	t.Helper()
	f, err := os.Open("../../testdata/leak/taps-http.pb_length_delimited")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	rd, err := taptrace.NewReader(bufio.NewReader(f), taptrace.Delimited, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rd
}
