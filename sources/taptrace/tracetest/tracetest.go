// Package tracetest builds realistic Envoy tap traces with
// go-control-plane's generated types, so the sink, file, admin and
// decoder tests all exercise the same shapes Envoy produces (buffered and
// streamed HTTP, buffered and streamed socket taps).
package tracetest

import (
	"fmt"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Base returns the fixed time the built traces start at.
func Base() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

// Addr returns an Envoy socket address.
func Addr(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// Conn returns the connection of a listener at local seen from remote.
func Conn(remote, local string, rport, lport uint32) *tapv3.Connection {
	return &tapv3.Connection{LocalAddress: Addr(local, lport), RemoteAddress: Addr(remote, rport)}
}

// Headers builds a header list from name, value pairs.
func Headers(kv ...string) []*corev3.HeaderValue {
	out := make([]*corev3.HeaderValue, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, &corev3.HeaderValue{Key: kv[i], Value: kv[i+1]})
	}
	return out
}

// Bytes is a body carried as bytes.
func Bytes(b string, truncated bool) *tapv3.Body {
	return &tapv3.Body{BodyType: &tapv3.Body_AsBytes{AsBytes: []byte(b)}, Truncated: truncated}
}

// HTTPBuffered is a buffered HTTP trace of GET path answered with status
// and body, as Envoy's HTTP tap filter produces it with
// record_headers_received_time and record_downstream_connection. n makes
// each trace distinct.
func HTTPBuffered(n int, path string, status int, body string) *tapv3.TraceWrapper {
	t := Base().Add(time.Duration(n) * time.Millisecond)
	return &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_HttpBufferedTrace{HttpBufferedTrace: &tapv3.HttpBufferedTrace{
		Request: &tapv3.HttpBufferedTrace_Message{
			Headers: Headers(":authority", "api.example", ":path", path, ":method", "GET", ":scheme", "http",
				"user-agent", "curl/8.5.0", "x-request-id", fmt.Sprintf("req-%d", n)),
			HeadersReceivedTime: timestamppb.New(t),
		},
		Response: &tapv3.HttpBufferedTrace_Message{
			Headers:             Headers(":status", fmt.Sprint(status), "content-type", "application/json", "server", "envoy"),
			Body:                Bytes(body, false),
			Trailers:            nil,
			HeadersReceivedTime: timestamppb.New(t.Add(3 * time.Millisecond)),
		},
		DownstreamConnection: Conn("10.1.0.7", "10.1.0.2", uint32(40000+n%20000), 8080),
	}}}
}

// GRPCBuffered is a buffered gRPC trace: HTTP/2 pseudo headers, a
// length-prefixed request message and grpc-status in the trailers.
func GRPCBuffered(n int) *tapv3.TraceWrapper {
	t := Base().Add(time.Duration(n) * time.Millisecond)
	frame := func(payload string) string {
		return string([]byte{0, 0, 0, 0, byte(len(payload))}) + payload
	}
	return &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_HttpBufferedTrace{HttpBufferedTrace: &tapv3.HttpBufferedTrace{
		Request: &tapv3.HttpBufferedTrace_Message{
			Headers: Headers(":method", "POST", ":path", "/helloworld.Greeter/SayHello", ":authority", "greeter:50051",
				":scheme", "http", "content-type", "application/grpc", "te", "trailers"),
			Body:                Bytes(frame("\x0a\x03bob"), false),
			HeadersReceivedTime: timestamppb.New(t),
		},
		Response: &tapv3.HttpBufferedTrace_Message{
			Headers:             Headers(":status", "200", "content-type", "application/grpc"),
			Body:                Bytes(frame("\x0a\x09hello bob"), false),
			Trailers:            Headers("grpc-status", "0", "grpc-message", ""),
			HeadersReceivedTime: timestamppb.New(t.Add(time.Millisecond)),
		},
		DownstreamConnection: Conn("10.1.0.9", "10.1.0.2", 51000, 8080),
	}}}
}

// HTTPStreamed is the segments of one streamed HTTP trace (POST path with
// a request body in two chunks, a 201 answer with trailers), as Envoy
// writes them with output_config.streaming.
func HTTPStreamed(id uint64, path string) []*tapv3.TraceWrapper {
	seg := func(s *tapv3.HttpStreamedTraceSegment) *tapv3.TraceWrapper {
		s.TraceId = id
		return &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_HttpStreamedTraceSegment{HttpStreamedTraceSegment: s}}
	}
	return []*tapv3.TraceWrapper{
		seg(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_RequestHeaders{
			RequestHeaders: &corev3.HeaderMap{Headers: Headers(":method", "POST", ":path", path, ":authority", "up.example",
				"content-type", "text/plain")}}}),
		seg(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_RequestBodyChunk{
			RequestBodyChunk: Bytes("hello ", false)}}),
		seg(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_RequestBodyChunk{
			RequestBodyChunk: &tapv3.Body{BodyType: &tapv3.Body_AsString{AsString: "world"}}}}),
		seg(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_ResponseHeaders{
			ResponseHeaders: &corev3.HeaderMap{Headers: Headers(":status", "201", "content-type", "text/plain")}}}),
		seg(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_ResponseBodyChunk{
			ResponseBodyChunk: Bytes("created", false)}}),
		seg(&tapv3.HttpStreamedTraceSegment{MessagePiece: &tapv3.HttpStreamedTraceSegment_ResponseTrailers{
			ResponseTrailers: &corev3.HeaderMap{Headers: Headers("x-checksum", "abc")}}}),
	}
}

// SocketEvents is an HTTP/1.1 exchange on a tapped socket of the server
// side (reads are the client's request, writes the response), then a
// close.
func SocketEvents(n int) []*tapv3.SocketEvent {
	t := Base().Add(time.Duration(n) * time.Millisecond)
	req := fmt.Sprintf("GET /sock/%d HTTP/1.1\r\nHost: sock.example\r\nUser-Agent: test\r\n\r\n", n)
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
	return []*tapv3.SocketEvent{
		{Timestamp: timestamppb.New(t), SeqNum: 1, EventSelector: &tapv3.SocketEvent_Read_{Read: &tapv3.SocketEvent_Read{Data: Bytes(req, false)}}},
		{Timestamp: timestamppb.New(t.Add(time.Millisecond)), SeqNum: 2, EventSelector: &tapv3.SocketEvent_Write_{Write: &tapv3.SocketEvent_Write{Data: Bytes(resp, false)}}},
		{Timestamp: timestamppb.New(t.Add(2 * time.Millisecond)), SeqNum: 3, EventSelector: &tapv3.SocketEvent_Closed_{Closed: &tapv3.SocketEvent_Closed{}}},
	}
}

// SocketBuffered is a buffered socket trace of SocketEvents(n).
func SocketBuffered(n int) *tapv3.TraceWrapper {
	return &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_SocketBufferedTrace{SocketBufferedTrace: &tapv3.SocketBufferedTrace{
		TraceId:    uint64(1000 + n),
		Connection: Conn("10.2.0.5", "10.2.0.1", 33000, 9000),
		Events:     SocketEvents(n),
	}}}
}

// SocketStreamed is the segments of one streamed socket trace: the
// connection, then each event alone.
func SocketStreamed(id uint64, n int) []*tapv3.TraceWrapper {
	out := []*tapv3.TraceWrapper{{Trace: &tapv3.TraceWrapper_SocketStreamedTraceSegment{SocketStreamedTraceSegment: &tapv3.SocketStreamedTraceSegment{
		TraceId: id, MessagePiece: &tapv3.SocketStreamedTraceSegment_Connection{Connection: Conn("10.2.0.6", "10.2.0.1", 34000, 9000)},
	}}}}
	for _, ev := range SocketEvents(n) {
		out = append(out, &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_SocketStreamedTraceSegment{SocketStreamedTraceSegment: &tapv3.SocketStreamedTraceSegment{
			TraceId: id, MessagePiece: &tapv3.SocketStreamedTraceSegment_Event{Event: ev},
		}}})
	}
	return out
}
