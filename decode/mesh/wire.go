package mesh

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/sources"
)

// Wire is the packet-level part of the mesh view. It sits in front of the
// TCP decoder and sees every packet as captured, for two things no
// decoded flow or exchange can tell:
//
//   - It undoes what netfilter NAT does to a capture taken inside the
//     pod. iptables REDIRECT rewrites the destination of the app's
//     packets in OUTPUT, before they reach lo where the capture sees
//     them (pod:p → 127.0.0.1:15001), while conntrack rewrites the
//     replies back to the original destination in POSTROUTING, before
//     the capture too (10.96.0.5:9080 → pod:p). One connection thus
//     shows up as two half connections with different addresses. A
//     SYN-ACK that acknowledges a SYN's sequence number but comes from
//     another address than the SYN went to is that rewrite: the reply
//     side is given the request side's addresses again, so the decoder
//     sees one connection, and the address it came from is kept as the
//     connection's original destination (Orig). A connection joined
//     mid-stream (the capture started after it) is recognised by its
//     sequence numbers instead: replies to a client whose packets go to
//     a loopback address, acknowledging what the client sent. Inbound
//     redirects in PREROUTING need nothing: the capture sees packets
//     arriving before the rewrite and replies after it is undone, the
//     original addresses both ways.
//   - Once a sidecar is in evidence, it keeps when each connection
//     off the pod (neither end loopback) carried payload, as bursts per
//     direction, so an app-leg request can be linked to the upstream
//     connection that actually carried it: Envoy pools upstream
//     connections, and only timing tells which one forwarded a request
//     (see Labeler).
//
// Packets pass through unchanged except for the rewritten replies,
// which are copies. Wire is safe for the decoder's goroutine calling
// Packet while a Labeler on another goroutine asks about connections.
type Wire struct {
	next interface{ Packet(*sources.Packet) }
	// ords is next when it numbers packets (decode/lanes): payload
	// timing is then queued with the packet's ordinal and recorded when
	// the merge reaches it (CatchUp), not when the packet passes here,
	// ahead of lanes still decoding earlier packets.
	ords    interface{ NextOrdinal() uint64 }
	pending []pendingRec

	mu      sync.Mutex
	frame   link.Frame
	syns    map[synKey]synEntry // SYNs waiting for their SYN-ACK
	synQ    synRing             // syns in arrival order, for the cap
	srcIDs  map[string]uint32   // source names numbered for synKey
	lastSrc string              // the last source numbered, and its number
	lastID  uint32
	replies map[tuple]*natConn // captured reply tuple (orig → client)
	reqs    map[tuple]*natConn // the request tuple (client → redirect)
	natQ    []*natConn
	halves  map[endpoint]*half // clients sending to loopback without a reply yet
	halfQ   []endpoint
	conns   map[tuple]*activity // canonical tuple → payload bursts
	connQ   []tuple
	meshed  bool
	lim     wireLimits
	// anyNAT is set once a redirected connection was seen: until then
	// Orig (asked for every flow publication) answers without the lock
	// and two map lookups.
	anyNAT atomic.Bool
}

// pendingRec is a payload packet's timing waiting for the merge to
// reach its ordinal.
type pendingRec struct {
	ord       uint64
	source    string
	src, dst  netip.AddrPort
	at, n     int64
	handshake bool
}

// maxPending bounds the queue should the merge never report (an output
// that is not a Labeler): past it the oldest are recorded at once.
const maxPending = 1 << 16

// wireLimits are Wire's caps; tests make them small.
type wireLimits struct{ syns, nats, halves, conns int }

var defaultWireLimits = wireLimits{syns: 1 << 15, nats: 1 << 14, halves: 1 << 12, conns: 1 << 14}

// synKey names a SYN by what its SYN-ACK shows: the client (the
// SYN-ACK's destination, never rewritten by a REDIRECT) and its initial
// sequence number (acknowledged plus one), within its source (numbered,
// see sourceID). Keys and entries hold no pointers and addresses as 16
// bytes (unmapped before, so IPv4 ones come back as IPv4): a SYN flood
// fills the table, and this keeps it half the size and out of the
// collector's scans.
type synKey struct {
	client [16]byte
	isn    uint32
	port   uint16
	source uint32
}

type synEntry struct {
	server [16]byte
	port   uint16
	hw     uint16
}

func makeSynKey(source uint32, client netip.AddrPort, isn uint32) synKey {
	return synKey{client: client.Addr().As16(), port: client.Port(), isn: isn, source: source}
}

// serverAddr is the SYN's destination as it was given.
func (e synEntry) serverAddr() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16(e.server).Unmap(), e.port)
}

// synRing is the SYN table's arrival queue: a fixed ring, since a queue
// sliced from the front and appended to reallocated and copied itself
// every few thousand SYNs of a flood.
type synRing struct {
	keys       []synKey
	head, size int
}

func (r *synRing) len() int { return r.size }

// push adds k; the ring must have room (len below its capacity n).
func (r *synRing) push(k synKey, n int) {
	if r.keys == nil {
		r.keys = make([]synKey, n)
	}
	r.keys[(r.head+r.size)%len(r.keys)] = k
	r.size++
}

// pop removes and returns the oldest key.
func (r *synRing) pop() synKey {
	k := r.keys[r.head]
	r.head = (r.head + 1) % len(r.keys)
	r.size--
	return k
}

// sourceID numbers a source name for synKey.
func (w *Wire) sourceID(name string) uint32 {
	if name == w.lastSrc && w.srcIDs != nil {
		return w.lastID
	}
	if w.srcIDs == nil {
		w.srcIDs = make(map[string]uint32)
	}
	id, ok := w.srcIDs[name]
	if !ok {
		id = uint32(len(w.srcIDs))
		w.srcIDs[name] = id
	}
	w.lastSrc, w.lastID = name, id
	return id
}

// tuple is one direction of a connection as captured.
type tuple struct {
	source   string
	src, dst netip.AddrPort
}

type endpoint struct {
	source string
	ap     netip.AddrPort
}

// natConn is one connection whose replies the capture shows from its
// original destination.
type natConn struct {
	client, redirect, orig netip.AddrPort
	source                 string
}

// half is what a client sent to a loopback address, for a mid-stream
// join: the next sequence number it will send and what it acknowledged.
type half struct {
	server   netip.AddrPort
	nxt, ack uint32
	hw       uint16
}

// Burst is a run of payload packets in one direction of a connection.
type Burst struct {
	// C2S is set for client-to-server payload (the client as given to
	// Bursts).
	C2S         bool
	First, Last time.Time
	Bytes       int64
	// Handshake is set when the burst began with a TLS handshake record
	// (a ClientHello, a server's hello flight): connection set-up, never
	// a request or a response.
	Handshake bool
}

// burstRing is how many bursts a connection keeps: the latest few
// requests and responses, far more than the time between an app-leg
// request and the upstream connection that carried it needs.
const burstRing = 24

// activity is the recent payload of one connection; direction true is
// from the lower endpoint of its canonical tuple.
type activity struct {
	bursts [burstRing]burstRec
	n      int // bursts recorded so far (the ring holds the last burstRing)
}

type burstRec struct {
	fromLow     bool
	handshake   bool
	first, last int64
	bytes       int64
}

// NewWire returns a Wire passing packets on to next.
func NewWire(next interface{ Packet(*sources.Packet) }) *Wire {
	ords, _ := next.(interface{ NextOrdinal() uint64 })
	return &Wire{next: next, ords: ords, syns: make(map[synKey]synEntry), replies: make(map[tuple]*natConn),
		reqs: make(map[tuple]*natConn), halves: make(map[endpoint]*half), conns: make(map[tuple]*activity),
		lim: defaultWireLimits}
}

// Packet inspects p, rewrites it if it is a NAT-rewritten reply, and
// hands it on.
func (w *Wire) Packet(p *sources.Packet) {
	if q := w.inspect(p); q != nil {
		p = q
	}
	if w.next != nil {
		w.next.Packet(p)
	}
}

// inspect does Packet's work and returns the rewritten copy, or nil to
// pass p on as it is.
func (w *Wire) inspect(p *sources.Packet) *sources.Packet {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := &w.frame
	if err := link.Parse(p.LinkType, p.Data, f); err != nil || f.Proto != link.ProtoTCP || f.Fragment {
		return nil
	}
	src, dst := f.AddrPorts()
	src, dst = unmapAP(src), unmapAP(dst)
	syn, ack := f.Flags.Has(link.FlagSYN), f.Flags.Has(link.FlagACK)
	var rewritten *sources.Packet
	switch {
	case syn && !ack:
		w.addSYN(makeSynKey(w.sourceID(p.Source), src, f.Seq), synEntry{server: dst.Addr().As16(), port: dst.Port(), hw: f.HardwareType})
	case syn && ack:
		k := makeSynKey(w.sourceID(p.Source), dst, f.Ack-1)
		if e, ok := w.syns[k]; ok {
			delete(w.syns, k)
			if server := e.serverAddr(); server != src && sameFamily(server, src) && hwCompatible(e.hw, f.HardwareType) {
				w.addNAT(&natConn{client: dst, redirect: server, orig: src, source: p.Source})
			}
		}
	}
	if len(w.replies) > 0 {
		if nc := w.replies[tuple{p.Source, src, dst}]; nc != nil {
			rewritten = rewriteSource(p, f, nc.redirect)
			src = nc.redirect
		}
	}
	if rewritten == nil && !syn && w.midStream(p, f, src, dst) {
		if nc := w.replies[tuple{p.Source, src, dst}]; nc != nil {
			rewritten = rewriteSource(p, f, nc.redirect)
			src = nc.redirect
		}
	}
	if len(f.Payload) > 0 && !src.Addr().IsLoopback() && !dst.Addr().IsLoopback() && f.HardwareType != link.HardwareLoopback {
		r := pendingRec{source: p.Source, src: src, dst: dst, at: p.Timestamp.UnixNano(), n: int64(f.PayloadLen), handshake: f.Payload[0] == 0x16}
		if w.ords == nil {
			w.apply(&r)
		} else {
			r.ord = w.ords.NextOrdinal()
			if len(w.pending) >= maxPending {
				w.apply(&w.pending[0])
				w.pending = w.pending[1:]
			}
			w.pending = append(w.pending, r)
		}
	}
	return rewritten
}

// CatchUp records the timing of packets up to ordinal ord: the merge is
// about to publish what that packet caused, and what linking reads must
// be what the capture showed up to there, as with one lane.
func (w *Wire) CatchUp(ord uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for n < len(w.pending) && w.pending[n].ord <= ord {
		w.apply(&w.pending[n])
		n++
	}
	if n == 0 {
		return
	}
	if n == len(w.pending) {
		w.pending = w.pending[:0]
		return
	}
	w.pending = append(w.pending[:0], w.pending[n:]...)
}

// apply records a payload packet's timing once a sidecar is in evidence.
func (w *Wire) apply(r *pendingRec) {
	if w.meshed {
		w.record(r.source, r.src, r.dst, r.at, r.n, r.handshake)
	}
}

// midStream learns what clients send to loopback addresses and joins a
// reply from elsewhere that acknowledges it; it reports a join.
func (w *Wire) midStream(p *sources.Packet, f *link.Frame, src, dst netip.AddrPort) bool {
	if dst.Addr().IsLoopback() && !src.Addr().IsLoopback() {
		if w.reqs[tuple{p.Source, src, dst}] != nil {
			return false
		}
		k := endpoint{p.Source, src}
		h := w.halves[k]
		if h == nil {
			if len(w.halfQ) >= w.lim.halves {
				delete(w.halves, w.halfQ[0])
				w.halfQ = w.halfQ[1:]
			}
			h = &half{}
			w.halves[k] = h
			w.halfQ = append(w.halfQ, k)
		}
		h.server, h.nxt, h.hw = dst, f.Seq+uint32(f.PayloadLen), f.HardwareType
		if f.Flags.Has(link.FlagACK) {
			h.ack = f.Ack
		}
		return false
	}
	if len(w.halves) == 0 {
		return false
	}
	k := endpoint{p.Source, dst}
	h := w.halves[k]
	if h == nil || h.server == src || !f.Flags.Has(link.FlagACK) || !sameFamily(h.server, src) || !hwCompatible(h.hw, f.HardwareType) {
		return false
	}
	// The reply acknowledges at most what the client sent and at least
	// what it sent a window ago; it sends from where the client's
	// acknowledgements stand.
	const window = 1 << 20
	if d := int32(h.nxt - f.Ack); d < 0 || d > window {
		return false
	}
	if d := int32(f.Seq - h.ack); d < -window || d > window {
		return false
	}
	delete(w.halves, k)
	w.addNAT(&natConn{client: dst, redirect: h.server, orig: src, source: p.Source})
	return true
}

func (w *Wire) addSYN(k synKey, e synEntry) {
	if old, ok := w.syns[k]; ok {
		if old != e { // a retransmitted SYN is usually the same
			w.syns[k] = e
		}
		return
	}
	// The oldest SYNs go first; their SYN-ACKs are long overdue.
	// Every waiting SYN has a place in the queue, so the map never
	// holds more than the queue.
	for w.synQ.len() >= w.lim.syns {
		delete(w.syns, w.synQ.pop())
	}
	w.synQ.push(k, w.lim.syns)
	w.syns[k] = e
}

func (w *Wire) addNAT(nc *natConn) {
	w.meshed = true
	w.anyNAT.Store(true)
	rep := tuple{nc.source, nc.orig, nc.client}
	req := tuple{nc.source, nc.client, nc.redirect}
	if old := w.reqs[req]; old != nil {
		delete(w.replies, tuple{old.source, old.orig, old.client})
	}
	if len(w.natQ) >= w.lim.nats {
		old := w.natQ[0]
		w.natQ = w.natQ[1:]
		if w.reqs[tuple{old.source, old.client, old.redirect}] == old {
			delete(w.reqs, tuple{old.source, old.client, old.redirect})
		}
		if w.replies[tuple{old.source, old.orig, old.client}] == old {
			delete(w.replies, tuple{old.source, old.orig, old.client})
		}
	}
	w.replies[rep], w.reqs[req] = nc, nc
	w.natQ = append(w.natQ, nc)
}

// record adds a payload packet to its connection's bursts.
func (w *Wire) record(source string, src, dst netip.AddrPort, t, n int64, handshake bool) {
	k, fromLow := canonical(source, src, dst)
	a := w.conns[k]
	if a == nil {
		if len(w.connQ) >= w.lim.conns {
			delete(w.conns, w.connQ[0])
			w.connQ = w.connQ[1:]
		}
		a = &activity{}
		w.conns[k] = a
		w.connQ = append(w.connQ, k)
	}
	if a.n > 0 {
		b := &a.bursts[(a.n-1)%burstRing]
		if b.fromLow == fromLow && t >= b.last {
			b.last = t
			b.bytes += n
			return
		}
	}
	a.bursts[a.n%burstRing] = burstRec{fromLow: fromLow, handshake: handshake, first: t, last: t, bytes: n}
	a.n++
}

// Evidence turns on the burst records: a Labeler that found a sidecar
// by other means (ports, 127.0.0.6, mesh SNI) says so.
func (w *Wire) Evidence() {
	w.mu.Lock()
	w.meshed = true
	w.mu.Unlock()
}

// Meshed reports whether a redirected connection was seen.
func (w *Wire) Meshed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.meshed && len(w.natQ) > 0
}

// Orig returns the original destination of a connection (as the decoder
// names it: client and server after the rewrite) whose requests the
// capture shows redirected; ok is false for any other connection.
func (w *Wire) Orig(source string, client, server netip.AddrPort) (orig netip.AddrPort, ok bool) {
	if !w.anyNAT.Load() {
		return netip.AddrPort{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	client, server = unmapAP(client), unmapAP(server)
	nc := w.reqs[tuple{source, client, server}]
	if nc == nil {
		// The decoder may have taken the other end for the client (a
		// connection joined mid-stream).
		nc = w.reqs[tuple{source, server, client}]
	}
	if nc == nil {
		return netip.AddrPort{}, false
	}
	return nc.orig, true
}

// Bursts appends to dst the recorded payload bursts of a connection, in
// time order, C2S meaning from client.
func (w *Wire) Bursts(dst []Burst, source string, client, server netip.AddrPort) []Burst {
	w.mu.Lock()
	defer w.mu.Unlock()
	client, server = unmapAP(client), unmapAP(server)
	k, clientLow := canonical(source, client, server)
	a := w.conns[k]
	if a == nil {
		return dst
	}
	from := max(0, a.n-burstRing)
	for i := from; i < a.n; i++ {
		b := a.bursts[i%burstRing]
		dst = append(dst, Burst{C2S: b.fromLow == clientLow, First: time.Unix(0, b.first), Last: time.Unix(0, b.last), Bytes: b.bytes, Handshake: b.handshake})
	}
	return dst
}

// canonical orders a tuple's ends so both directions share a key; fromLow
// says src is the lower end.
func canonical(source string, src, dst netip.AddrPort) (tuple, bool) {
	if src.Compare(dst) <= 0 {
		return tuple{source, src, dst}, true
	}
	return tuple{source, dst, src}, false
}

func unmapAP(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

func sameFamily(a, b netip.AddrPort) bool { return a.Addr().Is4() == b.Addr().Is4() }

// hwCompatible: both packets of a rewritten connection cross the same
// kind of interface (the redirect stays on loopback); unknown matches
// anything.
func hwCompatible(a, b uint16) bool { return a == 0 || b == 0 || a == b }

// rewriteSource returns a copy of p whose IP source and TCP source port
// are to, with checksums updated incrementally (RFC 1624), so that
// whatever checks them finds them as right or wrong as captured.
func rewriteSource(p *sources.Packet, f *link.Frame, to netip.AddrPort) *sources.Packet {
	data := append([]byte(nil), p.Data...)
	ip, tcp := f.IPOffset, f.TransportOffset
	var addrOff, addrLen int
	if f.Version == 4 {
		addrOff, addrLen = ip+12, 4
	} else {
		addrOff, addrLen = ip+8, 16
	}
	newAddr := to.Addr().AsSlice()
	if len(newAddr) != addrLen || tcp+18 > len(data) || addrOff+addrLen > len(data) {
		return nil
	}
	var sum uint32
	adjust := func(old, new []byte) {
		for i := 0; i+1 < len(old); i += 2 {
			sum += uint32(^binary.BigEndian.Uint16(old[i:]) & 0xffff)
			sum += uint32(binary.BigEndian.Uint16(new[i:]))
		}
	}
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], to.Port())
	adjust(data[addrOff:addrOff+addrLen], newAddr)
	ipSum := sum
	adjust(data[tcp:tcp+2], port[:])
	fold := func(old uint16, s uint32) uint16 {
		s += uint32(^old & 0xffff)
		for s>>16 != 0 {
			s = s&0xffff + s>>16
		}
		return ^uint16(s)
	}
	tcpOld := binary.BigEndian.Uint16(data[tcp+16:])
	binary.BigEndian.PutUint16(data[tcp+16:], fold(tcpOld, sum))
	if f.Version == 4 {
		ipOld := binary.BigEndian.Uint16(data[ip+10:])
		binary.BigEndian.PutUint16(data[ip+10:], fold(ipOld, ipSum))
	}
	copy(data[addrOff:], newAddr)
	copy(data[tcp:], port[:])
	q := *p
	q.Data = data
	return &q
}
