package tls

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/tls/keylog"
)

// payload returns n distinct bytes for record i of a test stream.
func payload(i, n int) []byte {
	return bytes.Repeat([]byte{byte('A' + i%26)}, n)
}

// runSession plays a synthetic session into a fresh handler with its key
// log and a sink inside.
func runSession(t *testing.T, s *session, chunk int) (*fakeConn, *sink, *Parser) {
	t.Helper()
	keys := keylog.New()
	keys.AddText(s.keyLog)
	var sk sink
	p := New(keys, &sk)
	c := newFakeConn()
	play(p.New(c), s.events, chunk)
	return c, &sk, p
}

// TestSyntheticSuites decrypts every AEAD suite in both versions, with
// records delivered whole and cut into small pieces.
func TestSyntheticSuites(t *testing.T) {
	builders := map[string]func() *session{}
	for _, id := range []uint16{0x1301, 0x1302, 0x1303} {
		builders[SuiteName(id)] = func() *session { return newSession13(id, "") }
	}
	for _, id := range []uint16{0xc02b, 0xc030, 0xcca8, 0x009f, 0xccaa} {
		builders[SuiteName(id)] = func() *session { return newSession12(id, "") }
	}
	for name, build := range builders {
		for _, chunk := range []int{0, 1, 9, 1400} {
			t.Run(fmt.Sprintf("%s/%d", name, chunk), func(t *testing.T) {
				s := build()
				var want [2][]byte
				for i := 0; i < 6; i++ {
					d := decode.Direction(i % 2)
					b := payload(i, 100+i*5000)
					s.app(d, b)
					want[d] = append(want[d], b...)
				}
				s.alert(0)
				c, sk, _ := runSession(t, s, chunk)
				if !bytes.Equal(sk.got[0], want[0]) || !bytes.Equal(sk.got[1], want[1]) {
					t.Errorf("plaintext %d/%d bytes, want %d/%d", len(sk.got[0]), len(sk.got[1]), len(want[0]), len(want[1]))
				}
				if info := c.lastTLS(); !info.Decrypted || info.Cipher != name || info.SNI != "synth.test" {
					t.Errorf("TLS %+v", info)
				}
				if len(c.notes) != 0 {
					t.Errorf("notes %q", c.notes)
				}
			})
		}
	}
}

// TestSyntheticKeyUpdates sends data across many key updates in both
// directions, requested or not.
func TestSyntheticKeyUpdates(t *testing.T) {
	for _, id := range []uint16{0x1301, 0x1302, 0x1303} {
		for _, chunk := range []int{0, 1, 13} {
			s := newSession13(id, "")
			var want [2][]byte
			for i := 0; i < 10; i++ {
				d := decode.Direction(i % 2)
				b := payload(i, 3000)
				s.app(d, b)
				want[d] = append(want[d], b...)
				s.keyUpdate(d, i%3 == 0)
			}
			s.app(1, []byte("last"))
			want[1] = append(want[1], "last"...)
			c, sk, p := runSession(t, s, chunk)
			if !bytes.Equal(sk.got[0], want[0]) || !bytes.Equal(sk.got[1], want[1]) || len(c.notes) != 0 {
				t.Errorf("%s chunk %d: plaintext %d/%d bytes, want %d/%d, notes %q", SuiteName(id), chunk, len(sk.got[0]), len(sk.got[1]), len(want[0]), len(want[1]), c.notes)
			}
			if st := p.Stats(); st.KeyUpdates != 10 {
				t.Errorf("%s: %d key updates, want 10", SuiteName(id), st.KeyUpdates)
			}
		}
	}
}

// TestGaps cuts the server's application records: a gap inside one record
// costs that record only; a gap across records is resynchronised by trial
// decryption (known or unknown size); what comes after decrypts again.
func TestGaps(t *testing.T) {
	type cut struct {
		name        string
		from, to    func(starts []int) int
		unknownSize bool
		resyncs     int64
	}
	at := func(rec, off int) func([]int) int {
		return func(starts []int) int { return starts[rec] + off }
	}
	cuts := []cut{
		{"inside one record", at(3, 100), at(3, 700), false, 0},
		{"from a record into a later one", at(3, 100), at(7, 50), false, 1},
		{"whole records", at(5, 0), at(9, 0), false, 1},
		{"unknown size", at(2, 10), at(15, 400), true, 1},
		{"record header cut", at(4, 2), at(4, 3), false, 1},
	}
	for _, build := range []func() *session{
		func() *session { return newSession13(0x1301, "") },
		func() *session { return newSession13(0x1303, "") },
		func() *session { return newSession12(0xc02f, "") },
		func() *session { return newSession12(0xcca9, "") },
	} {
		for _, ct := range cuts {
			s := build()
			hs := len(s.events)
			var recs, plains [][]byte
			for i := 0; i < 20; i++ {
				b := payload(i, 1000)
				s.app(1, b)
				recs = append(recs, s.events[len(s.events)-1].data)
				plains = append(plains, b)
			}
			s.events = s.events[:hs]
			var stream []byte
			var starts []int
			for _, r := range recs {
				starts = append(starts, len(stream))
				stream = append(stream, r...)
			}
			starts = append(starts, len(stream))
			a, b := ct.from(starts), ct.to(starts)
			var want []byte
			for i := range recs {
				if starts[i+1] <= a || starts[i] >= b {
					want = append(want, plains[i]...)
				}
			}
			t.Run(fmt.Sprintf("%s/%s", s.suite.name, ct.name), func(t *testing.T) {
				keys := keylog.New()
				keys.AddText(s.keyLog)
				var sk sink
				p := New(keys, &sk)
				c := newFakeConn()
				h := p.New(c)
				ts := time.Unix(1700000000, 0)
				for _, e := range s.events {
					h.Data(e.dir, e.data, ts)
				}
				feed := func(d []byte) {
					for len(d) > 0 {
						n := min(len(d), 700)
						h.Data(1, d[:n], ts)
						d = d[n:]
					}
				}
				feed(stream[:a])
				n := b - a
				if ct.unknownSize {
					n = -1
				}
				h.Gap(1, n, ts)
				feed(stream[b:])
				h.End(decode.FlowClosed, ts)
				if !bytes.Equal(sk.got[1], want) {
					t.Errorf("plaintext %d bytes, want %d", len(sk.got[1]), len(want))
				}
				if sk.gaps[1] == 0 || len(c.notes) != 0 {
					t.Errorf("inner gaps %d, notes %q", sk.gaps[1], c.notes)
				}
				if st := p.Stats(); st.Resyncs != ct.resyncs {
					t.Errorf("%d resyncs, want %d", st.Resyncs, ct.resyncs)
				}
			})
		}
	}
}

// TestOrientation plays a session whose first packets the transport took
// for the server's: the handler swaps once and decrypts both directions.
func TestOrientation(t *testing.T) {
	s := newSession13(0x1301, "")
	s.app(0, []byte("from the client"))
	s.app(1, []byte("from the server"))
	keys := keylog.New()
	keys.AddText(s.keyLog)
	var sk sink
	c := newFakeConn()
	h := New(keys, &sk).New(c)
	ts := time.Unix(1700000000, 0)
	for _, e := range s.events {
		dir := e.dir.Reverse() // the transport's wrong guess
		if c.swaps%2 == 1 {
			dir = dir.Reverse() // after the swap it delivers corrected directions
		}
		h.Data(dir, e.data, ts)
	}
	h.End(decode.FlowClosed, ts)
	if c.swaps != 1 || string(sk.got[0]) != "from the client" || string(sk.got[1]) != "from the server" {
		t.Errorf("swaps %d, c2s %q, s2c %q", c.swaps, sk.got[0], sk.got[1])
	}
}

// TestContentDetection runs HTTP/1.1 inside TLS without ALPN: the inner
// parser is chosen by Detect, and its exchanges are marked TLS.
func TestContentDetection(t *testing.T) {
	for _, alpn := range []string{"", "http/1.1"} {
		s := newSession13(0x1301, alpn)
		s.app(1, []byte{}) // nothing: server speaks after the request
		s.app(0, []byte("GET /inside HTTP/1.1\r\nHost: synth.test\r\n\r\n"))
		s.app(1, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"))
		keys := keylog.New()
		keys.AddText(s.keyLog)
		c := newFakeConn()
		c.flow.Proto = Name
		play(New(keys, http1.New()).New(c), s.events, 0)
		if len(c.ex) != 1 {
			t.Fatalf("alpn %q: %d exchanges, notes %q", alpn, len(c.ex), c.notes)
		}
		e := c.ex[1]
		if e.Path() != "/inside" || e.Status() != 200 || !e.TLS || e.SNI != "synth.test" || e.State != decode.Complete {
			t.Errorf("alpn %q: exchange %s %d TLS %v SNI %q %s", alpn, e.Path(), e.Status(), e.TLS, e.SNI, e.State)
		}
		if c.flow.Proto != Name || c.lastTLS().ALPNChosen != alpn {
			t.Errorf("alpn %q: flow proto %q, TLS %+v (inner protocols must not rename the flow)", alpn, c.flow.Proto, c.lastTLS())
		}
	}
}

// TestLingerLateKeys ends a connection before its keys are in a watched
// key log file; when they are written, the next TLS activity decrypts it.
func TestLingerLateKeys(t *testing.T) {
	s := newSession13(0x1303, "")
	s.app(0, []byte("late but decrypted"))
	path := filepath.Join(t.TempDir(), "keys.log")
	if err := os.WriteFile(path, []byte("# keys come later\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := keylog.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { keys.WatchEvery(ctx, path, 5*time.Millisecond); close(done) }()
	for !keys.Watching() {
		time.Sleep(time.Millisecond)
	}
	var sk sink
	p := New(keys, &sk)
	c := newFakeConn()
	play(p.New(c), s.events, 0)
	if c.lastTLS().Decrypted || sk.ended {
		t.Fatalf("decrypted %v, inner ended %v before the keys exist", c.lastTLS().Decrypted, sk.ended)
	}
	if err := os.WriteFile(path, append([]byte("# keys come later\n"), s.keyLog...), 0o600); err != nil {
		t.Fatal(err)
	}
	// The watcher may read the file while it is being written: wait for
	// every secret line, not just the first.
	want := int64(bytes.Count(s.keyLog, []byte("\n")))
	for keys.Stats().Lines < want {
		time.Sleep(time.Millisecond)
	}
	// Any later TLS connection gives the lingering one its chance.
	p.Detect(&decode.Flow{Last: time.Unix(1700000001, 0)}, 0, []byte{22})
	if !c.lastTLS().Decrypted || string(sk.got[0]) != "late but decrypted" || !sk.ended {
		t.Errorf("after the keys: decrypted %v, plaintext %q, ended %v", c.lastTLS().Decrypted, sk.got[0], sk.ended)
	}
	cancel()
	<-done
}

// TestHelloRetryRequest: after a HelloRetryRequest the client sends a
// second ClientHello (same random) and the real ServerHello follows; the
// handler waits for it before deriving keys.
func TestHelloRetryRequest(t *testing.T) {
	s := newSession13(0x1302, "h2")
	s.app(0, []byte("after retry"))
	ch, sh := s.events[0], s.events[1]
	hrr := plainRecord(ctHandshake, 0x0303, hsMsg(hsServerHello, buildServerHello([]byte(helloRetryRandom), 0x1302, true, "")))
	events := append([]event{ch, {1, hrr}, {1, plainRecord(ctChangeCipherSpec, 0x0303, []byte{1})}, {0, plainRecord(ctChangeCipherSpec, 0x0303, []byte{1})}, ch, sh}, s.events[2:]...)
	keys := keylogFrom(s.keyLog)
	var sk sink
	c := newFakeConn()
	play(New(keys, &sk).New(c), events, 0)
	info := c.lastTLS()
	if !info.Decrypted || info.Cipher != "TLS_AES_256_GCM_SHA384" || info.ALPNChosen != "h2" || string(sk.got[0]) != "after retry" || len(c.notes) != 0 {
		t.Errorf("TLS %+v, plaintext %q, notes %q", info, sk.got[0], c.notes)
	}
}

// TestDetect checks the verdicts on first bytes.
func TestDetect(t *testing.T) {
	ch := plainRecord(ctHandshake, 0x0301, hsMsg(hsClientHello, buildClientHello(detBytes("r", 32), "x", nil, true, 0x1301)))
	sh := plainRecord(ctHandshake, 0x0303, hsMsg(hsServerHello, buildServerHello(detBytes("s", 32), 0x1301, true, "")))
	ssl3 := append([]byte(nil), ch...)
	ssl3[2] = 0 // SSL 3.0 record layer, allowed for a ClientHello
	app := []byte{23, 3, 3, 0, 40, 1, 2, 3}
	p := New(nil)
	full, partial := &decode.Flow{}, &decode.Flow{Partial: true}
	cases := []struct {
		name  string
		flow  *decode.Flow
		dir   decode.Direction
		first []byte
		want  decode.Verdict
	}{
		{"ClientHello", full, 0, ch, decode.Yes},
		{"ClientHello from the side taken for the server", full, 1, ch, decode.Yes},
		{"ServerHello mid-handshake", full, 1, sh, decode.Yes},
		{"ClientHello in an SSL 3.0 record", full, 0, ssl3, decode.Yes},
		{"first byte", full, 0, ch[:1], decode.NeedMore},
		{"five bytes", full, 0, ch[:5], decode.NeedMore},
		{"six bytes", full, 0, ch[:6], decode.Yes},
		{"HTTP", full, 0, []byte("GET / HTTP/1.1\r\n"), decode.No},
		{"h2 preface", full, 0, []byte("PRI * HTTP/2.0\r\n"), decode.No},
		{"SSLv2 hello", full, 0, []byte{0x80, 0x2e, 0x01, 0x03, 0x01, 0x00}, decode.No},
		{"record version 3.9", full, 0, []byte{22, 3, 9, 0, 10, 1}, decode.No},
		{"empty record", full, 0, []byte{22, 3, 1, 0, 0, 1}, decode.No},
		{"oversized record", full, 0, []byte{22, 3, 1, 0x48, 0x01, 1}, decode.No},
		{"Certificate first", full, 1, []byte{22, 3, 3, 0, 10, 11}, decode.No},
		{"application data on a fresh flow", full, 0, app, decode.No},
		{"application data joined mid-stream", partial, 1, app, decode.Yes},
		{"alert joined mid-stream", partial, 0, []byte{21, 3, 3, 0, 2, 1, 0}, decode.Yes},
		{"application data with TLS 1.3 record version", partial, 0, []byte{23, 3, 4, 0, 40}, decode.No},
	}
	for _, tc := range cases {
		if got := p.Detect(tc.flow, tc.dir, tc.first); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestGapWhileWaiting: a gap inside a record arrives while the keys are
// still missing; when they come, the records before and after the gap
// decrypt and the inner parser sees the gap between them.
func TestGapWhileWaiting(t *testing.T) {
	s := newSession12(0xc02f, "")
	hs := len(s.events)
	for i := 0; i < 4; i++ {
		s.app(1, payload(i, 500))
	}
	recs := s.events[hs:]
	s.events = s.events[:hs]
	keys := keylog.New()
	var sk sink
	p := New(keys, &sk)
	c := newFakeConn()
	h := p.New(c)
	ts := time.Unix(1700000000, 0)
	for _, e := range s.events {
		h.Data(e.dir, e.data, ts)
	}
	h.Data(1, recs[0].data, ts)
	h.Data(1, recs[1].data[:100], ts)
	h.Gap(1, len(recs[1].data)-200, ts)
	h.Data(1, recs[1].data[len(recs[1].data)-100:], ts)
	h.Data(1, recs[2].data, ts)
	keys.AddText(s.keyLog)
	h.Data(1, recs[3].data, ts)
	h.End(decode.FlowClosed, ts)
	want := append(append(payload(0, 500), payload(2, 500)...), payload(3, 500)...)
	if !bytes.Equal(sk.got[1], want) || sk.gaps[1] != 1 || len(c.notes) != 0 {
		t.Errorf("plaintext %d bytes (want %d), gaps %d, notes %q", len(sk.got[1]), len(want), sk.gaps[1], c.notes)
	}
}

// TestFragmentedAndCoalesced: a ClientHello fragmented over three records
// (handshake message spanning records), and consecutive records of one
// direction delivered in a single segment.
func TestFragmentedAndCoalesced(t *testing.T) {
	s := newSession13(0x1301, "http/1.1")
	s.app(0, []byte("one"))
	s.app(0, []byte("two"))
	s.app(1, []byte("three"))
	s.keyUpdate(1, false)
	s.app(1, []byte("four"))
	ch := s.events[0].data[recordHeaderLen:]
	var frag []byte
	for _, part := range [][]byte{ch[:3], ch[3:50], ch[50:]} {
		frag = append(frag, plainRecord(ctHandshake, 0x0301, part)...)
	}
	events := []event{{0, frag}}
	for _, e := range s.events[1:] {
		if last := &events[len(events)-1]; last.dir == e.dir {
			last.data = append(last.data, e.data...)
			continue
		}
		events = append(events, event{e.dir, append([]byte(nil), e.data...)})
	}
	c, sk := newFakeConn(), &sink{}
	play(New(keylogFrom(s.keyLog), sk).New(c), events, 0)
	if info := c.lastTLS(); info.SNI != "synth.test" || info.ALPNChosen != "http/1.1" || !info.Decrypted {
		t.Errorf("TLS %+v", info)
	}
	if string(sk.got[0]) != "onetwo" || string(sk.got[1]) != "threefour" || len(c.notes) != 0 {
		t.Errorf("plaintext %q %q, notes %q", sk.got[0], sk.got[1], c.notes)
	}
}
