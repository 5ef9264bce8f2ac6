package streammask

import (
	"math"
	"net/netip"
)

// One direction of a followed connection: its segments put back in
// sequence order (out-of-order ones held, within the tracker's budget,
// gaps skipped and reported to the layer), before walk hands contiguous
// bytes to the protocol layer (tracker.go).

// side is one direction of a connection.
type side struct {
	c        *conn
	idx      int
	src, dst netip.AddrPort
	inst     *Instance
	lay      layer // nil until its first bytes
	done     bool  // its walk finished
	// capped is set once the patches hit their bound.
	capped bool
	// prevHead is the last HTTP/1 head found clean line by line
	// (Tracker.maskHead).
	prevHead prevHead

	started bool
	base    uint32
	hi      int64
	next    int64 // stream offset of the next byte to walk
	ooo     []segment
	oooN    int
	fin     bool
	finAt   int64
}

type segment struct {
	off  int64
	data []byte
	n    int64 // announced length (data may be cut by the snaplen)
}

func (sd *side) unwrap(seq uint32) int64 { return unwrapSeq(seq, sd.base, &sd.hi) }

// segment takes one segment's payload at stream offset off: captured
// bytes data of n announced.
func (sd *side) segment(off int64, data []byte, n int64) {
	if sd.done || off+n <= sd.next {
		return
	}
	if off > sd.next {
		if sd.oooN+len(data) > maxOutOfOrder || len(sd.ooo) >= maxOOOSegs {
			sd.skipAhead()
			if off > sd.next {
				sd.gap(sd.next, off)
			}
		} else {
			sd.insert(segment{off: off, data: append([]byte(nil), data...), n: n})
			return
		}
	}
	sd.deliver(off, data, n)
	sd.drain()
}

// insert keeps an out-of-order segment, sorted by offset.
func (sd *side) insert(s segment) {
	i := len(sd.ooo)
	for i > 0 && sd.ooo[i-1].off > s.off {
		i--
	}
	sd.ooo = append(sd.ooo, segment{})
	copy(sd.ooo[i+1:], sd.ooo[i:])
	sd.ooo[i] = s
	sd.oooN += len(s.data)
}

// deliver walks the part of a segment at or after next.
func (sd *side) deliver(off int64, data []byte, n int64) {
	end := off + n
	if end <= sd.next {
		return
	}
	if skip := sd.next - off; skip > 0 {
		if skip >= int64(len(data)) {
			data = nil
		} else {
			data = data[skip:]
		}
		off = sd.next
	}
	if len(data) > 0 {
		sd.next = off + int64(len(data))
		sd.walk(off, data)
	}
	if sd.next < end {
		sd.gap(sd.next, end) // cut by the snaplen
	}
}

// drain walks held segments that are now in order.
func (sd *side) drain() {
	for len(sd.ooo) > 0 && sd.ooo[0].off <= sd.next {
		s := sd.ooo[0]
		sd.ooo = sd.ooo[1:]
		sd.oooN -= len(s.data)
		sd.deliver(s.off, s.data, s.n)
	}
	if len(sd.ooo) == 0 {
		sd.ooo = nil
	}
}

// skipAhead gives up on the bytes missing before the first held segment.
func (sd *side) skipAhead() {
	if len(sd.ooo) == 0 {
		return
	}
	sd.gap(sd.next, sd.ooo[0].off)
	sd.drain()
}

// flush walks every held segment, with gaps for what is missing.
func (sd *side) flush() {
	for len(sd.ooo) > 0 {
		sd.skipAhead()
	}
}

// gap records that bytes [from, to) were not walked and tells the layer.
func (sd *side) gap(from, to int64) {
	if to <= from {
		return
	}
	in := sd.instance()
	if n := len(in.Gaps); n > 0 && in.Gaps[n-1].End == from {
		in.Gaps[n-1].End = to
	} else if n < maxGaps {
		in.Gaps = append(in.Gaps, Range{from, to})
	} else {
		in.Gaps[n-1].End = math.MaxInt64
	}
	sd.next = to
	if !sd.done && sd.lay != nil {
		sd.lay.gap()
	}
}
