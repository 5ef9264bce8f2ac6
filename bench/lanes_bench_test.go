package bench_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/tapview/tapview/bench/capgen"
	"github.com/tapview/tapview/bench/tapdecode"
	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/dns"
	"github.com/tapview/tapview/decode/lanes"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/export/jsonl"
)

// BenchmarkLanes is BenchmarkHeadlessJSON through decode/lanes with 1
// and 2 decoder lanes (batches handed over as the pipeline does for a
// file): wall time per packet shows the speedup, CPU time per exchange
// what running on several cores costs.
func BenchmarkLanes(b *testing.B) {
	pkts, st := replayed(b, capgen.MixHTTP1, 20000)
	cfg := func() tcp.Config {
		return tcp.Config{Parsers: tapdecode.Parsers(), Datagrams: []decode.DatagramParser{dns.New()}, SkipOrdinals: true}
	}
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("lanes=%d", n), func(b *testing.B) {
			m := mask.Default()
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				w := jsonl.NewWriter(io.Discard, jsonl.Options{Mask: m.Exchange})
				d := lanes.New(w, lanes.Options{Lanes: n, Config: cfg})
				for i := range pkts {
					d.Packet(&pkts[i])
				}
				d.Finish(pkts[len(pkts)-1].Timestamp)
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			reportPer(b, len(pkts), st.Exchanges, cpu0)
		})
	}
}
