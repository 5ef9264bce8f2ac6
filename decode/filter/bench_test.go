package filter

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// benchExchanges returns n exchange pointers over a pool of distinct,
// varied exchanges (methods, paths, statuses, latencies, headers), so the
// benchmark touches realistic amounts of memory without holding a million
// full exchanges.
func benchExchanges(n, distinct int) []*decode.Exchange {
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	paths := []string{"/api/v1/pets", "/health", "/api/v2/orders/42?expand=items", "/static/app.js", "/login"}
	pool := make([]*decode.Exchange, distinct)
	for i := range pool {
		start := t0.Add(time.Duration(i) * time.Millisecond)
		pool[i] = &decode.Exchange{
			ID: uint64(i), Proto: "http/1.1", State: decode.Complete,
			Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(40000+i%20000)),
			Server: netip.MustParseAddrPort("10.1.0.1:8080"),
			Request: &decode.Message{
				First: start, Method: methods[i%len(methods)], Target: paths[i%len(paths)],
				Host: fmt.Sprintf("svc%d.shop.svc", i%7),
				Headers: []decode.Header{
					{Name: "Host", Value: "svc.shop.svc"}, {Name: "User-Agent", Value: "curl/8"},
					{Name: "Accept", Value: "*/*"}, {Name: "Authorization", Value: "Bearer x"},
				}[:3+i%2],
			},
			Response: &decode.Message{
				Last: start.Add(time.Duration(i%400) * time.Millisecond), Status: []int{200, 201, 404, 500, 503}[i%5],
				Headers: []decode.Header{{Name: "Content-Type", Value: "application/json"}},
			},
		}
	}
	out := make([]*decode.Exchange, n)
	for i := range out {
		out[i] = pool[i%distinct]
	}
	return out
}

var benchExprs = []string{
	`status >= 500`,
	`method == "POST" && path.startsWith("/api")`,
	`latency > duration("250ms")`,
	`"authorization" in req_headers`,
	`grpc_status != 0`,
	`host.matches("^svc3\\.")`,
	`pets`,
	`size(req_headers) > 3 && method != "GET"`,
}

// BenchmarkMatchAll1M filters one million exchanges on two workers; one
// op is the whole million, so ns/op / 1e6 is the per-exchange cost and
// the product target is ns/op < 200e6.
func BenchmarkMatchAll1M(b *testing.B) {
	exs := benchExchanges(1_000_000, 1<<16)
	for _, expr := range benchExprs {
		p := mustCompile(b, expr)
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			cpu0 := processCPU()
			for b.Loop() {
				n = len(p.MatchAll(exs, 2))
			}
			b.ReportMetric(float64(n), "matches")
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/1e6, "cpu-ns/exchange")
		})
	}
}

// BenchmarkMatch is the single-exchange path the UI and headless writers
// use.
func BenchmarkMatch(b *testing.B) {
	exs := benchExchanges(1<<16, 1<<16)
	for _, expr := range benchExprs {
		p := mustCompile(b, expr)
		b.Run(expr, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			cpu0 := processCPU()
			for b.Loop() {
				p.Match(exs[i&(len(exs)-1)])
				i++
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(`method == "POST" && path.startsWith("/api")`); err != nil {
			b.Fatal(err)
		}
	}
}
