package synth

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// maxUDPPayload is the largest datagram payload an IPv4 packet can carry
// (65535 minus IPv4 and UDP headers); the same cap is used for IPv6.
const maxUDPPayload = 65535 - 20 - 8

// UDP synthesizes the datagrams of one UDP conversation (a DNS query and
// its answer, a QUIC-less exchange). Timestamps are strictly increasing
// like TCP's. A UDP is not safe for concurrent use.
type UDP struct {
	opts Options
	ep   [2]endpoint
	ipid [2]uint16
	clk  clock
}

// NewUDP prepares a conversation between client and server; both must be
// of the same IP family.
func NewUDP(client, server netip.AddrPort, opts Options) (*UDP, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ep, err := endpoints(client, server)
	if err != nil {
		return nil, err
	}
	u := &UDP{opts: opts, ep: ep}
	u.ipid[decode.ClientToServer] = uint16(seed("id-c", ep[0].addr, ep[1].addr))
	u.ipid[decode.ServerToClient] = uint16(seed("id-s", ep[0].addr, ep[1].addr))
	return u, nil
}

// Send returns one datagram carrying payload in direction dir. Payloads
// too large for one unfragmented IP packet are refused.
func (u *UDP) Send(dir decode.Direction, payload []byte, ts time.Time) (sources.Packet, error) {
	if len(payload) > maxUDPPayload {
		return sources.Packet{}, fmt.Errorf("synth: UDP payload of %d bytes exceeds %d", len(payload), maxUDPPayload)
	}
	src, dst := u.ep[dir], u.ep[dir.Reverse()]
	var hb [8]byte
	h := hb[:]
	binary.BigEndian.PutUint16(h[0:2], src.addr.Port())
	binary.BigEndian.PutUint16(h[2:4], dst.addr.Port())
	binary.BigEndian.PutUint16(h[4:6], uint16(8+len(payload)))
	ip := ipHeader{link: u.opts.Link, src: src, dst: dst, proto: protoUDP, id: u.ipid[dir], ttl: u.opts.TTL}
	u.ipid[dir]++
	data := ip.build(h, payload, 6)
	return sources.Packet{
		Timestamp: u.clk.next(ts),
		OrigLen:   len(data),
		LinkType:  u.opts.Link,
		Data:      data,
		Source:    u.opts.Source,
		Offset:    -1,
	}, nil
}
