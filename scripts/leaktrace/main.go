// Command leaktrace turns the leak corpus (testdata/leak: real Go
// servers and clients on loopback, recorded by scripts/record-leak.sh)
// into Envoy tap traces of the same traffic, as Envoy's HTTP tap filter
// and transport socket tap would have recorded it had the traffic gone
// through an Envoy listener (no Envoy runs here). The traffic is the
// recorded one; only the envelope is Envoy's:
//
//   - HTTP traces: every HTTP/1.1, HTTP/2 and gRPC exchange tapview's own
//     decoder finds in the captures, with headers as Envoy presents them
//     (:method, :path, :authority, :scheme; :status), the body as
//     transferred (content coding kept, chunked framing removed) and
//     trailers. Every other exchange is written as streamed segments
//     (headers, the body in 700-byte chunks, trailers), the rest
//     buffered.
//
//   - Socket traces: every TCP connection of the captures, its payload
//     bytes in sequence order, one read (client to server, the listener
//     side's view) or write event per TCP segment. Every other
//     connection is written as streamed segments, the rest buffered.
//
//     leaktrace http OUT.pb_length_delimited CAPTURE...
//     leaktrace socket OUT.pb_length_delimited CAPTURE...
//
// scripts/record-leak-traces.sh runs it over the corpus.
package main

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tapview/tapview/bench/tapdecode"
	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
	"github.com/tapview/tapview/sources/taptrace"
)

// chunk is the size of a streamed trace's body chunks.
const chunk = 700

func main() {
	log.SetFlags(0)
	log.SetPrefix("leaktrace: ")
	if len(os.Args) < 4 || (os.Args[1] != "http" && os.Args[1] != "socket") {
		log.Fatal("usage: leaktrace http|socket OUT.pb_length_delimited CAPTURE...")
	}
	var traces []*tapv3.TraceWrapper
	for _, path := range os.Args[3:] {
		pkts, err := read(path)
		if err != nil {
			log.Fatal(err)
		}
		if os.Args[1] == "http" {
			traces = append(traces, httpTraces(pkts, uint64(len(traces)))...)
		} else {
			traces = append(traces, socketTraces(pkts, uint64(len(traces)))...)
		}
	}
	f, err := os.Create(os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(f)
	rec := taptrace.NewRecorder(w)
	for _, t := range traces {
		if err := rec.Record(&sources.Trace{Wrapper: t}); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("leaktrace: %s: %d traces\n", os.Args[2], len(traces))
}

type collect struct{ pkts []sources.Packet }

func (c *collect) Packet(p sources.Packet) { c.pkts = append(c.pkts, p) }
func (c *collect) Status(sources.Status)   {}

func read(path string) ([]sources.Packet, error) {
	src, err := pcapfile.Open(path)
	if err != nil {
		return nil, err
	}
	var c collect
	if err := src.Run(context.Background(), &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c.pkts, nil
}

// exchanges keeps the final version of every exchange, in order.
type exchanges struct {
	order []uint64
	last  map[uint64]*decode.Exchange
}

func (e *exchanges) Flow(*decode.Flow)   {}
func (e *exchanges) Note(sources.Status) {}
func (e *exchanges) Exchange(x *decode.Exchange) {
	if _, ok := e.last[x.ID]; !ok {
		e.order = append(e.order, x.ID)
	}
	e.last[x.ID] = x
}

func httpTraces(pkts []sources.Packet, id uint64) []*tapv3.TraceWrapper {
	ex := &exchanges{last: map[uint64]*decode.Exchange{}}
	d := tapdecode.NewDecoder(ex)
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	d.Finish(time.Time{})
	var out []*tapv3.TraceWrapper
	n := 0
	upgrades := map[uint64]*decode.Exchange{} // h2c upgrade requests by flow
	for _, xid := range ex.order {
		e := ex.last[xid]
		if e.Response != nil && e.Response.Status == 101 && e.Request != nil && strings.EqualFold(header(e.Request, "upgrade"), "h2c") {
			upgrades[e.FlowID] = e
			continue
		}
		if up := upgrades[e.FlowID]; up != nil && e.StreamID == 1 && (e.Request == nil || e.Request.Method == "") {
			// The upgraded request is answered on stream 1: to Envoy it
			// is one exchange, the HTTP/1.1 request and that response.
			c := *e
			c.Request = up.Request
			e = &c
		}
		if e.Request == nil || e.Response == nil || e.Request.Method == "" || e.Response.Status < 200 {
			continue // only HTTP request/response pairs pass Envoy's HTTP tap filter
		}
		switch e.Proto {
		case "http/1.1", "http/1.0", "h2", "grpc":
		default:
			continue
		}
		id++
		n++
		req, resp := requestHeaders(e.Request), responseHeaders(e.Response)
		conn := connection(e.Client, e.Server)
		if n%2 == 1 {
			out = append(out, &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_HttpBufferedTrace{HttpBufferedTrace: &tapv3.HttpBufferedTrace{
				Request:              message(e.Request, req),
				Response:             message(e.Response, resp),
				DownstreamConnection: conn,
			}}})
			continue
		}
		out = append(out, streamed(id, e, req, resp)...)
	}
	return out
}

func message(m *decode.Message, hs []*corev3.HeaderValue) *tapv3.HttpBufferedTrace_Message {
	out := &tapv3.HttpBufferedTrace_Message{Headers: hs, Trailers: trailers(m), HeadersReceivedTime: timestamppb.New(m.First)}
	if len(m.Body) > 0 {
		out.Body = &tapv3.Body{BodyType: &tapv3.Body_AsBytes{AsBytes: m.Body}, Truncated: m.Truncated}
	}
	return out
}

func streamed(id uint64, e *decode.Exchange, req, resp []*corev3.HeaderValue) []*tapv3.TraceWrapper {
	var out []*tapv3.TraceWrapper
	add := func(s *tapv3.HttpStreamedTraceSegment) {
		s.TraceId = id
		out = append(out, &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_HttpStreamedTraceSegment{HttpStreamedTraceSegment: s}})
	}
	add(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_RequestHeaders{RequestHeaders: &corev3.HeaderMap{Headers: req}}})
	for _, c := range chunks(e.Request) {
		add(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_RequestBodyChunk{RequestBodyChunk: c}})
	}
	if ts := trailers(e.Request); ts != nil {
		add(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_RequestTrailers{RequestTrailers: &corev3.HeaderMap{Headers: ts}}})
	}
	add(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_ResponseHeaders{ResponseHeaders: &corev3.HeaderMap{Headers: resp}}})
	for _, c := range chunks(e.Response) {
		add(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_ResponseBodyChunk{ResponseBodyChunk: c}})
	}
	if ts := trailers(e.Response); ts != nil {
		add(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_ResponseTrailers{ResponseTrailers: &corev3.HeaderMap{Headers: ts}}})
	}
	return out
}

func chunks(m *decode.Message) []*tapv3.Body {
	var out []*tapv3.Body
	for b := m.Body; len(b) > 0; {
		n := min(chunk, len(b))
		out = append(out, &tapv3.Body{BodyType: &tapv3.Body_AsBytes{AsBytes: b[:n]}})
		b = b[n:]
	}
	if len(out) > 0 && m.Truncated {
		out[len(out)-1].Truncated = true
	}
	return out
}

func header(m *decode.Message, name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// requestHeaders are a request's headers as Envoy presents them: pseudo
// headers first, names lower case, Host as :authority.
func requestHeaders(m *decode.Message) []*corev3.HeaderValue {
	scheme := m.Scheme
	if scheme == "" {
		scheme = "http"
	}
	hs := []*corev3.HeaderValue{{Key: ":authority", Value: m.Host}, {Key: ":path", Value: m.Target},
		{Key: ":method", Value: m.Method}, {Key: ":scheme", Value: scheme}}
	return append(hs, plain(m.Headers, "host")...)
}

func responseHeaders(m *decode.Message) []*corev3.HeaderValue {
	return append([]*corev3.HeaderValue{{Key: ":status", Value: strconv.Itoa(m.Status)}}, plain(m.Headers, "")...)
}

func trailers(m *decode.Message) []*corev3.HeaderValue {
	if len(m.Trailers) == 0 {
		return nil
	}
	return plain(m.Trailers, "")
}

// plain returns headers other than pseudo headers and skip, lower case.
func plain(hs []decode.Header, skip string) []*corev3.HeaderValue {
	var out []*corev3.HeaderValue
	for _, h := range hs {
		name := strings.ToLower(h.Name)
		if strings.HasPrefix(name, ":") || name == skip {
			continue
		}
		out = append(out, &corev3.HeaderValue{Key: name, Value: h.Value})
	}
	return out
}

func addr(a netip.AddrPort) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: a.Addr().String(), PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(a.Port())}}}}
}

// connection is the listener-side view: the client is the remote end.
func connection(client, server netip.AddrPort) *tapv3.Connection {
	return &tapv3.Connection{RemoteAddress: addr(client), LocalAddress: addr(server)}
}

// tcpConn is one TCP connection of a capture, put back in order.
type tcpConn struct {
	client, server netip.AddrPort
	next           [2]uint32 // next expected sequence number per direction (0 client)
	started        [2]bool
	events         []*tapv3.SocketEvent
	closed         bool
}

func socketTraces(pkts []sources.Packet, id uint64) []*tapv3.TraceWrapper {
	conns := map[[2]netip.AddrPort]*tcpConn{}
	var order []*tcpConn
	var f link.Frame
	for _, p := range pkts {
		if err := link.Parse(p.LinkType, p.Data, &f); err != nil || f.Proto != link.ProtoTCP || f.Fragment {
			continue
		}
		src, dst := f.AddrPorts()
		c := conns[[2]netip.AddrPort{src, dst}]
		dir := 0
		if c == nil {
			if c = conns[[2]netip.AddrPort{dst, src}]; c != nil {
				dir = 1
			}
		}
		if c == nil {
			if !f.Flags.Has(link.FlagSYN) || f.Flags.Has(link.FlagACK) {
				continue // joined mid-stream: the corpus has none
			}
			c = &tcpConn{client: src, server: dst}
			conns[[2]netip.AddrPort{src, dst}] = c
			order = append(order, c)
		}
		seq := f.Seq
		if f.Flags.Has(link.FlagSYN) {
			seq++
			c.next[dir], c.started[dir] = seq, true
		}
		if data := f.Payload; len(data) > 0 && c.started[dir] {
			// Retransmitted bytes are skipped; the corpus lost none.
			if d := int32(c.next[dir] - seq); d > 0 {
				if int(d) >= len(data) {
					data = nil
				} else {
					data = data[d:]
				}
			}
			if len(data) > 0 {
				ev := &tapv3.SocketEvent{Timestamp: timestamppb.New(p.Timestamp)}
				body := &tapv3.Body{BodyType: &tapv3.Body_AsBytes{AsBytes: append([]byte(nil), data...)}}
				if dir == 0 {
					ev.EventSelector = &tapv3.SocketEvent_Read_{Read: &tapv3.SocketEvent_Read{Data: body}}
				} else {
					ev.EventSelector = &tapv3.SocketEvent_Write_{Write: &tapv3.SocketEvent_Write{Data: body}}
				}
				c.events = append(c.events, ev)
				c.next[dir] = seq + uint32(len(f.Payload))
			}
		}
		if (f.Flags.Has(link.FlagFIN) || f.Flags.Has(link.FlagRST)) && !c.closed {
			c.closed = true
			c.events = append(c.events, &tapv3.SocketEvent{Timestamp: timestamppb.New(p.Timestamp),
				EventSelector: &tapv3.SocketEvent_Closed_{Closed: &tapv3.SocketEvent_Closed{}}})
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return len(order[i].events) > 0 && len(order[j].events) == 0 })
	var out []*tapv3.TraceWrapper
	for i, c := range order {
		if len(c.events) == 0 {
			continue
		}
		id++
		conn := connection(c.client, c.server)
		if i%2 == 0 {
			out = append(out, &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_SocketBufferedTrace{SocketBufferedTrace: &tapv3.SocketBufferedTrace{
				TraceId: id, Connection: conn, Events: c.events}}})
			continue
		}
		out = append(out, &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_SocketStreamedTraceSegment{SocketStreamedTraceSegment: &tapv3.SocketStreamedTraceSegment{
			TraceId: id, MessagePiece: &tapv3.SocketStreamedTraceSegment_Connection{Connection: conn}}}})
		for _, ev := range c.events {
			out = append(out, &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_SocketStreamedTraceSegment{SocketStreamedTraceSegment: &tapv3.SocketStreamedTraceSegment{
				TraceId: id, MessagePiece: &tapv3.SocketStreamedTraceSegment_Event{Event: ev}}}})
		}
	}
	return out
}
