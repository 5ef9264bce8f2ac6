package har

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/http2"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/decode/ws"
	"github.com/tapview/tapview/sources"
)

// collect keeps the final exchanges of a decode.
type collect struct{ xs []*decode.Exchange }

func (c *collect) Flow(*decode.Flow) {}
func (c *collect) Exchange(e *decode.Exchange) {
	if e.State.Final() {
		c.xs = append(c.xs, e)
	}
}
func (c *collect) Note(sources.Status) {}

// captureExchanges decodes the HTTP exchanges of the shared corpus and
// of the repository's testdata captures (conformance suites, tunnels,
// leak tests).
func captureExchanges(t *testing.T) []*decode.Exchange {
	t.Helper()
	var files []string
	for _, pat := range []string{filepath.Join(corpustest.Dir(t), "*.pcap*"), "../../testdata/*/*.pcap*", "../../testdata/*/*/*.pcap*"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	c := &collect{}
	for _, f := range files {
		pkts, _ := corpustest.ReadPath(f) // damaged files: the packets before the damage
		d := tcp.NewDecoder(c, tcp.Config{Parsers: []decode.Parser{http1.NewWithOptions(http1.Options{GzipTrailerSizes: true}), http2.New(), ws.New()}})
		for i := range pkts {
			d.Packet(&pkts[i])
		}
		d.Finish(time.Time{})
	}
	return c.xs
}

// compareEntries encodes each exchange with the hand-written encoder
// and with the encoding/json oracle, each through its own Encoder (so
// both inflate), and reports the first differences.
func compareEntries(t *testing.T, xs []*decode.Exchange) (compared int) {
	t.Helper()
	var enc, oracle Encoder
	defer enc.Close()
	defer oracle.Close()
	var got, want []byte
	bad := 0
	for _, x := range xs {
		if !Supported(x) {
			continue
		}
		var err error
		got, err = enc.Entry(x, got[:0])
		if err != nil {
			t.Fatal(err)
		}
		want, err = oldEntryJSON(&oracle, x, want[:0])
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		compared++
		if !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Errorf("exchange %d (%q %q) differs at byte %d:\n got …%s\nwant …%s", x.ID, x.Method(), x.Path(), i, excerpt(got, i), excerpt(want, i))
			if bad++; bad > 5 {
				t.FailNow()
			}
		}
	}
	return compared
}

func excerpt(b []byte, i int) []byte { return b[max(0, i-60):min(len(b), i+60)] }

// TestEntriesMatchEncodingJSON checks the hand-written encoder against
// the encoding/json one it replaced, byte for byte, on every HTTP
// exchange of the corpus and the testdata captures, as captured and as
// masked (the masker puts bullets, a non-ASCII rune, into values), and
// on the hand-made samples.
func TestEntriesMatchEncodingJSON(t *testing.T) {
	xs := append(sampleExchanges(t), captureExchanges(t)...)
	n := compareEntries(t, xs)
	if n < 300 {
		t.Fatalf("only %d entries compared: the captures were not found or not decoded", n)
	}
	m := mask.Default()
	masked := make([]*decode.Exchange, len(xs))
	for i, x := range xs {
		masked[i] = m.Exchange(x)
	}
	compareEntries(t, masked)
}

// TestEntriesMatchEncodingJSONEdges covers what captures rarely hold:
// every escape encoding/json writes, invalid UTF-8, U+2028, text that is
// not text (controls, DEL), numbers in exponent form, cookies with every
// attribute, form posts, missing responses and odd targets.
func TestEntriesMatchEncodingJSONEdges(t *testing.T) {
	odd := "a\"b\\c\x00\x01\b\f\n\r\t\x1f\x7f<>&\u2028\u2029é\xff\xc3(•\u0085"
	var xs []*decode.Exchange
	for i, target := range []string{"/p?a=1&b=%zz&c=%41+b&&=x&" + odd, "HTTP://Host/x", "hTTps://h/y?q#frag", "httpſ://h/", "HTTPſ://", "\u0130ttp://x", "*", "example.com:443", "rel/ative", odd} {
		for j, ct := range []string{"", "application/json", "Application/X-WWW-Form-Urlencoded; charset=utf-8", "IMAGE/png", "İmage/png", "text/plain"} {
			for k, bd := range []string{"", "name=a+b&x=%41&&y", "plain text é", odd, "line\nbreak\ttab\r", "\u2028x\u2029", string([]byte{0, 1, 2, 0xff})} {
				e := &decode.Exchange{ID: uint64(i*100 + j*10 + k), FlowID: uint64(k), Proto: []string{"http/1.1", "h2", "grpc", "http/1.0"}[k%4],
					State: []decode.ExchangeState{decode.Complete, decode.Orphan, "", decode.Complete}[j%4], Error: odd[:k],
					Server: []netip.AddrPort{{}, netip.MustParseAddrPort("[::ffff:10.0.0.1]:80"), netip.MustParseAddrPort("[fe80::1%eth0]:8080")}[k%3],
					TLS:    j%2 == 0,
					Request: &decode.Message{First: t0, Last: t0.Add(time.Duration(k) * 7 * time.Nanosecond), Method: []string{"GET", "CONNECT", "PO\"ST"}[i%3],
						Target: target, Host: []string{"", "h", odd}[j%3], Scheme: []string{"", "http", "h2c"}[k%3], Proto: []string{"HTTP/1.1", "", "HTTP/2"}[i%3],
						Headers: hs("Content-Type", ct, "Cookie", " a=1; b ; =c;"+odd+"; d=e=f", "cOOkie", "x=y", odd, odd),
						Body:    []byte(bd), BodySize: int64(len(bd) * (k % 2)), Truncated: k == 3},
				}
				if k != 5 {
					e.Response = &decode.Message{First: t0.Add(time.Duration(i*j*k) * time.Microsecond / 3), Last: t0.Add(time.Hour * time.Duration(k)),
						Status: []int{200, 0, 799, -5, 404}[k%5], Reason: []string{"", "OK", odd}[j%3], Proto: []string{"HTTP/1.1", "", "HTTP/2"}[k%3],
						Headers: hs("content-type", ct, "Set-Cookie", "sid=1; Path=/p; Domain=d; Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly; Secure",
							"set-cookie", "noeq", "Set-Cookie", " =x", "Set-Cookie", "a=b", "Location", odd),
						Trailers: hs("grpc-status", "1")[:k%2], Body: []byte(bd), BodySize: int64(len(bd)), DecodedSize: int64(len(bd) * (j % 3)),
						DecodeError: []string{"", "bad gzip"}[k%2]}
					if k%2 == 1 {
						e.Response.Body = nil
					}
				}
				if k > 2 {
					e.GRPC = &decode.GRPCInfo{Status: k - 4, Message: odd[:j]}
				}
				xs = append(xs, e)
			}
		}
	}
	// Exponent-form numbers: a sub-microsecond send and an hour-long
	// receive stay plain, 1e21 ms does not occur; timings near the
	// rounding edge.
	for _, d := range []time.Duration{1, 499, 500, 1500, 999999, time.Duration(1<<62 - 1)} {
		e := sampleExchanges(t)[0]
		e.Request.Last = e.Request.First.Add(d)
		e.Response.Last = e.Response.First.Add(d)
		xs = append(xs, e)
	}
	if n := compareEntries(t, xs); n < len(xs)/2 {
		t.Fatalf("only %d of %d compared", n, len(xs))
	}
}

// FuzzEntriesMatchEncodingJSON feeds arbitrary strings into every field
// the encoder quotes or parses.
func FuzzEntriesMatchEncodingJSON(f *testing.F) {
	f.Add("GET", "/a?b=c%20d", "a=1; b=2", "text/plain", []byte("hello\u2028"), "OK", "sid=1; Path=/", int64(5))
	f.Add("POST", "http://x/y", "", "application/x-www-form-urlencoded", []byte("a=1&b=%zz"), "", "x", int64(-1))
	f.Fuzz(func(t *testing.T, method, target, cookie, ct string, body []byte, reason, setCookie string, n int64) {
		e := &decode.Exchange{ID: 1, FlowID: uint64(n), Proto: "http/1.1", State: decode.ExchangeState(reason),
			Request: &decode.Message{First: t0, Last: t0.Add(time.Duration(n)), Method: method, Target: target, Host: reason, Proto: "HTTP/1.1",
				Headers: hs("Cookie", cookie, "Content-Type", ct, reason, method), Body: body, BodySize: n},
			Response: &decode.Message{First: t0.Add(time.Duration(n) / 3), Last: t0.Add(time.Duration(n)), Status: int(n), Reason: reason, Proto: method,
				Headers: hs("Content-Type", ct, "Set-Cookie", setCookie), Body: body, DecodedSize: n},
		}
		compareEntries(t, []*decode.Exchange{e})
	})
}
