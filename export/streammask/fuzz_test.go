package streammask

import (
	"bytes"
	"testing"

	"github.com/tapview/tapview/decode/link"
)

// FuzzTracker walks fuzzed bytes as both directions of a connection,
// cut into segments that arrive out of order, repeated and lost, and
// checks the patches: sorted, disjoint, non-empty, and applying them
// never changes a payload's length.
func FuzzTracker(f *testing.F) {
	req, resp := plantedHTTP1()
	f.Add(req, resp, []byte{7, 3, 200, 1})
	f.Add([]byte("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x85\x01\x02\x03\x04hello"), []byte("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n\xc1\x03abc"), []byte{5})
	var b hb
	b.literal(true, 23, "", "Bearer "+sBearer, true)
	h2c := append([]byte(h2Preface), h2frame(1, 4, 1, b.b)...)
	h2c = append(h2c, h2frame(0, 1, 1, []byte(`{"password":"`+sPass+`"}`))...)
	f.Add(h2c, h2frame(4, 0, 0, nil), []byte{9, 9, 0})
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), []byte{0x16, 3, 1, 0, 1, 0}, []byte{1, 2, 3})
	// PostgreSQL: SSLRequest answered 'N', startup, SCRAM, a password literal.
	f.Add([]byte(pgMsg(0, be(80877103))+pgMsg(0, be(196608)+"user\x00u\x00\x00")+pgMsg('p', "SCRAM-SHA-256\x00"+be(4)+"pass")+pgMsg('Q', "ALTER ROLE u PASSWORD 'x'\x00")),
		[]byte("N"+pgMsg('R', be(11)+"r=n,s=salt")+pgMsg('R', be(0))+pgMsg('Z', "I")), []byte{4, 11, 2})
	f.Fuzz(func(t *testing.T, c2s, s2c, cuts []byte) {
		h := newHarness(t)
		h.open()
		for dir, data := range [][]byte{c2s, s2c} {
			off := 0
			for k := 0; off < len(data); k++ {
				n := 1
				if len(cuts) > 0 {
					n = int(cuts[k%len(cuts)])%97 + 1
				}
				n = min(n, len(data)-off)
				mode := byte(0)
				if len(cuts) > 0 {
					mode = cuts[(k+1)%len(cuts)] % 16
				}
				switch mode {
				case 0: // lost
				case 1: // sent twice
					h.sendAt(dir, off, data[off:off+n])
					h.sendAt(dir, off, data[off:off+n])
				case 2: // cut by a snaplen
					h.add(hSeg{dir: dir, seq: h.seq[dir] + uint32(off), flags: link.FlagACK, payload: bytes.Clone(data[off : off+n/2]), n: n})
				default:
					h.sendAt(dir, off, data[off:off+n])
				}
				off += n
			}
			h.seq[dir] += uint32(len(data))
		}
		// Shuffle a little: swap neighbours where the cuts say.
		for i := 2; i+1 < len(h.segs); i++ {
			if len(cuts) > 0 && cuts[i%len(cuts)]&0x80 != 0 {
				h.segs[i], h.segs[i+1] = h.segs[i+1], h.segs[i]
			}
		}
		h.close()
		res := h.run()
		for _, list := range res.halves {
			for _, in := range list {
				ps := in.Patches()
				for i, p := range ps {
					if p.Len <= 0 || p.Kind == KindReplace && int64(len(in.data(&p))) != p.Len {
						t.Fatalf("bad patch %+v", p)
					}
					if i > 0 && ps[i-1].end() > p.Off {
						t.Fatalf("patches overlap: %+v %+v", ps[i-1], p)
					}
				}
			}
		}
		for _, s := range h.segs {
			in := res.Lookup(h.ep[s.dir], h.ep[1-s.dir], s.ord)
			if in == nil {
				continue
			}
			p := bytes.Clone(s.payload)
			in.Apply(s.seq, s.flags.Has(link.FlagSYN), p)
			if len(p) != len(s.payload) {
				t.Fatal("length changed")
			}
		}
	})
}
