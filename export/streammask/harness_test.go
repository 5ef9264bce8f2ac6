package streammask

import (
	"bytes"
	"net/netip"
	"sort"
	"testing"

	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/decode/mask"
)

// tcpHarness builds TCP segments of one connection straight into
// link.Frames (any sequence numbers, order, loss or snaplen cut), feeds
// them to a Tracker as pass one would, and applies the result to copies
// of the payloads as pass two would.
type tcpHarness struct {
	t    *testing.T
	tr   *Tracker
	ep   [2]netip.AddrPort
	seq  [2]uint32
	segs []hSeg
	ord  uint64
	res  *Result
}

type hSeg struct {
	ord     uint64
	dir     int
	seq     uint32
	flags   link.TCPFlags
	payload []byte // captured
	n       int    // announced length
}

func newHarness(t *testing.T) *tcpHarness {
	return newHarnessISN(t, 1000, 500000)
}

func newHarnessISN(t *testing.T, isnC, isnS uint32) *tcpHarness {
	h := &tcpHarness{t: t, tr: NewTracker(mask.Default())}
	h.ep[0] = netip.MustParseAddrPort("10.0.0.1:40000")
	h.ep[1] = netip.MustParseAddrPort("10.0.0.2:8080")
	h.seq = [2]uint32{isnC, isnS}
	return h
}

// open sends SYN and SYN-ACK.
func (h *tcpHarness) open() {
	h.add(hSeg{dir: 0, seq: h.seq[0], flags: link.FlagSYN})
	h.add(hSeg{dir: 1, seq: h.seq[1], flags: link.FlagSYN | link.FlagACK})
	h.seq[0]++
	h.seq[1]++
}

// send sends data in dir in segments of at most mss bytes.
func (h *tcpHarness) send(dir int, data []byte, mss int) {
	for len(data) > 0 {
		n := min(mss, len(data))
		h.add(hSeg{dir: dir, seq: h.seq[dir], flags: link.FlagACK | link.FlagPSH, payload: bytes.Clone(data[:n]), n: n})
		h.seq[dir] += uint32(n)
		data = data[n:]
	}
}

// sendAt sends one segment at a given offset from the current sequence
// number without advancing it (retransmissions, reordering).
func (h *tcpHarness) sendAt(dir int, rel int, data []byte) {
	h.add(hSeg{dir: dir, seq: h.seq[dir] + uint32(rel), flags: link.FlagACK, payload: bytes.Clone(data), n: len(data)})
}

func (h *tcpHarness) close() {
	h.add(hSeg{dir: 0, seq: h.seq[0], flags: link.FlagFIN | link.FlagACK})
	h.add(hSeg{dir: 1, seq: h.seq[1], flags: link.FlagFIN | link.FlagACK})
}

func (h *tcpHarness) add(s hSeg) {
	h.ord++
	s.ord = h.ord
	if s.n < len(s.payload) {
		s.n = len(s.payload)
	}
	h.segs = append(h.segs, s)
}

func (h *tcpHarness) frame(s hSeg) *link.Frame {
	src, dst := h.ep[s.dir], h.ep[1-s.dir]
	return &link.Frame{Version: 4, Proto: link.ProtoTCP, Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
		Seq: s.seq, Flags: s.flags, Payload: s.payload, PayloadLen: s.n}
}

// run does pass one over every segment added so far.
func (h *tcpHarness) run() *Result {
	for _, s := range h.segs {
		h.tr.Packet(s.ord, h.frame(s))
	}
	h.res = h.tr.Finish()
	return h.res
}

// masked does pass two: it returns each direction's stream as rebuilt
// from the patched segments (each byte from the first segment carrying
// it), and whether every payload was covered.
func (h *tcpHarness) masked() (streams [2][]byte, covered bool) {
	if h.res == nil {
		h.run()
	}
	h.res.Reset()
	covered = true
	type piece struct {
		off  uint32
		data []byte
	}
	var got [2][]piece
	base := [2]uint32{}
	seen := [2]bool{}
	for _, s := range h.segs {
		if !seen[s.dir] {
			seen[s.dir] = true
			base[s.dir] = s.seq
			if s.flags.Has(link.FlagSYN) {
				base[s.dir]++
			}
		}
		p := bytes.Clone(s.payload)
		in := h.res.Lookup(h.ep[s.dir], h.ep[1-s.dir], s.ord)
		if in == nil {
			if len(p) > 0 {
				covered = false
			}
		} else {
			a := in.Apply(s.seq, s.flags.Has(link.FlagSYN), p)
			if len(p) > 0 && !a.Covered {
				covered = false
			}
		}
		if len(p) > 0 {
			off := s.seq - base[s.dir]
			if s.flags.Has(link.FlagSYN) {
				off++
			}
			got[s.dir] = append(got[s.dir], piece{off, p})
		}
	}
	for d := range got {
		ps := got[d]
		sort.SliceStable(ps, func(i, j int) bool { return int32(ps[i].off-ps[j].off) < 0 })
		var out []byte
		for _, p := range ps {
			o := int(int32(p.off))
			if o+len(p.data) <= len(out) {
				continue
			}
			for len(out) < o {
				out = append(out, 0)
			}
			out = append(out, p.data[len(out)-o:]...)
		}
		streams[d] = out
	}
	return streams, covered
}

// mustHide fails when any of secrets (or a piece of 6 of it) is in b.
func mustHide(t *testing.T, what string, b []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for i := 0; i+6 <= len(s); i++ {
			if bytes.Contains(b, []byte(s[i:i+6])) {
				t.Errorf("%s: %q of secret %q is readable:\n%q", what, s[i:i+6], s, b)
				break
			}
		}
	}
}

// mustKeep fails when any of keep is missing from b.
func mustKeep(t *testing.T, what string, b []byte, keep ...string) {
	t.Helper()
	for _, k := range keep {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("%s: %q was lost:\n%q", what, k, b)
		}
	}
}
