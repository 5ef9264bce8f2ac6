package store

import (
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// BenchmarkStoreExchange is the decoder-side cost of keeping one final
// HTTP/1 exchange with a 2 KB body: summary, index and spill write.
func BenchmarkStoreExchange(b *testing.B) {
	s := New(Options{Spill: openSpill(b, 0)})
	body := strings.Repeat("j", 2048)
	exs := make([]*decode.Exchange, 1024)
	for i := range exs {
		exs[i] = httpExchange(uint64(i+1), body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := *exs[i%len(exs)]
		e.ID = uint64(i + 1)
		s.Exchange(&e)
	}
	b.StopTimer()
	b.ReportMetric(float64(s.Memory())/float64(b.N), "mem-B/exchange")
}

// BenchmarkOpenLast is opening the newest exchange's detail in a store of
// 300,000: the whole exchange is re-read from the spill.
func BenchmarkOpenLast(b *testing.B) {
	s := New(Options{Spill: openSpill(b, 0)})
	body := strings.Repeat("j", 2048)
	const n = 300_000
	for id := uint64(1); id <= n; id++ {
		s.Exchange(httpExchange(id, body))
	}
	b.ReportMetric(float64(s.Memory())/n, "mem-B/exchange")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := s.ExchangeByID(n - uint64(i%1000))
		if e == nil || len(e.Response.Body) != 2048 {
			b.Fatal("lost the body")
		}
	}
}

// BenchmarkScan is a filter pass's read of 300,000 summaries.
func BenchmarkScan(b *testing.B) {
	s := New(Options{})
	const n = 300_000
	for id := uint64(1); id <= n; id++ {
		s.Exchange(httpExchange(id, "x"))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := 0
		s.Scan(0, n, func(_ int, e *decode.Exchange) bool {
			if e.Status() >= 500 {
				k++
			}
			return true
		})
	}
}
