package streammask

import (
	"cmp"
	"math"
	"net/netip"
	"slices"

	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/internal/cleanmemo"
)

// Bounds of the tracker.
const (
	// maxOutOfOrder is how many bytes ahead of a direction's stream are
	// held waiting for what is missing; past it the missing bytes are
	// taken as lost.
	maxOutOfOrder = 1 << 20
	maxOOOSegs    = 1024
	// maxPatches bounds one direction's patches; past it the rest of
	// the stream is overwritten (WhyTooMany).
	maxPatches = 1 << 16
	// maxGaps bounds the recorded gaps of one direction; past it the
	// rest of the stream counts as not walked.
	maxGaps = 256
	// maxClosed is how many ended connections are remembered, so their
	// late retransmissions fall on the same instance.
	maxClosed = 1 << 12
	// maxOpen is how many connections are walked at once; past it the
	// least recently active quarter is ended (a later segment of one
	// starts a new walk, as if joined mid-stream). The decoder bounds
	// its flows the same way.
	maxOpen = 1 << 13
	// keepClean is how long a walked direction without patches or gaps
	// must be for its instance to be kept: a kept instance tells pass
	// two its packets were walked, sparing them the per-packet scan,
	// and short ones are not worth their memory.
	keepClean = 64 << 10
	// DefaultBudget bounds the bytes held for checking across all
	// connections of one tracker (compressed units and header blocks);
	// past it such units are overwritten whole.
	DefaultBudget = 256 << 20
)

// Tracker follows the TCP connections of one capture source in pass one
// of an export: it puts each direction's byte stream back together,
// walks it layer by layer (HTTP/1 with chunked bodies, HTTP/2 frames
// and HPACK, gRPC messages, WebSocket frames; TLS is left alone) and
// records the patches that mask what the masker finds, at stream
// offsets. It is used by one goroutine.
type Tracker struct {
	m      *mask.Masker
	conns  map[connKey]*conn
	closed []*conn // ended connections, oldest first
	open   int     // connections in conns not ended
	res    *Result
	held   int64
	budget int64
	// notes holds each distinct patch note once: a note per wiped unit
	// would otherwise be a string per compressed response.
	notes map[string]string
	memo  memo
	// bufs are released unit buffers to use again (reuseUnit).
	bufs [][]byte
	// lineMode says heads may be masked line by line (maskHead), with
	// lines remembered clean.
	lineMode bool
	lines    cleanmemo.Memo
}

// NewTracker returns a tracker masking with m (which must not be nil).
func NewTracker(m *mask.Masker) *Tracker {
	return &Tracker{
		m:        m,
		conns:    make(map[connKey]*conn),
		res:      &Result{halves: make(map[halfKey][]*Instance), Stats: Stats{Wiped: make(map[string]int)}},
		budget:   DefaultBudget,
		lineMode: lineModeFor(m),
		lines:    cleanmemo.New(lineMemoSlots, lineMemoStride),
	}
}

// secret reports whether the masker finds anything in b.
func (t *Tracker) secret(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	m := t.m.Bytes(b)
	return &m[0] != &b[0]
}

func (t *Tracker) reserve(n int64) bool {
	if t.held+n > t.budget {
		return false
	}
	t.held += n
	return true
}

func (t *Tracker) release(n int64) { t.held -= n }

func (t *Tracker) wiped(why string) { t.res.Stats.Wiped[why]++ }

// connKey is a connection's address pair in a fixed order.
type connKey struct{ a, b netip.AddrPort }

func makeConnKey(x, y netip.AddrPort) connKey {
	if c := x.Addr().Compare(y.Addr()); c > 0 || c == 0 && x.Port() > y.Port() {
		x, y = y, x
	}
	return connKey{x, y}
}

// Packet feeds one parsed frame with its ordinal. Frames other than TCP
// segments are ignored.
func (t *Tracker) Packet(ordinal uint64, f *link.Frame) {
	if f.Proto != link.ProtoTCP || f.Fragment {
		return
	}
	syn, fin, rst := f.Flags.Has(link.FlagSYN), f.Flags.Has(link.FlagFIN), f.Flags.Has(link.FlagRST)
	if !syn && !fin && !rst && f.PayloadLen == 0 {
		return
	}
	s, d := f.AddrPorts()
	src, dst := unmap(s), unmap(d)
	k := makeConnKey(src, dst)
	c := t.conns[k]
	if c != nil && syn {
		if sd := c.sideFrom(src); sd != nil && sd.started && sd.base != f.Seq+1 {
			t.end(c)
			c = nil
		}
	}
	if c == nil {
		if t.open >= maxOpen {
			t.evict()
		}
		c = &conn{t: t, key: k, first: ordinal, client: -1}
		t.conns[k] = c
		t.open++
		t.res.Stats.Connections++
	}
	c.last = ordinal
	sd := c.side(src, dst)
	seq := f.Seq
	if syn {
		seq++
	}
	if !sd.started {
		sd.started, sd.base = true, seq
	}
	if syn && c.client < 0 {
		if f.Flags.Has(link.FlagACK) {
			c.client = 1 - sd.idx
		} else {
			c.client = sd.idx
		}
	}
	off := sd.unwrap(seq)
	if f.PayloadLen > 0 && !c.ended {
		sd.segment(off, f.Payload, int64(f.PayloadLen))
	}
	if rst {
		t.end(c)
		return
	}
	if fin && !sd.fin {
		sd.fin, sd.finAt = true, off+int64(f.PayloadLen)
		if c.sides[0] != nil && c.sides[1] != nil && c.sides[0].fin && c.sides[1].fin {
			t.end(c)
		}
	}
}

// end finishes a connection's walk and remembers it as ended.
func (t *Tracker) end(c *conn) {
	if c.ended {
		return
	}
	c.ended = true
	t.open--
	for _, sd := range c.sides {
		if sd != nil {
			sd.flush()
		}
	}
	for _, sd := range c.sides {
		if sd != nil {
			sd.finish()
		}
	}
	c.reqs = nil
	t.closed = append(t.closed, c)
	if len(t.closed) > maxClosed {
		old := t.closed[0]
		t.closed[0] = nil
		t.closed = t.closed[1:]
		if t.conns[old.key] == old {
			delete(t.conns, old.key)
		}
	}
}

// evict ends a quarter of the open connections and forgets them: those
// that sent no bytes yet first (nothing is lost: their first bytes
// still start their walk), then the least recently active.
func (t *Tracker) evict() {
	type cand struct {
		c    *conn
		data bool
	}
	var cs []cand
	for _, c := range t.conns {
		if !c.ended {
			cs = append(cs, cand{c, c.walked()})
		}
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.data != b.data {
			if a.data {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.c.last, b.c.last)
	})
	for _, x := range cs[:len(cs)/4] {
		t.end(x.c)
		delete(t.conns, x.c.key)
		if x.data {
			t.res.Stats.Evicted++
		}
	}
}

// walked reports whether any byte of the connection was walked.
func (c *conn) walked() bool {
	for _, sd := range c.sides {
		if sd != nil && (sd.next > 0 || len(sd.ooo) > 0) {
			return true
		}
	}
	return false
}

// Finish ends every connection still open and returns what was found.
func (t *Tracker) Finish() *Result {
	for _, c := range t.conns {
		t.end(c)
	}
	t.conns = make(map[connKey]*conn)
	t.closed = nil
	return t.res
}

// conn is one TCP connection: two sides, by sender.
type conn struct {
	t      *Tracker
	key    connKey
	first  uint64
	last   uint64 // ordinal of its latest packet
	sides  [2]*side
	client int // index of the client's side, -1 while unknown
	ended  bool
	// reqs are the HTTP/1 requests whose responses have not been seen.
	reqs []h1Request
}

// sideFrom returns the side that sends from src, or nil.
func (c *conn) sideFrom(src netip.AddrPort) *side {
	for _, sd := range c.sides {
		if sd != nil && sd.src == src {
			return sd
		}
	}
	return nil
}

// side returns (making it) the side sending from src to dst.
func (c *conn) side(src, dst netip.AddrPort) *side {
	if sd := c.sideFrom(src); sd != nil {
		return sd
	}
	i := 0
	if c.sides[0] != nil {
		i = 1
	}
	sd := &side{c: c, idx: i, src: src, dst: dst}
	c.sides[i] = sd
	return sd
}

// peer returns the other side (nil when it has not sent anything).
func (sd *side) peer() *side { return sd.c.sides[1-sd.idx] }

// peerOrNew returns the other side, making it when it has not sent yet.
func (sd *side) peerOrNew() *side {
	if p := sd.peer(); p != nil {
		return p
	}
	k := sd.c.key
	dst := k.a
	if dst == sd.src {
		dst = k.b
	}
	return sd.c.side(dst, sd.src)
}

// isClient reports whether this side is known to be the client.
func (sd *side) isClient() bool { return sd.c.client == sd.idx }

// walk hands contiguous bytes to the current layer.
func (sd *side) walk(off int64, b []byte) {
	if sd.done {
		return
	}
	if sd.lay == nil {
		sd.lay = &detect{sd: sd}
	}
	sd.lay.data(off, b)
}

// switchTo makes l the side's layer and hands it the bytes b at off.
func (sd *side) switchTo(l layer, off int64, b []byte) {
	sd.lay = l
	if len(b) > 0 {
		l.data(off, b)
	}
}

// finish ends the side's walk.
func (sd *side) finish() {
	if sd.done {
		return
	}
	if sd.lay != nil {
		sd.lay.end()
	}
	sd.lay = nil
	sd.done = true
	sd.prevHead = prevHead{}
	if sd.next == 0 && sd.inst == nil {
		return // nothing was sent
	}
	in := sd.instance()
	in.Seen = sd.next
	in.keep(normalize(in.patches))
	r := sd.c.t.res
	hk := halfKey{sd.src, sd.dst}
	list := r.halves[hk]
	if len(in.kept) == 0 && len(in.Gaps) == 0 && in.Seen < keepClean {
		if len(list) == 0 {
			return // nothing pass two needs
		}
		// An earlier connection on the same addresses must not lend
		// its patches to this one's packets: an empty instance stands
		// in (it changes nothing and claims nothing walked).
		in = &Instance{First: in.First, Base: in.Base}
	}
	r.Stats.Patches += len(in.kept)
	i := len(list)
	for i > 0 && list[i-1].First > in.First {
		i--
	}
	r.halves[hk] = slices.Insert(list, i, in)
}

// instance returns (making it) what pass two gets of this side.
func (sd *side) instance() *Instance {
	if sd.inst == nil {
		sd.inst = &Instance{First: sd.c.first, Base: sd.base}
	}
	return sd.inst
}

// emit records a patch, within the bound.
func (sd *side) emit(p Patch) {
	if p.Len <= 0 || sd.capped {
		return
	}
	in := sd.instance()
	// The pieces of a unit overwritten whole come one after another:
	// extending the last patch keeps one patch per unit, not one per
	// TCP segment, while pass one holds them all.
	if n := len(in.patches); n > 0 && p.Note == "" && (p.Kind != KindReplace || p.fill != nil) {
		if last := &in.patches[n-1]; p.Off == last.end() && p.Kind == last.Kind && mergeable(last, &p) {
			last.Len += p.Len
			return
		}
	}
	in.patches = append(in.patches, p)
	if len(in.patches) < maxPatches {
		return
	}
	in.patches = normalize(in.patches)
	if len(in.patches) < maxPatches*3/4 {
		return
	}
	// Everything from the earliest pending patch on is overwritten.
	from := p.Off
	for _, q := range in.patches {
		if q.Off+q.Len > from-scanWindow && q.Off < from {
			from = q.Off
		}
	}
	sd.capped = true
	sd.c.t.res.Stats.Capped++
	sd.c.t.wiped(WhyTooMany)
	in.patches = append(in.patches, Patch{Off: from, Len: math.MaxInt64 - from, Kind: KindFill, Byte: '*',
		Note: "tapview: " + WhyTooMany})
}

// emitText masks b, which sits contiguously at stream offset off, and
// records what changed.
func (sd *side) emitText(off int64, b []byte) { sd.emitMasked(off, b, false) }

// emitHead is emitText for a complete HTTP/1 head, masked line by line
// when it can be (Tracker.maskHead).
func (sd *side) emitHead(off int64, b []byte) { sd.emitMasked(off, b, true) }

func (sd *side) emitMasked(off int64, b []byte, head bool) {
	if len(b) == 0 {
		return
	}
	var masked []byte
	if head {
		masked = sd.c.t.maskHead(b, &sd.prevHead)
	} else {
		masked = sd.c.t.maskText(b)
	}
	if &masked[0] == &b[0] {
		return
	}
	forRuns(b, masked, func(i, j int) {
		sd.emit(patchFor(piece{off: off, n: int64(len(b))}, int64(i), masked[i:j]))
	})
}

// layer walks one direction's bytes for one protocol.
type layer interface {
	// data takes contiguous bytes at stream offset off. A layer that
	// hands over to another protocol passes the rest on with switchTo.
	data(off int64, b []byte)
	// gap says bytes were lost before the next data: the layer finishes
	// what it holds and, unless it can resynchronise, leaves the rest
	// of the stream to a raw scan.
	gap()
	// end finishes what the layer holds.
	end()
}

// raw scans a stream of unknown protocol (or one that lost its framing)
// in windows.
type raw struct {
	sd *side
	u  *unit
}

func (r *raw) data(off int64, b []byte) {
	if r.u == nil {
		r.u = r.sd.newUnit(unitText, "stream")
	}
	r.u.add(off, b, nil)
}

func (r *raw) gap() {
	r.u.finish()
	r.u = nil
}

func (r *raw) end() { r.gap() }

// toRaw makes the side scan the rest of its stream raw.
func (sd *side) toRaw(off int64, b []byte) { sd.switchTo(&raw{sd: sd}, off, b) }

// opaque leaves a stream alone (TLS: ciphertext).
type opaque struct{}

func (opaque) data(int64, []byte) {}
func (opaque) gap()               {}
func (opaque) end()               {}
