package tcp

import (
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/sources"
)

// udpPacket counts one datagram to its conversation (created on first
// sight) and hands the payload to detection or the datagram handler.
func (d *Decoder) udpPacket(ln *lane, p *sources.Packet, f *link.Frame) {
	d.stats.UDPPackets++
	src, dst := f.AddrPorts()
	k := makeKey(src, dst)
	c := ln.udp[k]
	if c == nil {
		client, server := src, dst
		// The sender of the first datagram is the client, unless the
		// ports clearly say otherwise (a well-known port facing an
		// ephemeral one).
		if senderIsServer(src.Port(), dst.Port()) {
			client, server = dst, src
		}
		c = newConn(d, "udp", p.Source, client, server, p.Timestamp)
		c.flow.Tunnel = flowTunnel(f, client)
		c.keyed = true
		c.lane = ln
		c.bucket = d.bucket
		ln.udp[k] = c
		ln.udpList.push(c)
		d.stats.UDPFlows++
		c.publishFlow()
	}
	side := c.sideOf(src)
	c.count(side, f.PayloadLen, p.Ordinal, p.Timestamp)
	if f.Truncated() {
		d.stats.Truncated++
	}
	c.datagram(side, f.Payload, p.Timestamp)
	if d.open > d.cfg.MaxFlows && d.shard == nil {
		d.enforceCap()
	}
}

// expireUDP ends conversations last active before the given time, least
// recently active first (strays, see flowList, after the ordered ones);
// a zero time ends them all. state "" keeps each flow's current state
// (end of input).
func (ln *lane) expireUDP(before time.Time, state decode.FlowState) {
	for c := ln.udpList.head; c != nil; c = ln.udpList.head {
		if !before.IsZero() && !c.flow.Last.Before(before) {
			break
		}
		ln.endUDP(c, state)
	}
	for c := ln.udpList.strays; c != nil; {
		next := c.next
		if before.IsZero() || c.flow.Last.Before(before) {
			ln.endUDP(c, state)
		}
		c = next
	}
}

// endUDP ends one conversation for expireUDP.
func (ln *lane) endUDP(c *conn, state decode.FlowState) {
	ln.udpList.remove(c)
	if ln.udp[c.key()] == c {
		delete(ln.udp, c.key())
	}
	st := state
	if st == "" {
		st = c.flow.State
	}
	c.end(st, ln.clock)
	ln.d.forget(c)
}
