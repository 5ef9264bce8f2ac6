package streammask

import (
	"encoding/binary"
	"sort"
)

// Unit sizes and bounds.
const (
	// scanWindow is how much of a long unit (a body, a WebSocket
	// message, a raw stream) the masker sees at once; scanOverlap bytes
	// of each window are seen again with the next, so a secret and its
	// context (a JSON key, a header name) shorter than that are found
	// wherever the window boundary falls.
	scanWindow  = 128 << 10
	scanOverlap = 16 << 10
	// maxCompressed is how much of a compressed unit is kept to be
	// decompressed and checked; a longer one is overwritten whole.
	maxCompressed = 8 << 20
	// maxHold bounds a header block (HTTP/1 head, HPACK block).
	maxHold = 1 << 20
	// maxPieces bounds the stream ranges a unit that is checked at its
	// end remembers; past it the unit is overwritten whole.
	maxPieces = 1 << 16
	// maxDecoded caps decompressed output.
	maxDecoded = 16 << 20
)

// Unit kinds.
const (
	unitText       = iota // scanned in windows as it grows
	unitCompressed        // kept, decompressed and checked at its end
	unitHold              // kept for the caller (a header block)
)

// Reasons units are overwritten whole, as the pcapng comment says them.
const (
	WhyCompressedSecret = "compressed and held a secret"
	WhyUndecodable      = "compressed and could not be decompressed to check it"
	WhyTooLarge         = "compressed and too large to check"
	WhyDeflateLost      = "compressed on a permessage-deflate stream whose earlier messages could not be checked"
	WhyHPACK            = "an HPACK header block that could not be decoded"
	WhyTooMany          = "too many secrets in one stream: the rest of it is overwritten"
)

// piece maps n bytes of a unit (from unit offset u) to the stream (from
// offset off). keyed pieces are masked WebSocket payload: the stream
// holds each unit byte XOR key[(off'-keyAt)%4].
type piece struct {
	u, off, n int64
	keyed     bool
	key       [4]byte
	keyAt     int64
}

// unit is the content of one protocol unit (a header block, a body, a
// WebSocket message, a gRPC message) put together from the stream
// ranges that carried it, so secrets are found in what the protocol
// delivers and patched back into the bytes that carried them.
type unit struct {
	sd     *side
	kind   int
	buf    []byte
	at     int64 // unit offset of buf[0]
	size   int64 // unit length so far
	pieces []piece
	// decode undoes the compression of a unitCompressed.
	decode func([]byte) ([]byte, error)
	// filler, when set, returns a replacement of the compressed bytes
	// orig that decompresses to n '*' (nil when it cannot). It may look
	// only at len(orig), orig's first two bytes and n: pass two calls it
	// again with a stand-in of that shape (fillRecipe).
	filler func(orig []byte, n int) []byte
	// memo, when set, says the unit's check depends only on its bytes
	// and this key (its coding), so the tracker's memo may answer it.
	memo string
	what string // names the unit in notes: "HTTP body", "WebSocket message"
	// wiping is set once a unit is overwritten whole: every later piece
	// is filled as it arrives.
	wiping bool
	why    string
	noted  bool
	budget int64 // bytes of buf counted against the tracker's budget
	// recycle is set on units whose owner reuses them (reuseUnit): their
	// release hands buf to the tracker's pool and keeps pieces.
	recycle bool
}

func (sd *side) newUnit(kind int, what string) *unit {
	return &unit{sd: sd, kind: kind, what: what}
}

// Bounds of recycled unit memory.
const (
	// maxPooledBuf is the largest unit buffer the tracker's pool keeps,
	// and maxPooled how many it keeps.
	maxPooledBuf = 64 << 10
	maxPooled    = 64
	// maxSparePieces is the largest pieces slice a reused unit keeps.
	maxSparePieces = 64
)

// reuseUnit is newUnit for an owner that has one unit at a time: u,
// when not nil, is its previous unit, finished, whose memory is used
// again, and the buffer comes from the tracker's pool. A keep-alive
// connection has a body per message; a new unit and its growing buffer
// for each was a third of the follower's allocations.
func (sd *side) reuseUnit(u *unit, kind int, what string) *unit {
	if u == nil {
		u = &unit{}
	}
	*u = unit{sd: sd, kind: kind, what: what, recycle: true, pieces: u.pieces[:0]}
	if t := sd.c.t; len(t.bufs) > 0 {
		u.buf = t.bufs[len(t.bufs)-1]
		t.bufs[len(t.bufs)-1] = nil
		t.bufs = t.bufs[:len(t.bufs)-1]
	}
	return u
}

// add appends b, which sits at stream offset off (unmasked already when
// k is set).
func (u *unit) add(off int64, b []byte, k *wsKey) {
	if len(b) == 0 {
		return
	}
	p := piece{u: u.size, off: off, n: int64(len(b))}
	if k != nil {
		p.keyed, p.key, p.keyAt = true, k.key, k.at
	}
	u.size += int64(len(b))
	if u.wiping {
		u.fillPiece(p)
		return
	}
	if n := len(u.pieces); n > 0 {
		last := &u.pieces[n-1]
		if last.off+last.n == p.off && last.u+last.n == p.u && last.keyed == p.keyed && last.key == p.key && last.keyAt == p.keyAt {
			last.n += p.n
			p.n = 0
		}
	}
	if p.n > 0 {
		u.pieces = append(u.pieces, p)
	}
	switch u.kind {
	case unitText:
		u.buf = append(u.buf, b...)
		if len(u.buf) >= scanWindow {
			u.scan(false)
		}
	case unitCompressed:
		if len(u.buf)+len(b) > maxCompressed || len(u.pieces) > maxPieces || !u.sd.c.t.reserve(int64(len(b))) {
			u.wipe(WhyTooLarge)
			return
		}
		u.budget += int64(len(b))
		u.buf = append(u.buf, b...)
	case unitHold:
		if len(u.buf)+len(b) > maxHold || !u.sd.c.t.reserve(int64(len(b))) {
			u.wipe(WhyHPACK)
			return
		}
		u.budget += int64(len(b))
		u.buf = append(u.buf, b...)
	}
}

// scanWhole is add for a text unit's only bytes, b, which sit at
// stream offset off: it checks them where they lie rather than copying
// them (a keep-alive response's body usually comes in one segment) and
// leaves finish nothing to do but release the unit. It reports false,
// having done nothing, when the unit is not a new text unit or b is too
// long to be checked at once.
func (u *unit) scanWhole(off int64, b []byte) bool {
	if u.kind != unitText || u.wiping || u.size != 0 || len(b) == 0 || len(b) >= scanWindow {
		return false
	}
	u.pieces = append(u.pieces, piece{u: 0, off: off, n: int64(len(b))})
	u.size = int64(len(b))
	own := u.buf
	u.buf = b
	u.scan(true)
	u.buf, u.pieces = own[:0], u.pieces[:0]
	return true
}

// finish checks what is left of the unit and releases it.
func (u *unit) finish() {
	if u == nil {
		return
	}
	switch {
	case u.wiping:
	case u.kind == unitText:
		u.scan(true)
	case u.kind == unitCompressed && u.memo != "":
		u.checkMemo()
	case u.kind == unitCompressed:
		plain, err := u.decode(u.buf)
		switch {
		case err != nil:
			u.wipe(WhyUndecodable)
		case u.sd.c.t.secret(plain):
			var f []byte
			if u.filler != nil && u.at == 0 && int64(len(u.buf)) == u.size {
				f = u.filler(u.buf, len(plain))
			}
			if len(f) == len(u.buf) {
				r := &fillRecipe{filler: u.filler, m: len(u.buf), n: len(plain)}
				copy(r.head[:], u.buf)
				u.wipeWith(WhyCompressedSecret, f, r)
			} else {
				u.wipe(WhyCompressedSecret)
			}
		}
	}
	u.release()
}

// checkMemo checks a compressed unit whose check depends only on its
// bytes and coding (u.memo) as finish does, with the tracker's memo:
// the same verdict and the same filler, computed once per distinct unit.
func (u *unit) checkMemo() {
	t := u.sd.c.t
	v, hit, again := t.memo.lookup(u.memo, u.buf)
	if !hit {
		plain, err := u.decode(u.buf)
		v = verdict{undecodable: err != nil, n: len(plain)}
		v.secret = err == nil && t.secret(plain)
		if again {
			t.memo.remember(u.memo, u.buf, v)
		}
	}
	switch {
	case v.undecodable:
		u.wipe(WhyUndecodable)
	case v.secret:
		if u.filler == nil || u.at != 0 || int64(len(u.buf)) != u.size {
			u.wipe(WhyCompressedSecret)
			return
		}
		if r, f := t.memo.recipe(u.memo, u.filler, u.buf, v.n); r != nil {
			u.wipeWith(WhyCompressedSecret, f, r)
		} else {
			u.wipe(WhyCompressedSecret)
		}
	}
}

// wipeWith overwrites the whole unit with fill (as unmasked bytes; one
// byte per unit byte), made by r, the first patch saying why. Pieces
// sent in the clear keep only the recipe (see fillRecipe); masked
// WebSocket pieces, whose bytes depend on the key, keep their bytes.
func (u *unit) wipeWith(why string, fill []byte, r *fillRecipe) {
	u.wiping, u.why = true, why
	u.sd.c.t.wiped(why)
	for _, p := range u.pieces {
		var pt Patch
		if p.keyed && fill == nil {
			fill = r.bytes()
		}
		if p.keyed {
			pt = patchFor(p, p.u, fill[p.u:p.u+p.n])
		} else {
			pt = Patch{Off: p.off, Len: p.n, Kind: KindReplace, fill: r, fillAt: p.u}
		}
		if !u.noted {
			u.noted = true
			pt.Note = u.sd.c.t.intern(u.note() + " (it decompresses to '*')")
		}
		u.sd.emit(pt)
	}
}

// intern returns the tracker's copy of note s.
func (t *Tracker) intern(s string) string {
	if n, ok := t.notes[s]; ok {
		return n
	}
	if t.notes == nil {
		t.notes = make(map[string]string)
	}
	if len(t.notes) < 1024 {
		t.notes[s] = s
	}
	return s
}

func (u *unit) note() string {
	return "tapview: " + u.what + " overwritten whole: " + u.why
}

// fillRecipe makes the filler of a compressed unit overwritten whole
// (fillers depend only on the original's length, its first two bytes,
// which tell zlib from raw DEFLATE, and the decompressed length). Patches
// keep the recipe instead of the bytes because pass one holds every
// patch until pass two: on a 1 GB capture with a secret in one response
// in ten, the filler bytes were 146 of the 233 MB live at the end of
// pass one. Pass two makes each unit's filler again when it gets there.
type fillRecipe struct {
	filler func(orig []byte, n int) []byte
	head   [2]byte
	m, n   int
	// share is set on a recipe the memo gave to more than one unit: it
	// keeps its bytes once made (made), so pass two makes them once.
	share bool
	made  []byte
}

// bytes makes the filler again, from a stand-in for the original with
// its length and first two bytes. The result must not be modified.
func (r *fillRecipe) bytes() []byte {
	if r.made != nil {
		return r.made
	}
	orig := make([]byte, r.m)
	copy(orig, r.head[:])
	b := r.filler(orig, r.n)
	if r.share {
		r.made = b
	}
	return b
}

func (u *unit) release() {
	t := u.sd.c.t
	t.release(u.budget)
	u.budget = 0
	if u.recycle {
		if c := cap(u.buf); c > 0 && c <= maxPooledBuf && len(t.bufs) < maxPooled {
			t.bufs = append(t.bufs, u.buf[:0])
		}
		if cap(u.pieces) <= maxSparePieces {
			u.buf, u.pieces = nil, u.pieces[:0]
			return
		}
	}
	u.buf, u.pieces = nil, nil
}

// scan runs the masker over the buffered bytes and patches what it
// overwrote; unless final, it keeps the last scanOverlap bytes. A whole
// unit goes through the memo (Tracker.maskText).
func (u *unit) scan(final bool) {
	if len(u.buf) == 0 {
		return
	}
	var masked []byte
	if final && u.at == 0 {
		masked = u.sd.c.t.maskText(u.buf)
	} else {
		masked = u.sd.c.t.m.Bytes(u.buf)
	}
	if len(masked) == len(u.buf) && &masked[0] != &u.buf[0] {
		u.emitDiff(u.at, u.buf, masked)
	}
	if final {
		return
	}
	drop := len(u.buf) - scanOverlap
	n := copy(u.buf, u.buf[drop:])
	u.buf = u.buf[:n]
	u.at += int64(drop)
	i := 0
	for i < len(u.pieces) && u.pieces[i].u+u.pieces[i].n <= u.at {
		i++
	}
	u.pieces = append(u.pieces[:0], u.pieces[i:]...)
}

// emitDiff patches the runs where masked differs from orig; both start
// at unit offset at.
func (u *unit) emitDiff(at int64, orig, masked []byte) {
	forRuns(orig, masked, func(i, j int) { u.emitRun(at+int64(i), masked[i:j]) })
}

// forRuns calls f for each run [i, j) where a and b (of one length)
// differ. Equal stretches are skipped eight bytes at a time: masked
// bodies are mostly unchanged.
func forRuns(a, b []byte, f func(i, j int)) {
	for i := 0; i < len(a); {
		for i+8 <= len(a) && binary.LittleEndian.Uint64(a[i:]) == binary.LittleEndian.Uint64(b[i:]) {
			i += 8
		}
		for i < len(a) && a[i] == b[i] {
			i++
		}
		if i == len(a) {
			return
		}
		j := i
		for j < len(a) && a[j] != b[j] {
			j++
		}
		f(i, j)
		i = j
	}
}

// emitRun patches the stream so that the unit bytes from unit offset at
// read as repl.
func (u *unit) emitRun(at int64, repl []byte) {
	end := at + int64(len(repl))
	i := sort.Search(len(u.pieces), func(i int) bool { return u.pieces[i].u+u.pieces[i].n > at })
	for ; i < len(u.pieces) && u.pieces[i].u < end; i++ {
		p := u.pieces[i]
		lo, hi := max(p.u, at), min(p.u+p.n, end)
		u.sd.emit(patchFor(p, lo, repl[lo-at:hi-at]))
	}
}

// patchFor makes the patch that writes r at unit offset lo of piece p.
func patchFor(p piece, lo int64, r []byte) Patch {
	off := p.off + (lo - p.u)
	stars := true
	for _, c := range r {
		if c != '*' {
			stars = false
			break
		}
	}
	switch {
	case stars && p.keyed:
		return Patch{Off: off, Len: int64(len(r)), Kind: KindXOR, Byte: '*', Key: p.key, KeyAt: p.keyAt}
	case stars:
		return Patch{Off: off, Len: int64(len(r)), Kind: KindFill, Byte: '*'}
	}
	d := make([]byte, len(r))
	for i, c := range r {
		if p.keyed {
			c ^= p.key[(off+int64(i)-p.keyAt)&3]
		}
		d[i] = c
	}
	return Patch{Off: off, Len: int64(len(r)), Kind: KindReplace, Data: d}
}

// wipe overwrites the whole unit (what came so far and what comes
// later) with '*' (as unmasked bytes), the first patch saying why.
func (u *unit) wipe(why string) {
	if u.wiping {
		return
	}
	u.wiping, u.why = true, why
	u.sd.c.t.wiped(why)
	for _, p := range u.pieces {
		u.fillPiece(p)
	}
	u.sd.c.t.release(u.budget)
	u.budget = 0
	u.buf, u.pieces = nil, nil
}

func (u *unit) fillPiece(p piece) {
	pt := Patch{Off: p.off, Len: p.n, Kind: KindFill, Byte: '*'}
	if p.keyed {
		pt.Kind, pt.Key, pt.KeyAt = KindXOR, p.key, p.keyAt
	}
	if !u.noted {
		u.noted = true
		pt.Note = u.sd.c.t.intern(u.note())
	}
	u.sd.emit(pt)
}

// wsKey is the masking key of a WebSocket frame and the stream offset
// of its payload's first byte.
type wsKey struct {
	key [4]byte
	at  int64
}
