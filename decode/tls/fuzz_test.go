package tls

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/tls/keylog"
)

// FuzzHello feeds arbitrary bytes to the hello parsers and to Detect.
func FuzzHello(f *testing.F) {
	v := vectors(f, "rfc8448-1rtt.txt")
	f.Add(v["client_hello"][4:])
	f.Add(v["server_hello"][9:])
	f.Add(buildClientHello(detBytes("r", 32), "fuzz.test", []string{"h2", "http/1.1"}, true, 0x1301, 0xc02f))
	f.Add(buildServerHello(detBytes("s", 32), 0xc02f, false, "h2"))
	f.Add(buildServerHello([]byte(helloRetryRandom), 0x1301, true, ""))
	f.Fuzz(func(t *testing.T, b []byte) {
		if ch, err := parseClientHello(b); err == nil {
			if len(ch.random) != 32 || len(ch.alpn) > maxALPN || len(ch.groups) > maxGroups {
				t.Fatalf("ClientHello out of bounds: %+v", ch)
			}
		}
		if sh, err := parseServerHello(b); err == nil && len(sh.random) != 32 {
			t.Fatalf("ServerHello random %x", sh.random)
		}
		parseEncryptedExtensions(b)
		p := New(nil)
		for _, partial := range []bool{false, true} {
			fl := &decode.Flow{Partial: partial}
			for d := decode.Direction(0); d < 2; d++ {
				if v := p.Detect(fl, d, b); v == decode.NeedMore && len(b) >= 6 {
					t.Fatalf("NeedMore with %d bytes", len(b))
				}
			}
		}
		// The same bytes as one handshake record, split in two.
		rec := plainRecord(ctHandshake, 0x0303, hsMsg(hsClientHello, b))
		c := newFakeConn()
		h := New(nil).New(c)
		h.Data(0, rec[:len(rec)/2], time.Time{})
		h.Data(0, rec[len(rec)/2:], time.Time{})
		h.End(decode.FlowClosed, time.Time{})
	})
}

// script encodes events for FuzzRecordLayer: per event a control byte
// (bit 0 direction, bit 1 gap, bit 2 gap of unknown size), a 2-byte
// length and, for data, the bytes.
func script(events []event) []byte {
	var out []byte
	for _, e := range events {
		out = append(out, byte(e.dir))
		out = binary.BigEndian.AppendUint16(out, uint16(len(e.data)))
		out = append(out, e.data...)
	}
	return out
}

// fuzzSessions are the seeds: sessions of both versions with application
// data and key updates.
func fuzzSessions() []*session {
	a := newSession13(0x1301, "http/1.1")
	a.app(0, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	a.app(1, []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"))
	a.keyUpdate(0, true)
	a.keyUpdate(1, false)
	a.app(0, []byte("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"))
	b := newSession12(0xcca8, "http/1.1")
	b.app(0, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	b.app(1, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
	c := newSession13(0x1303, "")
	c.app(1, make([]byte, 20000))
	return []*session{a, b, c}
}

// FuzzRecordLayer runs the handler over mutated sessions with right,
// wrong or missing keys, damaged records and gaps. It must neither panic
// nor keep more than its bounds.
func FuzzRecordLayer(f *testing.F) {
	for _, s := range fuzzSessions() {
		f.Add(script(s.events), s.keyLog)
		wrong := append([]byte(nil), s.keyLog...)
		wrong[len(wrong)-3] ^= 1
		f.Add(script(s.events), wrong)
		f.Add(script(s.events), []byte{})
		damaged := script(s.events)
		damaged[len(damaged)-5] ^= 0x40
		f.Add(damaged, s.keyLog)
	}
	f.Fuzz(fuzzBody)
}

func fuzzBody(t *testing.T, sc []byte, kl []byte) {
	{
		keys := keylog.New()
		keys.AddText(kl)
		p := NewWithConfig(Config{Keys: keys, Inner: []decode.Parser{http1.New()}, MaxPending: 4096})
		c := newFakeConn()
		hd := p.New(c)
		h := hd.(*handler)
		ts := time.Unix(1700000000, 0)
		for len(sc) >= 3 {
			ctl := sc[0]
			n := int(binary.BigEndian.Uint16(sc[1:]))
			sc = sc[3:]
			dir := decode.Direction(ctl & 1)
			ts = ts.Add(time.Millisecond)
			if ctl&2 != 0 {
				if ctl&4 != 0 {
					n = -1
				}
				hd.Gap(dir, n, ts)
				continue
			}
			n = min(n, len(sc))
			hd.Data(dir, sc[:n], ts)
			sc = sc[n:]
			if h.pendingBytes > 4096 {
				t.Fatalf("%d bytes pending, over the 4096 budget", h.pendingBytes)
			}
			for _, s := range h.sides {
				if len(s.rec) > resyncBuffer {
					t.Fatalf("%d record bytes buffered", len(s.rec))
				}
			}
		}
		hd.End(decode.FlowClosed, ts)
	}
}
