package mask

import (
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// cleanExchange is a typical API exchange with nothing to hide: the
// common case, which must stay cheap because every displayed or exported
// exchange goes through the masker.
func cleanExchange() *decode.Exchange {
	resp := `{"pets":[` + strings.Repeat(`{"id":12,"name":"rex","tag":"dog","born":"2019-03-01T10:00:00Z"},`, 40) + `{"id":1}]}`
	return &decode.Exchange{
		Proto: "http/1.1",
		Request: &decode.Message{Method: "GET", Target: "/api/v1/pets?limit=50&offset=100", Host: "api.example.com",
			Headers: []decode.Header{
				{Name: "Host", Value: "api.example.com"}, {Name: "User-Agent", Value: "Mozilla/5.0 (X11; Linux x86_64)"},
				{Name: "Accept", Value: "application/json"}, {Name: "Accept-Encoding", Value: "gzip, br"},
				{Name: "X-Request-Id", Value: "7f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"},
			}},
		Response: &decode.Message{Status: 200,
			Headers: []decode.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "Content-Length", Value: "2700"}},
			Body:    []byte(resp)},
	}
}

func BenchmarkExchangeClean(b *testing.B) {
	m := Default()
	e := cleanExchange()
	b.SetBytes(int64(len(e.Response.Body)))
	b.ReportAllocs()
	defer reportCPU(b, processCPU())
	for b.Loop() {
		if m.Exchange(e) != e {
			b.Fatal("clean exchange was copied")
		}
	}
}

func BenchmarkExchangeSecrets(b *testing.B) {
	m := Default()
	e := plantedExchange(b, jsonBody(), "gzip")
	b.ReportAllocs()
	defer reportCPU(b, processCPU())
	for b.Loop() {
		m.Exchange(e)
	}
}

// BenchmarkMaskInPlacePacket is pcap export's cost per full-size TCP
// segment of HTTP/1 text.
func BenchmarkMaskInPlacePacket(b *testing.B) {
	m := Default()
	src := []byte(rawHTTP())
	src = append(src, strings.Repeat("x", 1460)...)[:1460]
	buf := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	defer reportCPU(b, processCPU())
	for b.Loop() {
		copy(buf, src)
		m.MaskInPlace(buf)
	}
}

func BenchmarkMaskInPlaceCleanJSON(b *testing.B) {
	m := Default()
	src := cleanExchange().Response.Body
	buf := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	defer reportCPU(b, processCPU())
	for b.Loop() {
		copy(buf, src)
		m.MaskInPlace(buf)
	}
}

// reportCPU adds the process CPU time per op: the build machine is
// shared, so wall time alone overstates the cost.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

// nginxHeaders are the header lists of a typical exchange of
// bench/record-nginx.sh's capture: nothing to hide, the common case of
// `tapview open -o json`, which masks every header value.
func nginxHeaders() *decode.Exchange {
	return &decode.Exchange{
		Proto: "http/1.1",
		Request: &decode.Message{Method: "GET", Target: "/api/users.json?page=1&sort=created", Host: "127.0.0.1:18080",
			Headers: []decode.Header{
				{Name: "User-Agent", Value: "wrk/4.1 record-nginx"}, {Name: "Accept-Encoding", Value: "gzip"},
				{Name: "Host", Value: "127.0.0.1:18080"}, {Name: "Accept", Value: "application/json"},
				{Name: "If-None-Match", Value: `"6b1645b4-730"`},
			}},
		Response: &decode.Message{Status: 200,
			Headers: []decode.Header{
				{Name: "Server", Value: "nginx"}, {Name: "Date", Value: "Mon, 07 Dec 2026 05:35:51 GMT"},
				{Name: "Content-Type", Value: "application/json"}, {Name: "Last-Modified", Value: "Mon, 07 Dec 2026 05:35:48 GMT"},
				{Name: "Transfer-Encoding", Value: "chunked"}, {Name: "Connection", Value: "keep-alive"},
				{Name: "Vary", Value: "Accept-Encoding"}, {Name: "ETag", Value: `W/"6b1645b4-1640"`},
				{Name: "Content-Encoding", Value: "gzip"},
			}},
	}
}

// BenchmarkExchangeHeaders masks an exchange without bodies (what
// `open -o json` gives the masker): header values and the target.
func BenchmarkExchangeHeaders(b *testing.B) {
	m := Default()
	e := nginxHeaders()
	b.ReportAllocs()
	defer reportCPU(b, processCPU())
	for b.Loop() {
		if m.Exchange(e) != e {
			b.Fatal("clean exchange was copied")
		}
	}
}
