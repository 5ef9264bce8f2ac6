package streammask

import (
	"bytes"
	"math"
	"net/netip"
	"testing"

	"github.com/tapview/tapview/decode/link"
)

func TestReassemblyOutOfOrderRetransmittedAndWrapping(t *testing.T) {
	req, resp := plantedHTTP1()
	// The sequence numbers wrap inside the request.
	h := newHarnessISN(t, math.MaxUint32-40, 77)
	h.open()
	// Segments of 10 bytes, sent in a shuffled order with repeats.
	var segs [][2]int
	for off := 0; off < len(req); off += 10 {
		segs = append(segs, [2]int{off, min(off+10, len(req))})
	}
	order := []int{}
	for i := len(segs) - 1; i >= 0; i -= 2 {
		order = append(order, i)
	}
	for i := len(segs) - 2; i >= 0; i -= 2 {
		order = append(order, i, i) // retransmitted at once
	}
	for _, i := range order {
		h.sendAt(0, segs[i][0], req[segs[i][0]:segs[i][1]])
	}
	// A retransmission that overlaps two segments, after the fact.
	h.sendAt(0, 5, req[5:27])
	h.seq[0] += uint32(len(req))
	h.send(1, resp, 100)
	h.close()
	st, covered := h.masked()
	if !bytes.Equal(st[0][:len(req)], maskedWhole(t, req)) {
		t.Fatalf("request masked as\n%q\nwant\n%q", st[0], maskedWhole(t, req))
	}
	mustHide(t, "response", st[1], h1Secrets...)
	if !covered {
		t.Error("not covered")
	}
}

// maskedWhole is what masking the head and body of an HTTP/1 message
// separately gives.
func maskedWhole(t *testing.T, msg []byte) []byte {
	t.Helper()
	i := bytes.Index(msg, []byte("\r\n\r\n")) + 4
	m := newHarness(t).tr.m
	return append(bytes.Clone(m.Bytes(msg[:i])), m.Bytes(msg[i:])...)
}

func TestLostSegmentLeavesTheRestToARawScan(t *testing.T) {
	req, _ := plantedHTTP1()
	h := newHarness(t)
	h.open()
	h.sendAt(0, 0, req[:20])
	// req[20:40] never captured.
	h.sendAt(0, 40, req[40:])
	h.seq[0] += uint32(len(req))
	h.close()
	st, covered := h.masked()
	if !covered {
		t.Error("the captured payloads were walked")
	}
	// The bytes after the hole are still scanned (raw).
	mustHide(t, "after the hole", st[0][40:], sBearer, sCookie, sPass)
	in := h.res.Lookup(h.ep[0], h.ep[1], 100)
	if len(in.Gaps) != 1 || in.Gaps[0] != (Range{20, 40}) {
		t.Errorf("gaps %v", in.Gaps)
	}
	// A packet around the hole is not covered; one after it is.
	p := bytes.Clone(req[40:60])
	if a := in.Apply(in.Base+40, false, p); !a.Covered {
		t.Error("packet after the hole not covered")
	}
	if a := in.Apply(in.Base+15, false, bytes.Clone(req[15:30])); a.Covered {
		t.Error("packet over the hole covered")
	}
}

func TestSnaplenCutSegment(t *testing.T) {
	req, _ := plantedHTTP1()
	h := newHarness(t)
	h.open()
	// Every segment captured to 30 of its 60 bytes.
	for off := 0; off < len(req); off += 60 {
		end := min(off+60, len(req))
		cut := min(off+30, end)
		h.add(hSeg{dir: 0, seq: h.seq[0] + uint32(off), flags: link.FlagACK, payload: bytes.Clone(req[off:cut]), n: end - off})
	}
	h.seq[0] += uint32(len(req))
	h.close()
	h.run()
	// What was cut is a gap; what was captured is still masked.
	st, _ := h.masked()
	in := h.res.Lookup(h.ep[0], h.ep[1], 3)
	if len(in.Gaps) == 0 || in.Gaps[0].Off != 30 {
		t.Errorf("gaps %v", in.Gaps)
	}
	if bytes.Contains(st[0], []byte(sQuery[:8])) {
		t.Errorf("query survived: %q", st[0])
	}
}

func TestPortReuseStartsANewStream(t *testing.T) {
	req, resp := plantedHTTP1()
	h := newHarness(t)
	h.open()
	h.send(0, req, 200)
	h.send(1, resp, 200)
	h.close()
	// The same address pair, a new connection with other sequence
	// numbers: the first bytes are TLS now.
	h.seq = [2]uint32{90000, 123}
	h.open()
	rec := []byte{0x16, 3, 1, 0, 5, 'h', 'e', 'l', 'l', 'o'}
	h.send(0, rec, 200)
	h.close()
	h.run()
	list := h.res.halves[halfKey{h.ep[0], h.ep[1]}]
	if len(list) != 2 || list[1].Base != 90001 || len(list[1].Patches()) != 0 || len(list[0].Patches()) == 0 {
		t.Fatalf("instances: %+v", list)
	}
	// The second connection's packets are not patched by the first's.
	st, _ := h.masked()
	if !bytes.HasSuffix(st[0], rec) {
		t.Errorf("second connection changed: %q", st[0])
	}
}

func TestPatchesAreBoundedPerStream(t *testing.T) {
	h := newHarness(t)
	h.open()
	var b bytes.Buffer
	for b.Len() < 3<<20 {
		b.WriteString("GET /?token=abcdefgh&b=1 HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	h.send(0, b.Bytes(), 65000)
	h.close()
	h.run()
	in := h.res.Lookup(h.ep[0], h.ep[1], 10)
	if len(in.Patches()) > maxPatches {
		t.Fatalf("%d patches", len(in.Patches()))
	}
	last := in.Patches()[len(in.Patches())-1]
	if last.Off+last.Len != math.MaxInt64 || h.res.Stats.Capped != 1 {
		t.Fatalf("no rest-of-stream patch: %+v, stats %+v", last, h.res.Stats)
	}
	st, _ := h.masked()
	mustHide(t, "capped", st[0], "abcdefgh")
}

func TestNormalizeMakesPatchesDisjoint(t *testing.T) {
	ps := normalize([]Patch{
		{Off: 10, Len: 5, Byte: '*'},
		{Off: 0, Len: 4, Byte: '*'},
		{Off: 4, Len: 3, Byte: '*'},
		{Off: 12, Len: 6, Kind: KindReplace, Data: []byte("abcdef")},
		{Off: 30, Len: 2, Kind: KindXOR, Byte: '*', Key: [4]byte{1, 2, 3, 4}, KeyAt: 29},
	})
	want := []Patch{
		{Off: 0, Len: 7, Byte: '*'},
		{Off: 10, Len: 5, Byte: '*'},
		{Off: 15, Len: 3, Kind: KindReplace, Data: []byte("def")},
		{Off: 30, Len: 2, Kind: KindXOR, Byte: '*', Key: [4]byte{1, 2, 3, 4}, KeyAt: 29},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %+v", ps)
	}
	for i := range ps {
		if ps[i].Off != want[i].Off || ps[i].Len != want[i].Len || ps[i].Kind != want[i].Kind || !bytes.Equal(ps[i].Data, want[i].Data) {
			t.Fatalf("patch %d: %+v, want %+v", i, ps[i], want[i])
		}
	}
	in := &Instance{Base: 100, Seen: 40}
	in.keep(ps)
	p := bytes.Repeat([]byte{'.'}, 40)
	a := in.Apply(100, false, p)
	if got := string(p[:20]); got != "*******...*****def.." || !a.Changed || !a.Covered {
		t.Fatalf("applied: %q %+v", p, a)
	}
	if p[30] != '*'^2 || p[31] != '*'^3 {
		t.Fatalf("XOR patch: % x", p[28:32])
	}
}

func TestManyOpenConnectionsAreEvicted(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < maxOpen+maxOpen/2; i++ {
		h.ep[0] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 40000)
		h.seq = [2]uint32{1000, 2000}
		h.open()
		h.send(0, []byte("GET / HTTP/1.1\r\n"), 100)
		h.tr.Packet(h.segs[len(h.segs)-3].ord, h.frame(h.segs[len(h.segs)-3]))
		h.tr.Packet(h.segs[len(h.segs)-2].ord, h.frame(h.segs[len(h.segs)-2]))
		h.tr.Packet(h.segs[len(h.segs)-1].ord, h.frame(h.segs[len(h.segs)-1]))
		h.segs = h.segs[:0]
	}
	if h.tr.open > maxOpen || h.tr.res.Stats.Evicted == 0 {
		t.Fatalf("%d open, %d evicted", h.tr.open, h.tr.res.Stats.Evicted)
	}
	r := h.tr.Finish()
	if len(r.halves) != 0 {
		t.Errorf("%d halves kept for clean short streams", len(r.halves))
	}
}
