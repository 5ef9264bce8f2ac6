package tracemask

import (
	"bytes"
	"net/netip"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"

	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/decode/taptrace"
	"github.com/tapview/tapview/export/streammask"
)

// isn is the sequence number the replayed connection starts at; gap is
// how far a direction's sequence jumps after a body Envoy cut short, so
// the walker sees the bytes as lost.
const (
	isn = 1 << 20
	gap = 1 << 24
)

// standIn returns the address used for a connection end whose address
// is not IP (pipes, internal addresses) or missing (TEST-NET-1).
func standIn(peer bool) netip.AddrPort {
	if peer {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 1}), 40000)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 2}), 8080)
}

// sent is one data event of the replay: where its bytes went in
// sequence space and which frame carried them.
type sent struct {
	data     *tapv3.Body
	src, dst netip.AddrPort
	seq      uint32
	ordinal  uint64
}

// socket masks a socket trace's events in place by replaying them as one
// TCP connection through export/streammask (the walker of packet
// export) and applying its patches; bytes it did not walk are scanned
// raw, as packet export scans such packets.
//
// Direction rule (as decode/taptrace reads socket traces): a read is
// bytes Envoy received from its peer, a write bytes it sent; the peer is
// the client unless the first bytes show Envoy opening the connection.
func (x *Masker) socket(conn *tapv3.Connection, evs []*tapv3.SocketEvent) bool {
	peer, local := addrPort(conn.GetRemoteAddress(), standIn(true)), addrPort(conn.GetLocalAddress(), standIn(false))
	if peer == local {
		peer, local = standIn(true), standIn(false)
	}
	envoyClient := envoyIsClient(evs)
	client, server := peer, local
	if envoyClient {
		client, server = local, peer
	}
	tr := streammask.NewTracker(x.m)
	var ordinal uint64
	frame := func(src, dst netip.AddrPort, seq uint32, flags link.TCPFlags, payload []byte) {
		ordinal++
		f := link.Frame{Proto: link.ProtoTCP, Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
			Seq: seq, Flags: flags, Payload: payload, PayloadLen: len(payload)}
		if src.Addr().Is4() {
			f.Version = 4
		} else {
			f.Version = 6
		}
		tr.Packet(ordinal, &f)
	}
	// Handshake, so the walker knows the client.
	frame(client, server, isn-1, link.FlagSYN, nil)
	frame(server, client, isn-1, link.FlagSYN|link.FlagACK, nil)
	next := map[netip.AddrPort]uint32{client: isn, server: isn}
	var out []sent
	for _, ev := range evs {
		var b *tapv3.Body
		read := false
		switch e := ev.GetEventSelector().(type) {
		case *tapv3.SocketEvent_Read_:
			b, read = e.Read.GetData(), true
		case *tapv3.SocketEvent_Write_:
			b = e.Write.GetData()
		default:
			continue
		}
		src, dst := server, client
		if read != envoyClient {
			src, dst = client, server
		}
		data := taptrace.BodyBytes(b)
		if len(data) > 0 {
			seq := next[src]
			frame(src, dst, seq, link.FlagACK|link.FlagPSH, data)
			out = append(out, sent{data: b, src: src, dst: dst, seq: seq, ordinal: ordinal})
			next[src] = seq + uint32(len(data))
		}
		if b.GetTruncated() {
			next[src] += gap
		}
	}
	res := tr.Finish()
	changed := false
	for _, s := range out {
		data := append([]byte(nil), taptrace.BodyBytes(s.data)...)
		orig := taptrace.BodyBytes(s.data)
		covered := false
		if in := res.Lookup(s.src, s.dst, s.ordinal); in != nil {
			covered = in.Apply(s.seq, false, data).Covered
		}
		if !covered {
			x.m.MaskInPlace(data)
		}
		if !bytes.Equal(data, orig) {
			setBody(s.data, data)
			changed = true
		}
	}
	return changed
}

// socketStreamed masks the held segments of one streamed socket trace as
// one connection.
func (x *Masker) socketStreamed(segs []*tapv3.TraceWrapper) bool {
	var conn *tapv3.Connection
	var evs []*tapv3.SocketEvent
	for _, w := range segs {
		s := w.GetSocketStreamedTraceSegment()
		if c := s.GetConnection(); c != nil && conn == nil {
			conn = c
		}
		for _, ev := range segmentEvents(s) {
			if conn == nil && ev.GetConnection() != nil {
				conn = ev.GetConnection()
			}
			evs = append(evs, ev)
		}
	}
	return x.socket(conn, evs)
}

// segmentEvents returns the events a streamed socket segment carries.
func segmentEvents(s *tapv3.SocketStreamedTraceSegment) []*tapv3.SocketEvent {
	switch p := s.GetMessagePiece().(type) {
	case *tapv3.SocketStreamedTraceSegment_Event:
		return []*tapv3.SocketEvent{p.Event}
	case *tapv3.SocketStreamedTraceSegment_Events:
		return p.Events.GetEvents()
	}
	return nil
}

// addrPort turns an Envoy socket address into an AddrPort, or def.
func addrPort(a *corev3.Address, def netip.AddrPort) netip.AddrPort {
	sa := a.GetSocketAddress()
	if sa == nil {
		return def
	}
	ip, err := netip.ParseAddr(sa.GetAddress())
	if err != nil {
		return def
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(sa.GetPortValue()))
}

// envoyIsClient tells from the first bytes whether Envoy opened the
// connection (an upstream socket): it wrote a request, a TLS
// ClientHello or the HTTP/2 preface, or read an HTTP response.
func envoyIsClient(evs []*tapv3.SocketEvent) bool {
	for _, ev := range evs {
		switch e := ev.GetEventSelector().(type) {
		case *tapv3.SocketEvent_Read_:
			if d := taptrace.BodyBytes(e.Read.GetData()); len(d) > 0 {
				return bytes.HasPrefix(d, []byte("HTTP/1."))
			}
		case *tapv3.SocketEvent_Write_:
			if d := taptrace.BodyBytes(e.Write.GetData()); len(d) > 0 {
				return clientFirst(d)
			}
		}
	}
	return false
}

func clientFirst(d []byte) bool {
	if len(d) >= 6 && d[0] == 0x16 && d[1] == 3 && d[5] == 1 {
		return true
	}
	if bytes.HasPrefix(d, []byte("PRI * HTTP/2.0")) {
		return true
	}
	for _, m := range []string{"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "} {
		if bytes.HasPrefix(d, []byte(m)) {
			return true
		}
	}
	return false
}
