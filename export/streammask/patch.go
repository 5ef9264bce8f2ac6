package streammask

import (
	"math"
	"net/netip"
	"slices"
	"sort"
)

// Patch kinds.
const (
	// KindFill writes Byte over every byte of the patch.
	KindFill uint8 = iota
	// KindXOR writes, at stream offset x, Byte ^ Key[(x-KeyAt)%4]: a
	// masked WebSocket payload whose unmasked bytes read as Byte.
	KindXOR
	// KindReplace writes Data, or for a unit overwritten with compressed
	// filler, the filler's bytes, made again from its recipe when pass
	// two reaches the unit (see fillRecipe).
	KindReplace
)

// Patch is one change to the bytes of one direction of a TCP
// connection, at offsets of that direction's byte stream (0 is the byte
// after the SYN, or the first byte seen of a connection joined
// mid-stream).
type Patch struct {
	Off, Len int64
	Kind     uint8
	Byte     byte
	Key      [4]byte
	KeyAt    int64
	Data     []byte
	// Note, when set, is said in the comment of the first packet the
	// patch changes: a unit overwritten whole, and why.
	Note string
	// fill, when set, stands in for Data: the patch writes the recipe's
	// bytes from fillAt on.
	fill   *fillRecipe
	fillAt int64
}

func (p *Patch) end() int64 {
	if p.Len > math.MaxInt64-p.Off {
		return math.MaxInt64
	}
	return p.Off + p.Len
}

// byteAt returns what the patch writes at stream offset x; data is what
// a KindReplace patch writes (Instance.data).
func (p *Patch) byteAt(x int64, data []byte) byte {
	switch p.Kind {
	case KindXOR:
		return p.Byte ^ p.Key[(x-p.KeyAt)&3]
	case KindReplace:
		return data[x-p.Off]
	}
	return p.Byte
}

// trimFront drops the first n bytes of the patch.
func (p *Patch) trimFront(n int64) {
	switch {
	case p.fill != nil:
		p.fillAt += n
	case p.Kind == KindReplace:
		p.Data = p.Data[n:]
	}
	p.Off += n
	p.Len -= n
}

// Range is a span of stream offsets.
type Range struct{ Off, End int64 }

// Instance is what pass one learnt about one direction of one TCP
// connection: where its stream starts in sequence space and what to
// change in it. Pass two calls Apply for each of its packets, in
// capture order, from one goroutine.
type Instance struct {
	// First is the ordinal of the connection's first packet: later
	// packets of the same address pair belong to it until the next
	// connection on that pair starts.
	First uint64
	// Base is the sequence number of stream offset 0.
	Base uint32
	// patches are pass one's, unordered until the side finishes; kept
	// are what is left of them then, sorted by offset and disjoint.
	patches []Patch
	kept    []keptPatch
	fulls   []Patch // kept patches with more than a plain fill
	// Gaps are ranges pass one did not walk (bytes lost in the capture
	// or given up on), where the per-packet scan has to do.
	Gaps []Range
	// Seen is how far pass one walked the stream.
	Seen int64

	hi   int64            // pass two: highest offset seen, to unwrap sequence numbers
	said map[int]struct{} // pass two: patches whose note was said
	// made and madeFor hold pass two's newest filler bytes and their
	// recipe: the packets of one unit come one after another, so it is
	// made once per unit and only one is held at a time.
	made    []byte
	madeFor *fillRecipe
}

// data returns what a KindReplace patch writes.
func (in *Instance) data(p *Patch) []byte {
	if p.fill == nil {
		return p.Data
	}
	if in.madeFor != p.fill {
		in.made, in.madeFor = p.fill.bytes(), p.fill
	}
	return in.made[p.fillAt : p.fillAt+p.Len]
}

// unwrap turns a 32-bit sequence number into a stream offset near the
// highest one seen so far.
func (in *Instance) unwrap(seq uint32) int64 { return unwrapSeq(seq, in.Base, &in.hi) }

// unwrapSeq turns seq into a stream offset from base, near *hi, the
// highest offset so far, which it moves on: a sequence number is taken
// to be within 2 GiB of it, either way, so wrapping around 2^32 and
// retransmissions of older bytes both land where they belong.
func unwrapSeq(seq, base uint32, hi *int64) int64 {
	off := *hi + int64(int32(seq-base-uint32(*hi)))
	if off > *hi {
		*hi = off
	}
	return off
}

// Applied says what Apply did to one packet.
type Applied struct {
	// Changed is set when a byte of the payload changed.
	Changed bool
	// Covered is set when pass one walked every byte of the payload, so
	// the per-packet scan adds nothing.
	Covered bool
	// Notes are the notes of whole-unit patches this packet is the
	// first to carry.
	Notes []string
}

// Apply overwrites what the patches cover of a payload sent with
// sequence number seq (the SYN's own sequence number when syn is set).
func (in *Instance) Apply(seq uint32, syn bool, payload []byte) Applied {
	var a Applied
	if syn {
		seq++
	}
	if len(payload) == 0 {
		in.unwrap(seq)
		return a
	}
	off := in.unwrap(seq)
	end := off + int64(len(payload))
	a.Covered = off >= 0 && end <= in.Seen && !in.inGap(off, end)
	i := sort.Search(len(in.kept), func(i int) bool { return in.end(&in.kept[i]) > off })
	for ; i < len(in.kept) && in.kept[i].off < end; i++ {
		k := &in.kept[i]
		lo, hi := max(k.off, off), min(in.end(k), end)
		if k.meta < 1<<8 {
			for x := lo; x < hi; x++ {
				if b := byte(k.meta); payload[x-off] != b {
					payload[x-off] = b
					a.Changed = true
				}
			}
			continue
		}
		p := &in.fulls[k.meta>>8-1]
		var data []byte
		if p.Kind == KindReplace {
			data = in.data(p)
		}
		for x := lo; x < hi; x++ {
			c := p.byteAt(x, data)
			if payload[x-off] != c {
				payload[x-off] = c
				a.Changed = true
			}
		}
		if p.Note != "" && lo < hi {
			if _, done := in.said[i]; !done {
				if in.said == nil {
					in.said = make(map[int]struct{})
				}
				in.said[i] = struct{}{}
				a.Notes = append(a.Notes, p.Note)
			}
		}
	}
	return a
}

// keptPatch is a Patch as an Instance keeps it from the end of pass one
// until pass two: 16 bytes without pointers instead of 88, with the
// full Patch in Instance.fulls only for those that have more than a '*'
// fill (replacement bytes or their recipe, a WebSocket key, a note) or
// are longer than 4 GiB. An export holds every patch of a capture
// between its passes: a 1 GB capture with secrets in most responses
// made about 1.1M, 97 MB at full size, nearly all plain fills; as 32
// bytes with a pointer each they were 35 MB the collector had to scan.
type keptPatch struct {
	off int64
	n   uint32 // keptLong: the full patch's length
	// meta is the fill byte, and from bit 8 on the index in fulls plus
	// one (0: a plain fill).
	meta uint32
}

// keptLong marks a kept patch whose length is its full patch's.
const keptLong = math.MaxUint32

// end returns the stream offset after the kept patch k.
func (in *Instance) end(k *keptPatch) int64 {
	if k.n == keptLong {
		return in.fulls[k.meta>>8-1].end()
	}
	return k.off + int64(k.n)
}

// keep stores ps, sorted and disjoint, as the instance's patches for
// pass two.
func (in *Instance) keep(ps []Patch) {
	in.kept = make([]keptPatch, len(ps))
	nf := 0
	for i := range ps {
		if p := &ps[i]; p.Kind != KindFill || p.Note != "" || p.Len >= keptLong {
			nf++
		}
	}
	if nf > 0 {
		in.fulls = make([]Patch, 0, nf)
	}
	for i := range ps {
		p := &ps[i]
		k := keptPatch{off: p.Off, meta: uint32(p.Byte)}
		if p.Kind != KindFill || p.Note != "" || p.Len >= keptLong {
			in.fulls = append(in.fulls, *p)
			k.meta |= uint32(len(in.fulls)) << 8
			k.n = keptLong
		} else {
			k.n = uint32(p.Len)
		}
		in.kept[i] = k
	}
	in.patches = nil
}

// Patches returns the patches kept for pass two, sorted by offset and
// disjoint.
func (in *Instance) Patches() []Patch {
	out := make([]Patch, len(in.kept))
	for i, k := range in.kept {
		if k.meta >= 1<<8 {
			out[i] = in.fulls[k.meta>>8-1]
		} else {
			out[i] = Patch{Off: k.off, Len: int64(k.n), Kind: KindFill, Byte: byte(k.meta)}
		}
	}
	return out
}

func (in *Instance) inGap(off, end int64) bool {
	for _, g := range in.Gaps {
		if g.Off < end && off < g.End {
			return true
		}
	}
	return false
}

// normalize sorts the patches and makes them disjoint (an earlier
// starting patch keeps the bytes both cover), joining neighbours that
// write the same filler.
func normalize(ps []Patch) []Patch {
	slices.SortStableFunc(ps, func(a, b Patch) int {
		switch {
		case a.Off < b.Off:
			return -1
		case a.Off > b.Off:
			return 1
		}
		return 0
	})
	out := ps[:0]
	for _, p := range ps {
		if len(out) > 0 {
			last := &out[len(out)-1]
			if e := last.end(); p.Off < e {
				if p.end() <= e {
					if p.Note != "" && last.Note == "" {
						last.Note = p.Note
					}
					continue
				}
				p.trimFront(e - p.Off)
			}
			if p.Off == last.end() && p.Kind == last.Kind && p.Note == "" && mergeable(last, &p) {
				if p.Kind == KindReplace && p.fill == nil {
					last.Data = append(last.Data, p.Data...)
				}
				last.Len += p.Len
				continue
			}
		}
		out = append(out, p)
	}
	return out
}

func mergeable(a, b *Patch) bool {
	switch a.Kind {
	case KindFill:
		return a.Byte == b.Byte
	case KindXOR:
		return a.Byte == b.Byte && a.Key == b.Key && a.KeyAt == b.KeyAt
	}
	if a.fill != nil || b.fill != nil {
		return a.fill == b.fill && a.fillAt+a.Len == b.fillAt
	}
	return len(a.Data)+len(b.Data) <= 4096
}

// halfKey names one direction of a connection: its sender and receiver.
type halfKey struct{ src, dst netip.AddrPort }

// Result holds the instances pass one made for one source.
type Result struct {
	halves map[halfKey][]*Instance // by First, ascending
	// Stats count what was found, for the export's summary and the
	// pcapng section comment.
	Stats Stats
}

// Stats count what a Result holds.
type Stats struct {
	Connections int // TCP connections walked
	Patches     int // patches kept
	// Wiped counts units overwritten whole, by reason.
	Wiped map[string]int
	// Capped counts directions whose patch list hit its bound, past
	// which the rest of the stream was overwritten.
	Capped int
	// Evicted counts connections with data ended early to bound memory
	// (their later segments were walked as new, joined mid-stream).
	Evicted int
}

// Lookup returns the instance a packet from src to dst with the given
// ordinal belongs to, or nil.
func (r *Result) Lookup(src, dst netip.AddrPort, ordinal uint64) *Instance {
	if r == nil {
		return nil
	}
	list := r.halves[halfKey{unmap(src), unmap(dst)}]
	i := sort.Search(len(list), func(i int) bool { return list[i].First > ordinal })
	if i == 0 {
		return nil
	}
	return list[i-1]
}

// Reset makes the result ready for another pass two (the notes are said
// again).
func (r *Result) Reset() {
	if r == nil {
		return
	}
	for _, list := range r.halves {
		for _, in := range list {
			in.hi, in.said = 0, nil
		}
	}
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
