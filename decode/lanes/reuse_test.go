package lanes_test

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tapview/tapview/bench/capgen"
	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/lanes"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
)

// copyingRecorder is a recorder that says it copies flows: the merge then
// hands it the lanes' flows in the chunks they reuse (tcp.FlowChunk)
// instead of a heap copy each. It writes a flow down when given it, and
// keeps the pointers to check afterwards that they were reused.
type copyingRecorder struct {
	recorder
	seen  map[*decode.Flow]bool
	again int // flows given at a place given before
}

func (r *copyingRecorder) CopiesFlows() bool { return true }

func (r *copyingRecorder) Flow(f *decode.Flow) {
	if r.seen[f] {
		r.again++
	}
	r.seen[f] = true
	r.recorder.Flow(f)
}

// decodeInto runs pkts through n lanes into out (decodeAll records
// them): seed picks where batches are handed over and their size, which
// must not matter; ticks come at fixed packets.
func decodeInto(out decode.Output, pkts []sources.Packet, n int, seed uint64, cfg func() tcp.Config) {
	r := rand.New(rand.NewPCG(seed, 7))
	d := lanes.New(out, lanes.Options{Lanes: n, Config: cfg, Batch: 1 + r.IntN(400), Queue: 1 + r.IntN(8), InFlight: 1 + r.Int64N(256<<10)})
	var last time.Time
	for i := range pkts {
		p := pkts[i]
		d.Packet(&p)
		if p.Timestamp.After(last) {
			last = p.Timestamp
		}
		if r.IntN(40) == 0 {
			d.EndBatch(false)
		}
		if i%997 == 996 {
			d.Tick(last)
		}
	}
	d.Finish(last)
}

// TestReusedFlowsSameOutput: publishing flows from reused chunks (to an
// output that copies) gives the same publications, every version, as
// heap copies (to an output that keeps them), for any number of lanes,
// with a flow cap that makes evictions publish thousands at once. A
// chunk released before the merge published all its flows would show:
// Release zeroes them (lost IDs, empty versions), and under -race a
// lane refilling a chunk the merge still reads is a data race.
func TestReusedFlowsSameOutput(t *testing.T) {
	conns := 300
	if testing.Short() || raceEnabled {
		conns = 150
	}
	pkts, err := capgen.Churn(capgen.ChurnOptions{Seed: 4, Conns: conns, DNS: conns / 2, Span: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, maxFlows := range []int{0, 20} {
		want := decodeAll(pkts, 1, 1, config(maxFlows))
		runs := []struct {
			n    int
			seed uint64
		}{{1, 2}, {2, 3}, {3, 4}}
		if raceEnabled {
			runs = runs[1:2]
		}
		for _, run := range runs {
			got := &copyingRecorder{seen: map[*decode.Flow]bool{}}
			decodeInto(got, pkts, run.n, run.seed, config(maxFlows))
			if !bytes.Equal(got.buf.Bytes(), want.buf.Bytes()) {
				t.Errorf("cap %d, -j %d: reused flows differ from heap copies: %s", maxFlows, run.n, firstDiff(want.buf.String(), got.buf.String()))
			}
			if got.again == 0 {
				t.Errorf("cap %d, -j %d: no flow was published at a place used before; the chunks were not reused", maxFlows, run.n)
			}
		}
	}
}
