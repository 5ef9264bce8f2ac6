package http1

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// fuzzSeeds returns real HTTP/1 byte streams (client, server) from the
// corpus, so the fuzzer starts from traffic that reaches deep states.
func fuzzSeeds(f *testing.F) [][2][]byte {
	dir := filepath.Join("..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	var out [][2][]byte
	for _, name := range []string{
		"http11_chunked_gzip_100continue_multipart.pcap",
		"http11_pipelined_40req_retrans.pcap",
		"http11_ipv6_loopback_chunked_midstream.pcap",
		"h2c_upgrade_from_http11.pcap",
		"websocket_basic.pcap",
		"http11_post_form.pcap",
	} {
		for _, cf := range readFlows(f, filepath.Join(dir, name)) {
			var s [2][]byte
			for _, d := range cf.deliver {
				if len(s[d.dir]) < 2048 {
					s[d.dir] = append(s[d.dir], d.data...)
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// FuzzHandler feeds two arbitrary byte streams split at arbitrary points
// (and with arbitrary gaps) into a handler. Invariants: no panic, no hang,
// at most one final publication per exchange and exactly one after End,
// published messages never change, and buffers stay within limits.
func FuzzHandler(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), []byte{0, 5, 9, 200, 3})
	f.Add([]byte("POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"), []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"), []byte{4, 6, 1, 255, 8})
	f.Add([]byte("GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), []byte("HTTP/1.1 101 Switching\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04"), []byte{1, 2, 3})
	f.Add([]byte("CONNECT a:443 HTTP/1.1\r\n\r\n\x16\x03\x01"), []byte("HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03"), []byte{})
	f.Add([]byte("HEAD / HTTP/1.0\r\n\r\n"), []byte("SSH-2.0-x\r\n"), []byte{7})
	for _, s := range fuzzSeeds(f) {
		f.Add(s[0], s[1], []byte{0x10, 0x21, 0x7e, 0x02, 0x81})
	}
	p := New()
	f.Fuzz(func(t *testing.T, client, server, plan []byte) {
		c := newFakeConn(t)
		c.lim = decode.Limits{MaxBody: 300, MaxHeaderBytes: 600, MaxDecoded: 1 << 16}
		c.flow.Partial = len(plan)%2 == 1
		c.handoffs = map[string]*recorder{"h2": {}}
		hs := p.New(c)
		h := hs.(*handler)
		streams := [2][]byte{client, server}
		ts := time.Unix(1, 0)
		calls := 0
		deliver := func(dir decode.Direction, n int) {
			if c.swaps%2 == 1 {
				dir = dir.Reverse()
			}
			b := streams[dir]
			n = min(n, len(b))
			hs.Data(dir, b[:n], ts)
			streams[dir] = b[n:]
			calls++
		}
		check := func() {
			for _, s := range h.sides {
				if len(s.pend) > h.pendLimit() {
					t.Fatalf("pend grew to %d (limit %d)", len(s.pend), h.pendLimit())
				}
			}
			if len(h.queue) > maxQueue || len(h.early) > maxEarly+1 {
				t.Fatalf("queues grew: %d / %d", len(h.queue), len(h.early))
			}
		}
		for _, op := range plan {
			ts = ts.Add(time.Millisecond)
			dir := decode.Direction(op & 1)
			size := int(op >> 2)
			if op&2 == 0 {
				deliver(dir, size+1)
			} else {
				if c.swaps%2 == 1 {
					dir = dir.Reverse()
				}
				n := size
				if size == 63 {
					n = -1
				} else {
					streams[dir] = streams[dir][min(n, len(streams[dir])):]
				}
				hs.Gap(dir, n, ts)
			}
			check()
		}
		for len(streams[0])+len(streams[1]) > 0 {
			ts = ts.Add(time.Millisecond)
			deliver(decode.ClientToServer, 700)
			deliver(decode.ServerToClient, 700)
			check()
		}
		hs.End([]decode.FlowState{decode.FlowClosed, decode.FlowReset, decode.FlowTimedOut}[len(plan)%3], ts)
		c.check()
		if n := len(c.order); n > len(client)+len(server)+1 {
			t.Fatalf("%d exchanges from %d bytes", n, len(client)+len(server))
		}
	})
}

// FuzzDetectAndHead checks the start-line classifier, Detect and the
// header-block parser on arbitrary bytes: no panics, and what classify
// accepts parses back into the same method or status.
func FuzzDetectAndHead(f *testing.F) {
	f.Add([]byte("GET /x HTTP/1.1\r\nHost: h\r\n folded\r\nBad line\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 304 Not Modified\nContent-Length: 1, 1\n\n"))
	f.Add([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	f.Add([]byte("junk\nPOST http://u:p@h:1/p HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"))
	p := New()
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, partial := range []bool{false, true} {
			p.Detect(&decode.Flow{Partial: partial}, decode.ClientToServer, b)
		}
		k, end := classify(b)
		if k != kindRequest && k != kindStatus {
			return
		}
		blockEnd, _, lines := headerEnd(b, end)
		if blockEnd < 0 {
			blockEnd, lines = len(b), 0
		} else if want := bytes.Count(b[:blockEnd], []byte("\n")); lines+1 != want {
			t.Fatalf("headerEnd counted %d line ends after the start line, the block has %d in all", lines, want)
		}
		m, fr := parseHead(b[:blockEnd], k == kindRequest, 0)
		if k == kindRequest && (m.Method == "" || m.Target == "" || m.Proto == "") {
			t.Fatalf("accepted request line parsed to %q %q %q", m.Method, m.Target, m.Proto)
		}
		if k == kindStatus && (m.Status < 100 || m.Status > 999) {
			t.Fatalf("accepted status line parsed to %d", m.Status)
		}
		if fr.contentLength < -1 {
			t.Fatalf("content length %d", fr.contentLength)
		}
	})
}

// FuzzChunkSize checks the chunk-size line parser.
func FuzzChunkSize(f *testing.F) {
	f.Add([]byte("1a;name=\"v\" "))
	f.Add([]byte("fffffffffffffff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, ok := parseChunkSize(b); ok && n < 0 {
			t.Fatalf("negative size %d from %q", n, b)
		}
	})
}
