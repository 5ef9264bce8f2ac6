package taptrace

import (
	"bytes"
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// streamedSocket is a tapped connection replayed into a Stream.
//
// Direction rule: a read event is bytes Envoy's connection received from
// its peer (remote → local), a write is bytes Envoy sent (local →
// remote). The peer is taken for the client, which is right for a
// listener's (downstream) connections. For a cluster's (upstream)
// connections Envoy is the client; that is recognised from the first
// bytes (Envoy writing a request, a TLS ClientHello or the HTTP/2 preface,
// or reading an HTTP response), and the TCP parsers can still swap sides
// from content.
type streamedSocket struct {
	source         string
	conn           *tapv3.Connection
	st             Stream
	envoyIsClient  bool
	opened, closed bool
	// readTrunc and writeTrunc are a buffered trace's truncation flags:
	// Envoy stopped recording that direction at its buffer limit.
	readTrunc, writeTrunc bool
	last                  time.Time
}

// socketBuffered replays a whole socket trace (Envoy emits it when the
// connection closes).
func (d *Decoder) socketBuffered(t *sources.Trace, sb *tapv3.SocketBufferedTrace) {
	s := &streamedSocket{source: traceSource(t), conn: sb.GetConnection(), last: t.Arrival,
		readTrunc: sb.GetReadTruncated(), writeTrunc: sb.GetWriteTruncated()}
	evs := sb.GetEvents()
	s.decideSides(evs)
	for _, ev := range evs {
		d.socketEvent(s, ev, t.Arrival)
	}
	if !s.opened {
		d.openSocket(s, t.Arrival)
	}
	s.close(decode.FlowClosed, s.last)
}

// socketSegment feeds one streamed socket segment to its stream.
func (d *Decoder) socketSegment(t *sources.Trace, seg *tapv3.SocketStreamedTraceSegment) {
	if seg.GetMessagePiece() == nil {
		d.stats.Empty++
		return
	}
	id := seg.GetTraceId()
	if id == 0 {
		id = t.TraceID
	}
	en := d.lookup(key{source: t.Source, node: t.Node, socket: true, id: id}, t.Arrival, true)
	if en.sock == nil {
		en.sock = &streamedSocket{source: traceSource(t), last: t.Arrival}
	}
	s := en.sock
	var evs []*tapv3.SocketEvent
	switch p := seg.GetMessagePiece().(type) {
	case *tapv3.SocketStreamedTraceSegment_Connection:
		if s.conn == nil {
			s.conn = p.Connection
		}
	case *tapv3.SocketStreamedTraceSegment_Event:
		evs = []*tapv3.SocketEvent{p.Event}
	case *tapv3.SocketStreamedTraceSegment_Events:
		evs = p.Events.GetEvents()
	}
	if !s.opened {
		s.decideSides(evs)
	}
	for _, ev := range evs {
		d.socketEvent(s, ev, t.Arrival)
	}
	if s.closed {
		d.finish(en, decode.FlowClosed)
	}
}

// socketEvent replays one event, opening the stream on the first one.
func (d *Decoder) socketEvent(s *streamedSocket, ev *tapv3.SocketEvent, arrival time.Time) {
	if s.closed || ev == nil {
		return
	}
	ts := stamp(ev.GetTimestamp(), arrival)
	if ts.After(s.last) {
		s.last = ts
	}
	if s.conn == nil && ev.GetConnection() != nil {
		s.conn = ev.GetConnection()
	}
	if !s.opened {
		d.openSocket(s, ts)
	}
	if s.st == nil {
		if ev.GetClosed() != nil {
			s.closed = true
		}
		return
	}
	switch e := ev.GetEventSelector().(type) {
	case *tapv3.SocketEvent_Read_:
		s.data(true, e.Read.GetData(), ts)
	case *tapv3.SocketEvent_Write_:
		s.data(false, e.Write.GetData(), ts)
	case *tapv3.SocketEvent_Closed_:
		s.close(decode.FlowClosed, ts)
	}
}

func (d *Decoder) openSocket(s *streamedSocket, ts time.Time) {
	s.opened = true
	if d.streams == nil {
		return
	}
	peer, local := addrPort(s.conn.GetRemoteAddress()), addrPort(s.conn.GetLocalAddress())
	client, server := peer, local
	if s.envoyIsClient {
		client, server = local, peer
	}
	s.st = d.streams.OpenStream(s.source, client, server, ts)
}

// dir maps read (true) or write to a direction relative to the client.
func (s *streamedSocket) dir(read bool) decode.Direction {
	if read != s.envoyIsClient {
		return decode.ClientToServer
	}
	return decode.ServerToClient
}

func (s *streamedSocket) data(read bool, b *tapv3.Body, ts time.Time) {
	if data := BodyBytes(b); len(data) > 0 {
		s.st.Data(s.dir(read), data, ts)
	}
	if b.GetTruncated() {
		s.st.Gap(s.dir(read), -1, ts)
	}
}

// close ends the stream once, first reporting what a buffered trace's
// truncation flags say is missing.
func (s *streamedSocket) close(state decode.FlowState, ts time.Time) {
	if s.st != nil {
		if s.readTrunc {
			s.st.Gap(s.dir(true), -1, ts)
		}
		if s.writeTrunc {
			s.st.Gap(s.dir(false), -1, ts)
		}
		s.st.Close(state, ts)
		s.st = nil
	}
	s.closed = true
}

// decideSides looks at the first event with data to tell whether Envoy
// opened the connection (see streamedSocket).
func (s *streamedSocket) decideSides(evs []*tapv3.SocketEvent) {
	for _, ev := range evs {
		var data []byte
		read := false
		switch e := ev.GetEventSelector().(type) {
		case *tapv3.SocketEvent_Read_:
			data, read = BodyBytes(e.Read.GetData()), true
		case *tapv3.SocketEvent_Write_:
			data = BodyBytes(e.Write.GetData())
		}
		if len(data) == 0 {
			continue
		}
		if read {
			s.envoyIsClient = bytes.HasPrefix(data, []byte("HTTP/1."))
		} else {
			s.envoyIsClient = clientFirst(data)
		}
		return
	}
}

// BodyBytes returns a tap body's bytes, whichever form Envoy wrote them
// in (as_bytes, or as_string when the tap was configured for strings).
func BodyBytes(b *tapv3.Body) []byte {
	switch v := b.GetBodyType().(type) {
	case *tapv3.Body_AsBytes:
		return v.AsBytes
	case *tapv3.Body_AsString:
		return []byte(v.AsString)
	}
	return nil
}

// clientFirst reports whether data is how a client opens a connection:
// an HTTP/1 request line, the HTTP/2 preface or a TLS ClientHello.
func clientFirst(data []byte) bool {
	if len(data) >= 6 && data[0] == 0x16 && data[1] == 3 && data[5] == 1 {
		return true
	}
	if bytes.HasPrefix(data, []byte("PRI * HTTP/2.0")) {
		return true
	}
	for _, m := range []string{"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "} {
		if bytes.HasPrefix(data, []byte(m)) {
			return true
		}
	}
	return false
}
