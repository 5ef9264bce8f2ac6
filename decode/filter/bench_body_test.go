package filter

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// bodyExchanges builds n HTTP exchanges whose responses carry ~2 KB
// gzip-encoded JSON bodies, the shape of issue 15's slow body filter
// (200k exchanges, 11.6 s). One exchange in twenty is a 5xx, and about
// a third of the bodies contain "error", so a body test that runs first pays
// for a gzip decode on every exchange, while one that runs after the
// status test pays on one in twenty. The bodies come from a pool of
// distinct payloads because compressing 200k of them would dominate the
// benchmark's setup, and decoding is not cached across exchanges, so a
// shared body costs what a distinct one does.
func bodyExchanges(tb testing.TB, n int) []*decode.Exchange {
	const distinct = 1024
	var zw *gzip.Writer
	bodies := make([][]byte, distinct)
	plain := make([]int64, distinct)
	for i := range bodies {
		var js strings.Builder
		js.WriteString(`{"items":[`)
		for j := 0; js.Len() < 2000; j++ {
			if j > 0 {
				js.WriteByte(',')
			}
			fmt.Fprintf(&js, `{"id":%d,"name":"item-%d-%d","price":%d.%02d,"tags":["a%d","b%d"]}`, j, i, j, i*j%997, j%100, i%13, j%17)
		}
		js.WriteString(`]`)
		if i%3 == 0 {
			fmt.Fprintf(&js, `,"error":"upstream %d failed"`, i)
		}
		js.WriteString(`}`)
		var buf bytes.Buffer
		if zw == nil {
			zw = gzip.NewWriter(&buf)
		} else {
			zw.Reset(&buf)
		}
		if _, err := zw.Write([]byte(js.String())); err != nil {
			tb.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			tb.Fatal(err)
		}
		bodies[i], plain[i] = buf.Bytes(), int64(js.Len())
	}
	statuses := []int{200, 200, 201, 204, 404, 200, 302, 200, 200, 400, 200, 200, 200, 304, 200, 200, 401, 200, 200}
	out := make([]*decode.Exchange, n)
	for i := range out {
		start := t0.Add(time.Duration(i) * time.Millisecond)
		status := statuses[i%len(statuses)]
		if i%20 == 0 {
			status = 500 + i%4
		}
		b := bodies[i%distinct]
		out[i] = &decode.Exchange{
			ID: uint64(i), Proto: "http/1.1", State: decode.Complete,
			Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(40000+i%20000)),
			Server: netip.MustParseAddrPort("10.1.0.1:8080"),
			Request: &decode.Message{
				First: start, Method: "GET", Target: fmt.Sprintf("/api/items?page=%d", i%50), Host: "shop.svc",
				Headers: []decode.Header{{Name: "Host", Value: "shop.svc"}, {Name: "Accept", Value: "application/json"}},
			},
			Response: &decode.Message{
				Last: start.Add(time.Duration(i%300) * time.Millisecond), Status: status,
				Headers: []decode.Header{
					{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Encoding", Value: "gzip"},
				},
				Body: b, BodySize: int64(len(b)), ContentEncoding: []string{"gzip"}, DecodedSize: plain[i%distinct],
			},
		}
	}
	return out
}

// BenchmarkBodyFilter200k is issue 15's slow filter over 200k exchanges
// on one worker (one op is the whole batch), plus the same filter with
// the conjuncts written the cheap way round and through CEL (the
// size() term keeps it off the native path), so the report shows that
// the order the user typed no longer matters on either evaluator.
func BenchmarkBodyFilter200k(b *testing.B) {
	exs := bodyExchanges(b, 200_000)
	for _, expr := range []string{
		`resp_body.contains("error") && status >= 500`,
		`status >= 500 && resp_body.contains("error")`,
		`resp_body.contains("error") && size(resp_body) > 10 && status >= 500`,
	} {
		p := mustCompile(b, expr)
		b.Run(expr, func(b *testing.B) {
			var n int
			cpu0 := processCPU()
			for b.Loop() {
				n = len(p.MatchAll(exs, 1))
			}
			b.ReportMetric(float64(n), "matches")
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/1e9, "cpu-s/op")
		})
	}
}
