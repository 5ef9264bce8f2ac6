package synth

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// TCP synthesizes the packets of one TCP connection. Every method returns
// the packets for one event in wire order, stamped from the caller's time
// and strictly increasing (see Tick). Data is acknowledged by the
// receiver after every second full segment and after the last segment of
// each Send, so no window ever fills and Wireshark's TCP analysis finds
// nothing to flag. A TCP is not safe for concurrent use.
type TCP struct {
	opts  Options
	ep    [2]endpoint // indexed by the sending direction
	next  [2]uint32   // next sequence number each side sends
	ipid  [2]uint16
	fin   [2]bool // FIN sent by that side
	reset bool
	clk   clock
}

// NewTCP prepares a connection between client and server. Nothing is
// emitted until Open (or Send, for a connection joined mid-stream). Both
// endpoints must be IPv4 or both IPv6 (IPv4-mapped addresses count as
// IPv4). Initial sequence numbers derive from the endpoints, so the same
// inputs give the same packets.
func NewTCP(client, server netip.AddrPort, opts Options) (*TCP, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ep, err := endpoints(client, server)
	if err != nil {
		return nil, err
	}
	t := &TCP{opts: opts, ep: ep}
	t.next[decode.ClientToServer] = seed("isn-c", ep[0].addr, ep[1].addr)
	t.next[decode.ServerToClient] = seed("isn-s", ep[0].addr, ep[1].addr)
	t.ipid[decode.ClientToServer] = uint16(seed("id-c", ep[0].addr, ep[1].addr))
	t.ipid[decode.ServerToClient] = uint16(seed("id-s", ep[0].addr, ep[1].addr))
	return t, nil
}

// Client returns the client endpoint as it appears in the packets.
func (t *TCP) Client() netip.AddrPort { return t.ep[decode.ClientToServer].addr }

// Server returns the server endpoint as it appears in the packets.
func (t *TCP) Server() netip.AddrPort { return t.ep[decode.ServerToClient].addr }

// Open returns the three-way handshake (SYN, SYN-ACK, ACK) starting at ts.
func (t *TCP) Open(ts time.Time) []sources.Packet {
	c, s := decode.ClientToServer, decode.ServerToClient
	return []sources.Packet{
		t.segment(c, flagSYN, nil, ts),
		t.segment(s, flagSYN|flagACK, nil, ts),
		t.segment(c, flagACK, nil, ts),
	}
}

// Send returns data sent in direction dir as segments of at most MSS
// bytes (PSH on the last), each acknowledging everything the peer sent,
// plus the receiver's ACKs. One Send is one write: its end is a segment
// boundary. Nothing is returned for empty data or after the sender's FIN
// or a reset, since no valid packet could carry it.
func (t *TCP) Send(dir decode.Direction, data []byte, ts time.Time) []sources.Packet {
	if len(data) == 0 || t.fin[dir] || t.reset {
		return nil
	}
	n := (len(data) + t.opts.MSS - 1) / t.opts.MSS
	out := make([]sources.Packet, 0, n+n/2+1)
	for i := 0; len(data) > 0; i++ {
		k := min(len(data), t.opts.MSS)
		flags := uint8(flagACK)
		if k == len(data) {
			flags |= flagPSH
		}
		out = append(out, t.segment(dir, flags, data[:k], ts))
		data = data[k:]
		if i%2 == 1 || len(data) == 0 {
			out = append(out, t.segment(dir.Reverse(), flagACK, nil, ts))
		}
	}
	return out
}

// Fin returns a FIN from dir and the peer's ACK of it: one half of an
// orderly close (the peer may keep sending). It returns nothing when dir
// already sent its FIN or the connection was reset.
func (t *TCP) Fin(dir decode.Direction, ts time.Time) []sources.Packet {
	if t.fin[dir] || t.reset {
		return nil
	}
	out := []sources.Packet{t.segment(dir, flagFIN|flagACK, nil, ts)}
	t.fin[dir] = true
	return append(out, t.segment(dir.Reverse(), flagACK, nil, ts))
}

// Close returns the orderly teardown: the client's FIN then the server's,
// each acknowledged, skipping a side that already sent its FIN.
func (t *TCP) Close(ts time.Time) []sources.Packet {
	out := t.Fin(decode.ClientToServer, ts)
	return append(out, t.Fin(decode.ServerToClient, ts)...)
}

// Reset returns an RST (with ACK) from dir, ending the connection
// abruptly; later calls return nothing.
func (t *TCP) Reset(dir decode.Direction, ts time.Time) []sources.Packet {
	if t.reset {
		return nil
	}
	p := t.segment(dir, flagRST|flagACK, nil, ts)
	t.reset = true
	return []sources.Packet{p}
}

// Done reports whether both sides sent FIN or the connection was reset.
func (t *TCP) Done() bool {
	return t.reset || (t.fin[0] && t.fin[1])
}

// segment builds one TCP segment from dir and advances that side's
// sequence number by what the segment consumes.
func (t *TCP) segment(dir decode.Direction, flags uint8, payload []byte, ts time.Time) sources.Packet {
	hlen := 20
	if flags&flagSYN != 0 {
		hlen = 24 // MSS option
	}
	var hb [24]byte
	h := hb[:hlen]
	src, dst := t.ep[dir], t.ep[dir.Reverse()]
	binary.BigEndian.PutUint16(h[0:2], src.addr.Port())
	binary.BigEndian.PutUint16(h[2:4], dst.addr.Port())
	binary.BigEndian.PutUint32(h[4:8], t.next[dir])
	if flags&flagACK != 0 {
		binary.BigEndian.PutUint32(h[8:12], t.next[dir.Reverse()])
	}
	h[12] = byte(hlen/4) << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:16], t.opts.Window)
	if flags&flagSYN != 0 {
		h[20], h[21] = 2, 4 // kind MSS, length 4
		binary.BigEndian.PutUint16(h[22:24], uint16(t.opts.MSS))
	}
	t.next[dir] += uint32(len(payload))
	if flags&(flagSYN|flagFIN) != 0 {
		t.next[dir]++
	}
	ip := ipHeader{link: t.opts.Link, src: src, dst: dst, proto: protoTCP, id: t.ipid[dir], ttl: t.opts.TTL}
	t.ipid[dir]++
	data := ip.build(h, payload, 16)
	return sources.Packet{
		Timestamp: t.clk.next(ts),
		OrigLen:   len(data),
		LinkType:  t.opts.Link,
		Data:      data,
		Source:    t.opts.Source,
		Offset:    -1,
	}
}
