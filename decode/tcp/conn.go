package tcp

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tapview/tapview/decode"
)

// maxNotes is how many distinct notes a flow's Error keeps; later notes
// are only counted, so a hostile stream cannot grow the string.
const maxNotes = 4

// finalRingSize bounds how many finalised exchange IDs a connection
// remembers to refuse a second final publication.
const finalRingSize = 64

// conn is one TCP connection, socket stream or UDP conversation. It is
// the decode.Conn parsers receive. Sides are physical endpoints: side 0 is
// the endpoint first taken for the client; dir(side) maps a side to the
// Direction parsers see, which SwapDirections flips.
//
// A conn lives as long as its flow is open (and lingers a while after),
// so with many open flows its size is most of their cost: it stays within
// a 512-byte allocation. Detection state and the finalised-exchange ring
// are allocated only when needed, and the connection key and first
// client endpoint are derived from the flow instead of stored.
type conn struct {
	d    *Decoder
	flow decode.Flow
	lane *lane

	handler decode.StreamHandler
	dgram   decode.DatagramHandler
	det     *detector  // nil until undecided data arrives, and once decided
	finals  *finalRing // nil until an exchange is published final

	// Idle list links: the lane's TCP or UDP list, least recently active
	// first (see flowList).
	prev, next *conn

	// TCP reassembly bookkeeping per side.
	half [2]halfState
	// stream is what gopacket holds of a TCP connection (part of the
	// conn, so a new flow is one allocation).
	stream tcpStream

	notes      int32
	swapped    bool
	decided    bool // a handler was chosen, or the flow stays raw
	ended      bool
	dirty      bool  // counters changed since the last publication
	keyed      bool  // found by its addresses (packets), not a socket stream
	listed     bool  // on one of the lane's idle lists
	stray      bool  // listed apart, out of order (see flowList)
	bucket     uint8 // hash bucket of the addresses, in a shard (ShardBuckets)
	evicted    bool  // ended to make room under Config.MaxFlows
	fresh      bool  // created, not yet published (Accept publishes it)
	finSeen    [2]bool
	rstPending bool
	completing bool // gopacket ended it during a flush; the replay completes it
}

// finalRing remembers the last finalised exchange IDs of a connection.
type finalRing struct {
	ids []uint64
	pos int
}

// key is the connection's address pair, the same from either side.
func (c *conn) key() connKey { return makeKey(c.flow.Client, c.flow.Server) }

// side0 is the endpoint first taken for the client.
func (c *conn) side0() netip.AddrPort {
	if c.swapped {
		return c.flow.Server
	}
	return c.flow.Client
}

var _ decode.Conn = (*conn)(nil)

func newConn(d *Decoder, transport, source string, client, server netip.AddrPort, ts time.Time) *conn {
	var c *conn
	if n := len(d.free); n > 0 {
		c = d.free[n-1] // zeroed by recycle
		d.free[n-1] = nil
		d.free = d.free[:n-1]
		c.d = d
		d.reused++
	} else {
		c = &conn{d: d}
	}
	if len(d.cfg.Parsers) == 0 && transport == "tcp" || len(d.cfg.Datagrams) == 0 && transport == "udp" {
		c.decided = true
	}
	c.flow = decode.Flow{
		ID:        d.newFlowID(),
		Source:    source,
		Transport: transport,
		Client:    client,
		Server:    server,
		First:     ts,
		Last:      ts,
		State:     decode.FlowOpen,
	}
	if d.cfg.Owner != nil {
		c.flow.Pod, c.flow.Namespace = d.cfg.Owner(source)
	}
	return c
}

// sideOf returns the side an endpoint sends from.
func (c *conn) sideOf(src netip.AddrPort) int {
	if src == c.side0() {
		return 0
	}
	return 1
}

// dir maps a physical side to the direction parsers see.
func (c *conn) dir(side int) decode.Direction {
	if c.swapped {
		return decode.Direction(side ^ 1)
	}
	return decode.Direction(side)
}

// count records one packet (or socket event) of n payload bytes sent by
// side at ts.
func (c *conn) count(side int, n int, ordinal uint64, ts time.Time) {
	f := &c.flow
	if c.dir(side) == decode.ClientToServer {
		f.PacketsC2S++
		f.BytesC2S += int64(n)
	} else {
		f.PacketsS2C++
		f.BytesS2C += int64(n)
	}
	// Packets of several interfaces or merged files arrive out of time
	// order: the flow starts at its earliest packet, not its first read.
	if ts.Before(f.First) {
		f.First = ts
	}
	if ts.After(f.Last) {
		f.Last = ts
		if c.listed {
			c.list().touch(c)
		}
	}
	if ordinal != 0 && !c.d.cfg.SkipOrdinals {
		f.Ordinals = append(f.Ordinals, ordinal)
	}
	c.markDirty()
}

func (c *conn) markDirty() {
	if !c.dirty {
		c.dirty = true
		c.d.dirty = append(c.d.dirty, c)
	}
}

// publishFlow hands a copy of the flow to the output (in a shard, one
// in a chunk the merge gives back, see FlowChunk).
func (c *conn) publishFlow() {
	cp := c.d.flowCopy()
	*cp = c.flow
	if cp.TLS != nil {
		t := *cp.TLS
		cp.TLS = &t
	}
	c.dirty = false
	c.d.out.Flow(cp)
}

// end finishes the connection once: the handler finalises its exchanges
// and the flow is published with its last state.
func (c *conn) end(state decode.FlowState, ts time.Time) {
	if c.ended {
		return
	}
	c.ended = true
	c.det = nil
	c.flow.State = state
	if c.handler != nil {
		c.callEnd(state, ts)
	}
	if c.dgram != nil {
		c.callDatagramEnd(state, ts)
	}
	// An ended connection may linger to absorb stray packets; it must not
	// keep the parser's state alive meanwhile.
	c.handler, c.dgram = nil, nil
	c.publishFlow()
}

// Flow implements decode.Conn.
func (c *conn) Flow() *decode.Flow { return &c.flow }

// NewExchange implements decode.Conn: IDs are allocated decoder-wide from 1
// so they are unique across flows and sources.
func (c *conn) NewExchange(proto string) *decode.Exchange {
	return &decode.Exchange{
		ID:     c.d.newExchangeID(c.flow.ID),
		FlowID: c.flow.ID,
		Source: c.flow.Source,
		Proto:  proto,
		Client: c.flow.Client,
		Server: c.flow.Server,
		State:  decode.Pending,
		SNI:    c.flow.SNI,
		Pod:    c.flow.Pod,

		Namespace: c.flow.Namespace,
	}
}

// Publish implements decode.Conn. It copies the exchange and the structs
// it points to (slices keep sharing their backing arrays, which parsers
// only append to), bumps Version, and refuses publications after a final
// one.
func (c *conn) Publish(e *decode.Exchange) {
	if e == nil {
		return
	}
	if c.isFinal(e.ID) {
		c.d.stats.PublishAfterFinal++
		return
	}
	e.Version++
	cp := e.Copy()
	if e.State.Final() {
		c.markFinal(e.ID)
	}
	c.d.out.Exchange(cp)
}

func (c *conn) isFinal(id uint64) bool {
	if c.finals == nil {
		return false
	}
	for _, f := range c.finals.ids {
		if f == id {
			return true
		}
	}
	return false
}

func (c *conn) markFinal(id uint64) {
	r := c.finals
	if r == nil {
		r = &finalRing{}
		c.finals = r
	}
	if len(r.ids) < finalRingSize {
		r.ids = append(r.ids, id)
		return
	}
	r.ids[r.pos] = id
	r.pos = (r.pos + 1) % finalRingSize
}

// SetProto implements decode.Conn.
func (c *conn) SetProto(proto string) {
	if c.flow.Proto == proto {
		return
	}
	c.flow.Proto = proto
	c.publishFlow()
}

// SetTLS implements decode.Conn; the SNI also becomes the flow's SNI.
func (c *conn) SetTLS(info *decode.TLSInfo) {
	if info == nil {
		return
	}
	t := *info
	c.flow.TLS = &t
	if t.SNI != "" {
		c.flow.SNI = t.SNI
	}
	c.publishFlow()
}

// SwapDirections implements decode.Conn: client and server trade places,
// with their counters, and later data carries the new directions.
func (c *conn) SwapDirections() {
	c.swapped = !c.swapped
	f := &c.flow
	f.Client, f.Server = f.Server, f.Client
	f.Tunnel = f.Tunnel.Swapped()
	f.PacketsC2S, f.PacketsS2C = f.PacketsS2C, f.PacketsC2S
	f.BytesC2S, f.BytesS2C = f.BytesS2C, f.BytesC2S
	c.publishFlow()
}

// Handoff implements decode.Conn by building the named parser's handler
// for this connection; the flow's protocol becomes that parser's name.
func (c *conn) Handoff(proto string) decode.StreamHandler {
	for _, p := range c.d.cfg.Parsers {
		if p.Name() == proto {
			h := p.New(c)
			if h != nil {
				c.SetProto(proto)
			}
			return h
		}
	}
	return nil
}

// Limits implements decode.Conn.
func (c *conn) Limits() decode.Limits { return c.d.limits }

// Note implements decode.Conn: the first few notes are joined into the
// flow's Error, later ones only counted.
func (c *conn) Note(msg string) {
	c.notes++
	switch {
	case c.notes == 1:
		c.flow.Error = msg
	case c.notes <= maxNotes:
		c.flow.Error += "; " + msg
	default:
		return
	}
	c.publishFlow()
}

// parserFailed turns a parser panic into a note and stops feeding that
// parser, so one bad parser cannot take the decoder down.
func (c *conn) parserFailed(r any) {
	c.d.stats.ParserPanics++
	c.handler, c.dgram = nil, nil
	c.Note(fmt.Sprintf("parser failed: %v", r))
}

func (c *conn) callData(dir decode.Direction, data []byte, ts time.Time) {
	defer func() {
		if r := recover(); r != nil {
			c.parserFailed(r)
		}
	}()
	c.handler.Data(dir, data, ts)
}

func (c *conn) callGap(dir decode.Direction, n int, ts time.Time) {
	defer func() {
		if r := recover(); r != nil {
			c.parserFailed(r)
		}
	}()
	c.handler.Gap(dir, n, ts)
}

func (c *conn) callEnd(state decode.FlowState, ts time.Time) {
	defer func() {
		if r := recover(); r != nil {
			c.parserFailed(r)
		}
	}()
	c.handler.End(state, ts)
}

func (c *conn) callDatagram(dir decode.Direction, payload []byte, ts time.Time) {
	defer func() {
		if r := recover(); r != nil {
			c.parserFailed(r)
		}
	}()
	c.dgram.Datagram(dir, payload, ts)
}

func (c *conn) callDatagramEnd(state decode.FlowState, ts time.Time) {
	defer func() {
		if r := recover(); r != nil {
			c.parserFailed(r)
		}
	}()
	c.dgram.End(state, ts)
}
