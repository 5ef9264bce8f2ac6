package tls

import (
	"fmt"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/tls/keylog"
)

// benchStream builds a TLS 1.3 session carrying size bytes from the
// server (an HTTP/1.1 response when http is set) and returns its events
// cut into MSS-sized segments.
func benchStream(suiteID uint16, size int, http bool) ([]event, []byte) {
	s := newSession13(suiteID, "http/1.1")
	body := payload(7, size)
	if http {
		s.app(0, []byte("GET /big HTTP/1.1\r\nHost: bench\r\n\r\n"))
		s.app(1, append([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)), body...))
	} else {
		s.app(1, body)
	}
	var segs []event
	for _, e := range s.events {
		for d := e.data; len(d) > 0; {
			n := min(len(d), 1448)
			segs = append(segs, event{e.dir, d[:n]})
			d = d[n:]
		}
	}
	return segs, s.keyLog
}

// BenchmarkDecrypt13 measures decrypting a 10 MB TLS 1.3 stream delivered
// in 1448-byte segments: framing, AEAD and handing plaintext on.
func BenchmarkDecrypt13(b *testing.B) {
	const size = 10 << 20
	for _, tc := range []struct {
		name  string
		suite uint16
		http  bool
	}{
		{"AES-128-GCM", 0x1301, false},
		{"AES-256-GCM", 0x1302, false},
		{"CHACHA20", 0x1303, false},
		{"AES-128-GCM+http1", 0x1301, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			segs, kl := benchStream(tc.suite, size, tc.http)
			keys := keylog.New()
			keys.AddText(kl)
			var inner decode.Parser = &discard{}
			if tc.http {
				inner = http1.New()
			}
			p := New(keys, inner)
			ts := time.Unix(1700000000, 0)
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := newFakeConn()
				h := p.New(c)
				for _, e := range segs {
					h.Data(e.dir, e.data, ts)
				}
				h.End(decode.FlowClosed, ts)
				if !c.lastTLS().Decrypted {
					b.Fatal("not decrypted")
				}
			}
		})
	}
}

// discard is an inner parser that drops plaintext.
type discard struct{}

func (discard) Name() string                                                 { return "discard" }
func (discard) Detect(*decode.Flow, decode.Direction, []byte) decode.Verdict { return decode.Yes }
func (d discard) New(decode.Conn) decode.StreamHandler                       { return d }
func (discard) Data(decode.Direction, []byte, time.Time)                     {}
func (discard) Gap(decode.Direction, int, time.Time)                         {}
func (discard) End(decode.FlowState, time.Time)                              {}
