package link

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
)

// Defragmenter limits used when a DefragConfig field is zero.
const (
	DefaultMaxDatagrams  = 1024
	DefaultMaxFragBytes  = 16 << 20
	DefaultFragTimeout   = 30 * time.Second
	maxDatagramPayload   = 65535
	queueCompactMultiple = 4
)

// Errors Defragmenter.Add returns for fragments it cannot use. The caller
// counts them; none of them stops decoding.
var (
	// ErrNotFragment is returned for a Frame without Fragment set.
	ErrNotFragment = errors.New("link: not a fragment")
	// ErrFragmentTruncated marks a fragment cut by the snaplen: its
	// datagram can never be completed, so it is dropped.
	ErrFragmentTruncated = errors.New("link: fragment cut by snaplen")
	// ErrFragmentTooBig marks a fragment that would place data beyond
	// the largest possible IP datagram.
	ErrFragmentTooBig = errors.New("link: fragment beyond maximum datagram size")
)

// DefragConfig bounds the Defragmenter. Zero fields take the defaults.
type DefragConfig struct {
	// MaxDatagrams caps datagrams in reassembly at once; the oldest is
	// dropped to make room.
	MaxDatagrams int
	// MaxBytes caps buffered fragment bytes over all datagrams.
	MaxBytes int
	// Timeout drops a datagram whose first fragment is older than this,
	// measured in capture time so replays are deterministic.
	Timeout time.Duration
}

// DefragStats counts what the Defragmenter did.
type DefragStats struct {
	Fragments   int64 // fragments accepted
	Reassembled int64 // datagrams completed
	Expired     int64 // datagrams dropped by timeout or limits
	Overlaps    int64 // fragments that overlapped data already held
	Dropped     int64 // fragments refused (truncated, too big)
}

type fragKey struct {
	src, dst netip.Addr
	id       uint32
	proto    uint8
}

type span struct{ start, end int }

type fragBuf struct {
	key   fragKey
	first time.Time
	data  []byte // fragmentable part, from offset 0
	have  []span // sorted, non-adjacent ranges received
	total int    // payload length once the last fragment was seen, else -1
	// header fields taken from the fragment at offset 0 (or any) to
	// build the reassembled datagram's header.
	version uint8
	ttl     uint8
	dead    bool
}

// Defragmenter reassembles fragmented IPv4 and IPv6 datagrams with bounded
// memory. It is used by one goroutine (the decoder).
type Defragmenter struct {
	cfg   DefragConfig
	m     map[fragKey]*fragBuf
	queue []*fragBuf // creation order, for timeout and eviction
	bytes int
	stats DefragStats
}

// NewDefragmenter returns a Defragmenter with cfg's bounds.
func NewDefragmenter(cfg DefragConfig) *Defragmenter {
	if cfg.MaxDatagrams <= 0 {
		cfg.MaxDatagrams = DefaultMaxDatagrams
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxFragBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultFragTimeout
	}
	return &Defragmenter{cfg: cfg, m: make(map[fragKey]*fragBuf)}
}

// Stats returns the counters so far.
func (d *Defragmenter) Stats() DefragStats { return d.stats }

// InFlight returns how many datagrams and bytes are held.
func (d *Defragmenter) InFlight() (datagrams, bytes int) { return len(d.m), d.bytes }

// Add takes one fragment (a Frame that Parse marked Fragment, whose
// Payload is the fragment data) seen at capture time ts. When the fragment
// completes its datagram, Add returns the whole IP datagram (a fresh
// header followed by the reassembled payload), owned by the caller and
// ready for ParseIP. Otherwise it returns nil.
func (d *Defragmenter) Add(f *Frame, ts time.Time) ([]byte, error) {
	if !f.Fragment {
		return nil, ErrNotFragment
	}
	d.expire(ts)
	if f.Truncated() {
		d.stats.Dropped++
		return nil, ErrFragmentTruncated
	}
	start, end := f.FragOffset, f.FragOffset+len(f.Payload)
	if end > maxDatagramPayload {
		d.stats.Dropped++
		return nil, ErrFragmentTooBig
	}
	d.stats.Fragments++
	k := fragKey{src: f.Src, dst: f.Dst, id: f.FragID, proto: f.Proto}
	b := d.m[k]
	if b == nil {
		b = &fragBuf{key: k, first: ts, total: -1, version: f.Version, ttl: f.TTL}
		d.m[k] = b
		d.queue = append(d.queue, b)
		d.evict()
	}
	if start == 0 {
		b.ttl = f.TTL
	}
	if b.total >= 0 && (end > b.total || (!f.MoreFragments && end != b.total)) {
		// Data past the announced end, or two different ends.
		d.drop(b)
		d.stats.Dropped++
		return nil, nil
	}
	if !f.MoreFragments {
		if b.total >= 0 && b.total != end {
			// Two different ends: the datagram is inconsistent.
			d.drop(b)
			d.stats.Dropped++
			return nil, nil
		}
		b.total = end
	}
	if end > len(b.data) {
		grow := end - len(b.data)
		if d.bytes+grow > d.cfg.MaxBytes {
			d.evictFor(grow, b)
		}
		if d.bytes+grow > d.cfg.MaxBytes {
			d.drop(b)
			d.stats.Dropped++
			return nil, nil
		}
		b.data = append(b.data, make([]byte, grow)...)
		d.bytes += grow
	}
	if b.put(start, f.Payload) {
		d.stats.Overlaps++
	}
	if b.total < 0 || len(b.have) != 1 || b.have[0].start != 0 || b.have[0].end < b.total {
		return nil, nil
	}
	out := b.build()
	d.drop(b)
	d.stats.Reassembled++
	return out, nil
}

// put copies the parts of payload at offset start not yet held (first
// fragment wins) and records the range. It reports whether any byte
// overlapped data already held.
func (b *fragBuf) put(start int, payload []byte) (overlap bool) {
	end := start + len(payload)
	if start == end {
		return false
	}
	pos := start
	for _, s := range b.have {
		if s.end <= pos || s.start >= end {
			continue
		}
		if s.start > pos {
			copy(b.data[pos:s.start], payload[pos-start:s.start-start])
		}
		overlap = true
		if s.end > pos {
			pos = s.end
		}
	}
	if pos < end {
		copy(b.data[pos:end], payload[pos-start:])
	}
	// Merge [start,end) into the sorted span list.
	merged := span{start, end}
	out := b.have[:0:0]
	inserted := false
	for _, s := range b.have {
		switch {
		case s.end < merged.start:
			out = append(out, s)
		case s.start > merged.end:
			if !inserted {
				out = append(out, merged)
				inserted = true
			}
			out = append(out, s)
		default:
			merged.start = min(merged.start, s.start)
			merged.end = max(merged.end, s.end)
		}
	}
	if !inserted {
		out = append(out, merged)
	}
	b.have = out
	return overlap
}

// build returns the datagram: a minimal header for the version followed by
// the payload.
func (b *fragBuf) build() []byte {
	payload := b.data[:b.total]
	if b.version == 6 {
		out := make([]byte, 40+len(payload))
		out[0] = 6 << 4
		binary.BigEndian.PutUint16(out[4:6], uint16(len(payload)))
		out[6] = b.key.proto
		out[7] = b.ttl
		src, dst := b.key.src.As16(), b.key.dst.As16()
		copy(out[8:24], src[:])
		copy(out[24:40], dst[:])
		copy(out[40:], payload)
		return out
	}
	out := make([]byte, 20+len(payload))
	out[0] = 4<<4 | 5
	total := 20 + len(payload)
	if total > 0xffff {
		total = 0 // more than fits: the parser then trusts the length
	}
	binary.BigEndian.PutUint16(out[2:4], uint16(total))
	binary.BigEndian.PutUint16(out[4:6], uint16(b.key.id))
	out[8] = b.ttl
	out[9] = b.key.proto
	src, dst := b.key.src.As4(), b.key.dst.As4()
	copy(out[12:16], src[:])
	copy(out[16:20], dst[:])
	binary.BigEndian.PutUint16(out[10:12], ipv4Checksum(out[:20]))
	copy(out[20:], payload)
	return out
}

func ipv4Checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func (d *Defragmenter) drop(b *fragBuf) {
	if b.dead {
		return
	}
	b.dead = true
	d.bytes -= len(b.data)
	b.data, b.have = nil, nil
	delete(d.m, b.key)
}

// expire drops datagrams whose first fragment is older than the timeout.
func (d *Defragmenter) expire(ts time.Time) {
	limit := ts.Add(-d.cfg.Timeout)
	for len(d.queue) > 0 {
		b := d.queue[0]
		if !b.dead && !b.first.Before(limit) {
			break
		}
		if !b.dead {
			d.drop(b)
			d.stats.Expired++
		}
		d.queue[0] = nil
		d.queue = d.queue[1:]
	}
	if len(d.queue) > queueCompactMultiple*d.cfg.MaxDatagrams {
		live := make([]*fragBuf, 0, len(d.m))
		for _, b := range d.queue {
			if !b.dead {
				live = append(live, b)
			}
		}
		d.queue = live
	}
}

// evict drops the oldest datagrams while more than MaxDatagrams are held.
func (d *Defragmenter) evict() {
	for len(d.m) > d.cfg.MaxDatagrams && d.popOldest(nil) {
	}
}

// evictFor drops the oldest datagrams other than keep until need more
// bytes fit.
func (d *Defragmenter) evictFor(need int, keep *fragBuf) {
	for d.bytes+need > d.cfg.MaxBytes && d.popOldest(keep) {
	}
}

func (d *Defragmenter) popOldest(keep *fragBuf) bool {
	for i, b := range d.queue {
		if b.dead || b == keep {
			continue
		}
		d.drop(b)
		d.stats.Expired++
		if i == 0 {
			d.queue[0] = nil
			d.queue = d.queue[1:]
		}
		return true
	}
	return false
}
