package taptrace_test

import (
	"testing"
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/proto"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/taptrace"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// FuzzDecoder feeds arbitrary (wire-valid) traces, several per input, to
// the decoder wired to the real TCP decoder: nothing may panic, and every
// streamed trace must be finalised by Flush.
func FuzzDecoder(f *testing.F) {
	seeds := []*tapv3.TraceWrapper{tracetest.HTTPBuffered(1, "/", 200, "x"), tracetest.GRPCBuffered(2), tracetest.SocketBuffered(3)}
	seeds = append(seeds, tracetest.HTTPStreamed(4, "/s")...)
	seeds = append(seeds, tracetest.SocketStreamed(5, 6)...)
	for _, w := range seeds {
		b, _ := proto.Marshal(w)
		f.Add(b, b)
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		out := newOutput()
		td := tcp.NewDecoder(out, tcp.Config{Parsers: []decode.Parser{http1.New()}})
		d := taptrace.NewDecoder(out, taptrace.Opener(td.OpenStream), counter(1<<40), taptrace.Options{MaxPending: 4, Limits: decode.Limits{MaxBody: 64}})
		for i, data := range [][]byte{a, b, a} {
			w := &tapv3.TraceWrapper{}
			if proto.Unmarshal(data, w) != nil {
				continue
			}
			d.Trace(trace(w, i))
		}
		d.Flush()
		td.Finish(tracetest.Base().Add(time.Hour))
		if d.Pending() != 0 {
			t.Fatalf("%d streamed traces left after Flush", d.Pending())
		}
		for _, e := range out.pubs {
			for _, m := range []*decode.Message{e.Request, e.Response} {
				if m != nil && len(m.Body) > 64 && e.Proto != "http/1.1" {
					t.Fatalf("body of %d bytes over the 64-byte cap", len(m.Body))
				}
			}
		}
	})
}

func BenchmarkBufferedHTTP(b *testing.B) {
	out := newOutput()
	d := taptrace.NewDecoder(discard{}, nil, counter(0), taptrace.Options{})
	_ = out
	tr := trace(tracetest.HTTPBuffered(1, "/bench", 200, `{"ok":true}`), 1)
	b.ReportAllocs()
	for b.Loop() {
		d.Trace(tr)
	}
}

type discard struct{}

func (discard) Exchange(*decode.Exchange) {}
func (discard) Flow(*decode.Flow)         {}
func (discard) Note(sources.Status)       {}
