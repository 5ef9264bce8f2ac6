package http2

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// benchConn is a decode.Conn that counts publications and keeps nothing,
// so the benchmark measures the parser.
type benchConn struct {
	flow   decode.Flow
	id     uint64
	finals int
}

func (c *benchConn) Flow() *decode.Flow { return &c.flow }
func (c *benchConn) NewExchange(proto string) *decode.Exchange {
	c.id++
	return &decode.Exchange{ID: c.id, Proto: proto, State: decode.Pending}
}
func (c *benchConn) Publish(e *decode.Exchange) {
	cp := *e // decode/tcp copies the exchange on every publication
	if cp.State.Final() {
		c.finals++
	}
}
func (c *benchConn) SetProto(string)                     {}
func (c *benchConn) SetTLS(*decode.TLSInfo)              {}
func (c *benchConn) SwapDirections()                     {}
func (c *benchConn) Handoff(string) decode.StreamHandler { return nil }
func (c *benchConn) Limits() decode.Limits               { return decode.Limits{} }
func (c *benchConn) Note(string)                         {}

// benchWire is one connection of n streams: a request HEADERS, response
// HEADERS and four 100-byte DATA frames each, written by x/net's Framer
// and HPACK encoder as a real peer would (dynamic table in use). For
// gRPC, the request carries one message and the response four, with
// trailers.
func benchWire(b *testing.B, n int, grpcCalls bool) *wire {
	w := newWire(b).start()
	msg := make([]byte, 95)
	binary.BigEndian.PutUint32(msg[1:], 90)
	for i := range n {
		sid := uint32(2*i + 1)
		if grpcCalls {
			w.headers(c2s, sid, false, ":method", "POST", ":scheme", "http", ":authority", "svc:50051", ":path", "/pets.v1.Store/Get",
				"content-type", "application/grpc", "te", "trailers", "grpc-timeout", "1S")
			w.data(c2s, sid, true, msg)
			w.headers(s2c, sid, false, ":status", "200", "content-type", "application/grpc")
		} else {
			w.headers(c2s, sid, true, ":method", "GET", ":scheme", "http", ":authority", "api:8080", ":path", fmt.Sprintf("/pets/%d", i),
				"user-agent", "bench/1.0", "accept", "application/json")
			w.headers(s2c, sid, false, ":status", "200", "content-type", "application/json")
		}
		for k := range 4 {
			end := k == 3 && !grpcCalls
			if grpcCalls {
				w.data(s2c, sid, false, msg[:95])
			} else {
				w.data(s2c, sid, end, msg[:100-5])
			}
		}
		if grpcCalls {
			w.headers(s2c, sid, true, "grpc-status", "0", "grpc-message", "")
		}
	}
	return w
}

func benchRun(b *testing.B, n int, grpcCalls bool) {
	w := benchWire(b, n, grpcCalls)
	p := New()
	ts := time.Unix(1, 0)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c := &benchConn{}
		h := p.New(c)
		for _, ch := range w.chunks {
			h.Data(ch.dir, ch.data, ts)
		}
		h.End(decode.FlowClosed, ts)
		if c.finals != n {
			b.Fatalf("%d exchanges finished, want %d", c.finals, n)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	ex := float64(b.N) * float64(n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/ex, "ns/exchange")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/ex, "allocs/exchange")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/ex, "B/exchange")
}

// BenchmarkH2Stream decodes one connection carrying many streams with
// small DATA frames, reporting the cost per exchange.
func BenchmarkH2Stream(b *testing.B) {
	b.Run("h2", func(b *testing.B) { benchRun(b, 200, false) })
	b.Run("grpc", func(b *testing.B) { benchRun(b, 200, true) })
}
