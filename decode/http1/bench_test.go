package http1

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// benchConn is a Conn that only counts, so the benchmark measures the
// parser rather than the recorder.
type benchConn struct {
	flow    decode.Flow
	next    uint64
	finals  int
	publish int
}

func (c *benchConn) Flow() *decode.Flow { return &c.flow }
func (c *benchConn) NewExchange(proto string) *decode.Exchange {
	c.next++
	return &decode.Exchange{ID: c.next, Proto: proto, Client: c.flow.Client, Server: c.flow.Server}
}
func (c *benchConn) Publish(e *decode.Exchange) {
	c.publish++
	if e.State.Final() {
		c.finals++
	}
}
func (c *benchConn) SetProto(string)                     {}
func (c *benchConn) SetTLS(*decode.TLSInfo)              {}
func (c *benchConn) SwapDirections()                     {}
func (c *benchConn) Handoff(string) decode.StreamHandler { return nil }
func (c *benchConn) Limits() decode.Limits               { return decode.Limits{} }
func (c *benchConn) Note(string)                         {}

// keepAliveSegments builds n request/response pairs of a JSON API on one
// connection, cut into 1448-byte segments as TCP would deliver them.
func keepAliveSegments(n int, gzipped bool) (segs []delivery) {
	var js bytes.Buffer
	js.WriteString(`{"items":[`)
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&js, `{"id":%d,"name":"item-%d","price":%d.99,"tags":["a","b"]},`, i, i, i*3)
	}
	js.WriteString(`{}]}`)
	var gzBody bytes.Buffer
	coding := "identity"
	if gzipped {
		w := gzip.NewWriter(&gzBody)
		w.Write(js.Bytes())
		w.Close()
		coding = "gzip"
	} else {
		gzBody.Write(js.Bytes())
	}
	ts := time.Unix(1700000000, 0)
	cut := func(dir decode.Direction, b []byte) {
		for len(b) > 0 {
			k := min(len(b), 1448)
			segs = append(segs, delivery{dir: dir, data: b[:k], ts: ts})
			b = b[k:]
			ts = ts.Add(50 * time.Microsecond)
		}
	}
	for i := 0; i < n; i++ {
		req := fmt.Sprintf("GET /api/v1/items?page=%d&limit=12 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: bench/1.0\r\nAccept: application/json\r\nAccept-Encoding: gzip, deflate\r\nAuthorization: Bearer abc.def.ghi\r\nConnection: keep-alive\r\n\r\n", i)
		cut(decode.ClientToServer, []byte(req))
		resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\nContent-Type: application/json\r\nContent-Encoding: %s\r\nVary: Accept-Encoding\r\nCache-Control: no-store\r\nX-Request-Id: %08d\r\nContent-Length: %d\r\n\r\n", coding, i, gzBody.Len())
		cut(decode.ServerToClient, append([]byte(resp), gzBody.Bytes()...))
	}
	return segs
}

// BenchmarkParseKeepAlive parses many gzip JSON exchanges on one
// connection and reports the cost per exchange (DecodedSize included).
func BenchmarkParseKeepAlive(b *testing.B) { benchKeepAlive(b, true) }

// BenchmarkParseKeepAliveIdentity is the same without content coding, to
// separate parsing from inflating.
func BenchmarkParseKeepAliveIdentity(b *testing.B) { benchKeepAlive(b, false) }

func benchKeepAlive(b *testing.B, gzipped bool) {
	const perConn = 1000
	segs := keepAliveSegments(perConn, gzipped)
	p := New()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := &benchConn{flow: decode.Flow{Client: netip.MustParseAddrPort("10.0.0.1:1"), Server: netip.MustParseAddrPort("10.0.0.2:80")}}
		h := p.New(c)
		for _, s := range segs {
			h.Data(s.dir, s.data, s.ts)
		}
		h.End(decode.FlowClosed, time.Time{})
		if c.finals != perConn {
			b.Fatalf("%d final exchanges, want %d", c.finals, perConn)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perConn), "ns/exchange")
}

// TestAllocsPerExchange bounds allocations per exchange, so a change that
// adds per-byte or per-header allocations fails here.
func TestAllocsPerExchange(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are meaningful only without -race and -short")
	}
	const perConn = 200
	segs := keepAliveSegments(perConn, true)
	p := New()
	allocs := testing.AllocsPerRun(5, func() {
		c := &benchConn{}
		h := p.New(c)
		for _, s := range segs {
			h.Data(s.dir, s.data, s.ts)
		}
		h.End(decode.FlowClosed, time.Time{})
	})
	per := allocs / perConn
	t.Logf("%.1f allocs per exchange", per)
	// 7 since issue 16: per message its header block as one string and
	// the message with its header list; per exchange the parser's
	// bookkeeping, the Exchange and the response body (the coding list
	// of a gzip body is shared).
	if per > 8 {
		t.Fatalf("%.1f allocations per exchange; the parser needs 7", per)
	}
}

// BenchmarkParseKeepAliveTrailerSizes is BenchmarkParseKeepAlive with
// Options.GzipTrailerSizes.
func BenchmarkParseKeepAliveTrailerSizes(b *testing.B) {
	const perConn = 1000
	segs := keepAliveSegments(perConn, true)
	p := NewWithOptions(Options{GzipTrailerSizes: true})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := &benchConn{}
		h := p.New(c)
		for _, s := range segs {
			h.Data(s.dir, s.data, s.ts)
		}
		h.End(decode.FlowClosed, time.Time{})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perConn), "ns/exchange")
}
