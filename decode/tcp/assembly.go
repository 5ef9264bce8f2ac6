package tcp

import (
	"cmp"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/sources"
)

// invalidSeq is gopacket's "no sequence yet" value for a half connection.
const invalidSeq = reassembly.Sequence(-1)

// ctxSlabSize is how many segment contexts are allocated at once.
const ctxSlabSize = 64

// segCtx is the reassembly.AssemblerContext of one segment. Besides the
// capture time it records where the segment's payload sits in sequence
// space and how much of it was captured, so ReassembledSG can tell real
// bytes from the zero padding that stands in for snaplen-cut ones. The
// numbers travel in CaptureInfo fields gopacket hands back per chunk:
// InterfaceIndex holds the payload's first sequence number,
// CaptureLength the captured payload length, Length the announced one.
type segCtx struct {
	ci gopacket.CaptureInfo
}

// GetCaptureInfo implements reassembly.AssemblerContext.
func (s *segCtx) GetCaptureInfo() gopacket.CaptureInfo { return s.ci }

// ctxSlab hands out segment contexts. gopacket keeps a context only for
// segments it queues out of order; Accept predicts that and reserves the
// current slot, otherwise the slot is reused for the next segment.
type ctxSlab struct {
	slab []segCtx
	next int
}

func (s *ctxSlab) current() *segCtx {
	if s.next >= len(s.slab) {
		s.slab = make([]segCtx, ctxSlabSize)
		s.next = 0
	}
	return &s.slab[s.next]
}

func (s *ctxSlab) reserve() { s.next++ }

// halfState tracks one direction of a TCP connection next to gopacket's
// own state: pos is the sequence number of the next byte to deliver.
type halfState struct {
	pos reassembly.Sequence
}

// tcpStream adapts a conn to gopacket's reassembly.Stream. firstIsClient
// says whether gopacket's "client to server" half (the sender of the
// first packet) is side 0.
type tcpStream struct {
	c             *conn
	firstIsClient bool
}

func (s *tcpStream) side(dir reassembly.TCPFlowDirection) int {
	if (dir == reassembly.TCPDirClientToServer) == s.firstIsClient {
		return 0
	}
	return 1
}

// factory implements reassembly.StreamFactory for one lane.
type factory struct {
	d    *Decoder
	lane *lane
}

// New creates the conn of a connection gopacket has not seen. Packets of a
// connection that already ended (the last ACK after both FINs) are counted
// to the ended flow and not reassembled.
func (fa *factory) New(_, _ gopacket.Flow, t *layers.TCP, _ reassembly.AssemblerContext) reassembly.Stream {
	d := fa.d
	cur := &d.cur
	f := cur.frame
	src, dst := f.AddrPorts()
	k := makeKey(src, dst)
	if old := fa.lane.closed[k]; old != nil {
		if !f.Flags.Has(link.FlagSYN) {
			old.count(old.sideOf(src), f.PayloadLen, cur.pkt.Ordinal, cur.pkt.Timestamp)
			return nil
		}
		delete(fa.lane.closed, k)
	}
	client, server := src, dst
	partial := false
	switch {
	case f.Flags.Has(link.FlagSYN | link.FlagACK):
		client, server = dst, src
	case f.Flags.Has(link.FlagSYN):
	default:
		partial = true
		if senderIsServer(src.Port(), dst.Port()) {
			client, server = dst, src
		}
	}
	c := newConn(d, "tcp", cur.pkt.Source, client, server, cur.pkt.Timestamp)
	c.flow.Tunnel = flowTunnel(cur.frame, client)
	c.keyed = true
	c.lane = fa.lane
	c.bucket = d.bucket
	fa.lane.tcpList.push(c)
	if partial {
		c.flow.Partial = true
		c.flow.State = decode.FlowPartial
	}
	d.stats.TCPFlows++
	// Published by Accept once the first packet is counted: publishing
	// here too would cost every flow a second publication (the count
	// marks it dirty), which is most of a SYN flood's cost downstream.
	c.fresh = true
	c.stream = tcpStream{c: c, firstIsClient: client == src}
	return &c.stream
}

// senderIsServer guesses, for a connection joined mid-stream, whether the
// sender of the first packet seen is the server: only when it uses a
// well-known port (below 1024) and its peer does not. Otherwise the
// destination is taken for the server; parsers correct the guess with
// SwapDirections when the content says otherwise.
func senderIsServer(srcPort, dstPort uint16) bool {
	return srcPort < 1024 && dstPort >= 1024
}

// Accept implements reassembly.Stream. It runs for every packet of the
// connection: it counts it, starts halves joined without a SYN, and
// reserves the segment context when gopacket is going to queue it.
func (s *tcpStream) Accept(t *layers.TCP, _ gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, _ reassembly.AssemblerContext) bool {
	c := s.c
	d := c.d
	cur := &d.cur
	side := s.side(dir)
	c.count(side, cur.frame.PayloadLen, cur.pkt.Ordinal, cur.pkt.Timestamp)
	if c.fresh {
		c.fresh = false
		c.publishFlow()
	}
	if c.ended {
		return false
	}
	seq := reassembly.Sequence(t.Seq)
	h := &c.half[side]
	if nextSeq == invalidSeq {
		if t.SYN {
			h.pos = seq.Add(1)
		} else {
			*start = true
			h.pos = seq
		}
	} else if len(t.Payload) > 0 && !t.SYN && seq != nextSeq {
		// Ahead of the stream (queued) or a retransmission (trimmed):
		// either way gopacket may keep the context.
		d.ctx.reserve()
		if nextSeq.Difference(seq) > 0 {
			d.stats.OutOfOrder++
			c.lane.queuedAhead(cur.pkt.Timestamp)
		}
	}
	if t.RST && (nextSeq == invalidSeq || seq == nextSeq) {
		c.rstPending = true
		d.resets = append(d.resets, c)
	}
	if t.FIN {
		c.finSeen[side] = true
	}
	return true
}

// ReassembledSG implements reassembly.Stream: it reports skipped bytes as
// a gap, then delivers the bytes chunk by chunk with each segment's
// capture time, turning the padding of snaplen-cut segments into gaps.
func (s *tcpStream) ReassembledSG(sg reassembly.ScatterGather, _ reassembly.AssemblerContext) {
	c := s.c
	dir, _, _, skip := sg.Info()
	side := s.side(dir)
	h := &c.half[side]
	avail, _ := sg.Lengths()
	if c.ended {
		h.pos = h.pos.Add(max(skip, 0) + avail)
		return
	}
	if skip > 0 {
		c.emitGap(side, skip, sg.CaptureInfo(0).Timestamp)
		h.pos = h.pos.Add(skip)
	}
	if avail == 0 {
		return
	}
	data := sg.Fetch(avail)
	for off := 0; off < avail; {
		ci := sg.CaptureInfo(off)
		n, real := avail-off, avail-off
		segSeq := reassembly.Sequence(ci.InterfaceIndex)
		rel := segSeq.Difference(h.pos.Add(off))
		if rel >= 0 && rel < ci.Length {
			n = min(ci.Length-rel, avail-off)
			real = min(max(ci.CaptureLength-rel, 0), n)
		}
		if real > 0 {
			c.emitData(side, data[off:off+real], ci.Timestamp)
		}
		if n > real {
			c.emitGap(side, n-real, ci.Timestamp)
		}
		off += n
	}
	h.pos = h.pos.Add(avail)
}

// ReassemblyComplete implements reassembly.Stream: both halves are over,
// by FIN, RST, idle flush or end of input.
func (s *tcpStream) ReassemblyComplete(_ reassembly.AssemblerContext) bool {
	c := s.c
	d := c.d
	if d.deferring {
		// The state and time are the same for every connection of a
		// flush (the lane's clock does not move before the replay).
		d.flushClosing = d.closing
		if !c.completing && len(d.deferredData[c]) == 0 {
			d.flushed = append(d.flushed, flushedConn{id: c.flow.ID, c: c})
		}
		c.completing = true
		return true
	}
	c.complete(d.closing, c.lane.clock)
	return true
}

// complete ends a TCP connection gopacket is done with and keeps it
// lingering so its stray last packets are counted, not made a new flow
// (unless it was evicted: lingering would keep what eviction frees).
func (c *conn) complete(closing decode.FlowState, ts time.Time) {
	if c.listed {
		c.list().remove(c)
	}
	if !c.ended {
		if c.d.evicting {
			c.evicted = true
			c.d.stats.Evicted++
		}
		c.end(c.closeState(closing), ts)
	}
	if c.lane != nil && !c.evicted {
		c.lane.linger(c)
		return
	}
	c.d.forget(c)
	if c.evicted {
		c.d.recycle(c)
	}
}

// maxFreeConns bounds the conns a decoder keeps for reuse.
const maxFreeConns = 4096

// recycle keeps an evicted connection's conn for the next new flow, when
// nothing can refer to it any more: gopacket removed it before the
// flush's replay ended it, it is off every list, eviction ran no linger,
// and it never carried payload, so no parser or detector ever saw it (a
// parser might keep its decode.Conn). The dirty list may still name it:
// evictions prune that list before the next packet. A SYN flood's flows
// are nearly all such, and reusing their conns spares the collector one
// 512-byte object per flow.
func (d *Decoder) recycle(c *conn) {
	if d.noRecycle || !c.keyed || c.flow.BytesC2S != 0 || c.flow.BytesS2C != 0 || c.det != nil || c.listed || len(d.free) >= maxFreeConns {
		return
	}
	*c = conn{}
	d.free = append(d.free, c)
}

// deferred is a reassembly callback recorded during a flush, replayed in
// flow order afterwards: gopacket flushes connections in map order, and
// replays must be deterministic (exchange IDs, publication order). Data
// and gaps wait in Decoder.deferredData; the end of a connection, which
// comes after them and is most of what an eviction's flush records, is
// only a flag on the conn (conn.completing), so closing thousands of
// flows allocates nothing per flow to remember it.
type deferred struct {
	side int
	data []byte
	gap  int
	ts   time.Time
}

func (c *conn) emitData(side int, data []byte, ts time.Time) {
	if c.d.deferring {
		c.d.deferEvent(c, deferred{side: side, data: append([]byte(nil), data...), ts: ts})
		return
	}
	c.data(side, data, ts)
}

func (c *conn) emitGap(side int, n int, ts time.Time) {
	if c.d.deferring {
		c.d.deferEvent(c, deferred{side: side, gap: n, ts: ts})
		return
	}
	c.gap(side, n, ts)
}

func (d *Decoder) deferEvent(c *conn, ev deferred) {
	if d.deferredData == nil {
		d.deferredData = make(map[*conn][]deferred)
	}
	evs := d.deferredData[c]
	if len(evs) == 0 && !c.completing {
		d.flushed = append(d.flushed, flushedConn{id: c.flow.ID, c: c})
	}
	d.deferredData[c] = append(evs, ev)
}

// flushedConn is a connection a flush recorded callbacks of, with its
// flow ID, so ordering thousands of them does not visit each conn at
// every comparison.
type flushedConn struct {
	id uint64
	c  *conn
}

// replayDeferred runs the callbacks recorded during a flush, connection by
// connection in flow ID order.
func (d *Decoder) replayDeferred() {
	slices.SortFunc(d.flushed, func(a, b flushedConn) int { return cmp.Compare(a.id, b.id) })
	for _, fc := range d.flushed {
		c := fc.c
		if evs := d.deferredData[c]; len(evs) > 0 {
			delete(d.deferredData, c)
			for _, ev := range evs {
				if ev.data != nil {
					c.data(ev.side, ev.data, ev.ts)
				} else {
					c.gap(ev.side, ev.gap, ev.ts)
				}
			}
		}
		if c.completing {
			c.completing = false
			c.complete(d.flushClosing, c.lane.clock)
		}
	}
	clear(d.flushed)
	d.flushed = d.flushed[:0]
}

// closeState is the state a TCP connection ends in: reset after an RST,
// closed after a FIN, otherwise what the caller says (timeout for idle
// flushes; the open state as it was at end of input).
func (c *conn) closeState(otherwise decode.FlowState) decode.FlowState {
	switch {
	case c.rstPending:
		return decode.FlowReset
	case c.finSeen[0] || c.finSeen[1]:
		return decode.FlowClosed
	case otherwise != "":
		return otherwise
	default:
		return c.flow.State
	}
}

// packetCtx is the packet being decoded, for gopacket callbacks.
type packetCtx struct {
	pkt   *sources.Packet
	frame *link.Frame
}

// tcpPacket feeds one parsed TCP segment to the lane's assembler.
func (d *Decoder) tcpPacket(ln *lane, p *sources.Packet, f *link.Frame, ip []byte) {
	d.stats.TCPPackets++
	// gopacket's layer is filled from the fixed 20-byte header only (data
	// offset forced to 5): reassembly needs ports, numbers and flags, and
	// odd options must not cost a packet.
	h := &d.tcpHeader
	copy(h[:], ip[f.TransportOffset:f.TransportOffset+20])
	h[12] = 5<<4 | h[12]&0x0f
	t := &d.tcpLayer
	if err := t.DecodeFromBytes(h[:], gopacket.NilDecodeFeedback); err != nil {
		d.stats.Malformed++
		return
	}
	payload := f.Payload
	if f.Truncated() {
		d.stats.Truncated++
		if cap(d.scratch) < f.PayloadLen {
			d.scratch = make([]byte, f.PayloadLen)
		}
		payload = d.scratch[:f.PayloadLen]
		n := copy(payload, f.Payload)
		clear(payload[n:])
	}
	t.Payload = payload
	ctx := d.ctx.current()
	seq := f.Seq
	if f.Flags.Has(link.FlagSYN) {
		seq++
	}
	ctx.ci = gopacket.CaptureInfo{
		Timestamp:      p.Timestamp,
		InterfaceIndex: int(seq),
		CaptureLength:  len(f.Payload),
		Length:         f.PayloadLen,
	}
	var netFlow gopacket.Flow
	if f.Version == 4 {
		netFlow = gopacket.NewFlow(layers.EndpointIPv4, ip[f.IPOffset+12:f.IPOffset+16], ip[f.IPOffset+16:f.IPOffset+20])
	} else {
		netFlow = gopacket.NewFlow(layers.EndpointIPv6, ip[f.IPOffset+8:f.IPOffset+24], ip[f.IPOffset+24:f.IPOffset+40])
	}
	d.cur = packetCtx{pkt: p, frame: f}
	ln.asm.AssembleWithContext(netFlow, t, ctx)
	d.cur = packetCtx{}
	d.afterRST()
	t.Payload = nil
	if d.open > d.cfg.MaxFlows && d.shard == nil {
		d.enforceCap()
	}
}

// afterRST ends connections that an in-window RST reset during the last
// packet; gopacket only closes the RST sender's half.
func (d *Decoder) afterRST() {
	for _, c := range d.resets {
		if !c.ended {
			c.end(decode.FlowReset, c.lane.clock)
		}
	}
	d.resets = d.resets[:0]
}
