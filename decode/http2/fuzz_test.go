package http2

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tcp"
)

// tapParser is a test decode.Parser that detects HTTP/2 like Parser and
// keeps each connection's reassembled bytes, for fuzz seeds.
type tapParser struct {
	p     *Parser
	conns []*tapConn
}

type tapConn struct{ data [2][]byte }

func (t *tapParser) Name() string { return Name }
func (t *tapParser) Detect(f *decode.Flow, d decode.Direction, b []byte) decode.Verdict {
	return t.p.Detect(f, d, b)
}
func (t *tapParser) New(decode.Conn) decode.StreamHandler {
	c := &tapConn{}
	t.conns = append(t.conns, c)
	return c
}
func (c *tapConn) Data(d decode.Direction, b []byte, _ time.Time) {
	c.data[d&1] = append(c.data[d&1], b...)
}
func (c *tapConn) Gap(decode.Direction, int, time.Time) {}
func (c *tapConn) End(decode.FlowState, time.Time)      {}

// corpusStreams returns the two byte streams of every HTTP/2 connection
// in a few corpus captures, cut to a size the fuzzer can mutate.
func corpusStreams(f *testing.F) [][2][]byte {
	dir := filepath.Join("..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.tsv")); err != nil {
		return nil
	}
	var out [][2][]byte
	for _, name := range []string{"grpc_unary.pcapng", "grpc_server_streaming.pcapng", "grpc_bidi_streaming.pcapng", "h2c_prior_knowledge_doh_34streams.pcap"} {
		tp := &tapParser{p: New()}
		d := tcp.NewDecoder(newCollector(f), tcp.Config{Parsers: []decode.Parser{tp}})
		for _, pkt := range corpustest.Read(f, name) {
			d.Packet(&pkt)
		}
		d.Finish(time.Time{})
		for _, c := range tp.conns {
			out = append(out, [2][]byte{c.data[0][:min(len(c.data[0]), 3000)], c.data[1][:min(len(c.data[1]), 3000)]})
		}
	}
	return out
}

// FuzzHandler feeds two arbitrary byte streams, split at arbitrary points
// and with arbitrary gaps, into a handler, on a fresh or a joined flow.
// Invariants: no panic or hang, one final publication per exchange, no
// published byte changes afterwards, and every buffer within its bound.
func FuzzHandler(f *testing.F) {
	w, _ := busyWire(f, 6)
	s := w.stream()
	f.Add(s[0], s[1], []byte{9, 17, 3, 0xff, 40}, false)
	f.Add(s[0][30:], s[1][7:], []byte{13, 2}, true)
	for _, cs := range corpusStreams(f) {
		f.Add(cs[0], cs[1], []byte{0x21, 0x7e, 0x05}, false)
	}
	f.Fuzz(func(t *testing.T, client, server, plan []byte, joined bool) {
		c := newFakeConn(t)
		c.flow.Partial = joined
		c.lim = decode.Limits{MaxBody: 300, MaxHeaderBytes: 600, MaxParts: 5, MaxDecoded: 1 << 12}
		c.out.everyVersion = true
		p := New()
		hs := p.New(c)
		h := hs.(*handler)
		streams := [2][]byte{client, server}
		ts := time.Unix(1, 0)
		for i := 0; len(streams[0])+len(streams[1]) > 0; i++ {
			step := byte(i)
			if len(plan) > 0 {
				step = plan[i%len(plan)]
			}
			dir := decode.Direction(step & 1)
			if len(streams[dir]) == 0 {
				dir = dir.Reverse()
			}
			n := min(int(step>>1)+1, len(streams[dir]))
			ts = ts.Add(time.Millisecond)
			if step >= 0xf0 {
				hs.Gap(dir, []int{-1, n}[step&2>>1], ts)
			} else {
				hs.Data(dir, streams[dir][:n], ts)
			}
			streams[dir] = streams[dir][n:]
			checkBounds(t, h)
		}
		hs.End(decode.FlowClosed, ts)
		c.out.checkFinal()
		c.out.checkVersions()
	})
}

// checkBounds fails when a handler holds more than its limits allow.
func checkBounds(t *testing.T, h *handler) {
	t.Helper()
	if len(h.streams) > maxStreams || len(h.closed) > closedMemory || len(h.order) > 2*len(h.streams)+65 {
		t.Fatalf("%d streams, %d closed ids, %d in order", len(h.streams), len(h.closed), len(h.order))
	}
	for _, r := range h.rd {
		if len(r.buf) > h.maxKeep() || len(r.block.buf) > h.lim.MaxHeaderBytes || len(r.seek.buf) > 3*maxSeek ||
			r.hp.size > maxTableSize || len(r.seek.waits) > maxWaits {
			t.Fatalf("buffers: frame %d block %d seek %d table %d", len(r.buf), len(r.block.buf), len(r.seek.buf), r.hp.size)
		}
	}
	for _, st := range h.streams {
		for _, m := range []*decode.Message{st.x.Request, st.x.Response} {
			if m != nil && (len(m.Body) > h.lim.MaxBody || len(m.Parts) > h.lim.MaxParts) {
				t.Fatalf("message keeps %d body bytes, %d parts", len(m.Body), len(m.Parts))
			}
		}
	}
}
