// Package decode turns packets and traces into Flows and Exchanges. It owns
// the data model every view and export reads, the Store that holds it, and
// the contracts between the TCP layer and the protocol parsers, which live
// in subpackages (tcp, http1, http2, grpc, tls, dns, ws, body).
package decode

import (
	"net/netip"
	"time"
)

// FlowState is the life stage of a Flow.
type FlowState string

// Flow states. Partial marks a TCP connection whose start was not seen
// (joined mid-stream), so the first bytes of its streams may be missing.
const (
	FlowOpen     FlowState = "open"
	FlowClosed   FlowState = "closed"
	FlowReset    FlowState = "reset"
	FlowTimedOut FlowState = "timeout"
	FlowPartial  FlowState = "partial"
)

// Flow is one TCP connection or UDP conversation. Published Flows are
// immutable: the decoder publishes a fresh copy on every change.
type Flow struct {
	ID        uint64
	Source    string
	Transport string // "tcp" or "udp"
	// Proto is the detected application protocol ("http/1.1", "h2",
	// "tls", "dns", ...) or "" while unknown.
	Proto          string
	Client, Server netip.AddrPort
	First, Last    time.Time
	PacketsC2S     int64
	PacketsS2C     int64
	BytesC2S       int64 // payload bytes client to server
	BytesS2C       int64
	State          FlowState
	// Partial is set when the connection was joined mid-stream; State
	// still tells how it ended.
	Partial bool
	Error   string
	// SNI is the TLS server name when a ClientHello was seen.
	SNI string
	// TLS holds handshake facts when the flow carries TLS.
	TLS *TLSInfo
	// Ordinals lists the packets of this flow (Packet.Ordinal, same
	// Source) in capture order, for per-flow export. Append-only: a copy
	// shares the backing array and never sees later appends.
	Ordinals []uint64
	// Pod and Namespace are the Kubernetes owner when known.
	Pod, Namespace string
	// Tunnel is the encapsulation the flow was captured in (node
	// captures: IPIP, VXLAN, Geneve, GRE) with the node pair, nil when
	// the packets were not tunnelled.
	Tunnel *Tunnel

	// Leg says which side of a service-mesh sidecar (Envoy) the flow is
	// on, so each request can be shown once although a sidecar pod's
	// capture sees it twice: LegApp between the application and its
	// sidecar (plaintext, loopback or iptables redirect ports), LegNetwork
	// between the sidecar and the network (usually mTLS), "" when no mesh
	// is involved. Set by decode/mesh.
	Leg string
	// Direction is DirInbound or DirOutbound relative to the captured
	// pod, "" when unknown.
	Direction string
	// Linked is the flow carrying the same connection on the other leg
	// (TLS passed through the sidecar), 0 when none was paired.
	Linked uint64
	// OrigDst is where the client meant to connect when the capture
	// shows the connection redirected (iptables REDIRECT to a sidecar:
	// Server is then 127.0.0.1:15001 and OrigDst the address the app
	// dialled), nil otherwise. Set by decode/mesh; shared between copies
	// and never modified (a pointer: the decoder keeps a Flow per open
	// connection, and 32 more bytes each cost a size class).
	OrigDst *netip.AddrPort
}

// Mesh legs and directions of flows and exchanges (see Flow.Leg).
const (
	LegApp      = "app"
	LegNetwork  = "network"
	DirInbound  = "inbound"
	DirOutbound = "outbound"
)

// TLSInfo describes what a TLS handshake revealed without decryption.
type TLSInfo struct {
	Version    string // negotiated, e.g. "TLS 1.3"
	SNI        string
	ALPN       []string // offered by the client
	ALPNChosen string   // selected by the server
	Cipher     string
	Decrypted  bool
	// ClientRandom is the ClientHello random, which names the session
	// in NSS key logs (decode/tls/keylog's LinesFor), so an export can
	// embed exactly the keys of the flows it writes. Shared between
	// copies and never modified.
	ClientRandom []byte
}

// ExchangeState is the life stage of an Exchange.
type ExchangeState string

// Exchange states. Pending exchanges may still change; every other state is
// final, and a final exchange is never published again.
const (
	Pending  ExchangeState = "pending"
	Complete ExchangeState = "complete"
	Partial  ExchangeState = "partial" // some bytes were missing
	Orphan   ExchangeState = "orphan"  // a response without its request, or the reverse at end
	Reset    ExchangeState = "reset"   // the stream or connection was reset
)

// Final reports whether an exchange in this state can no longer change.
func (s ExchangeState) Final() bool { return s != Pending && s != "" }

// Exchange is one request/response pair: HTTP/1 in order per connection,
// HTTP/2 and gRPC per stream, DNS per id, WebSocket per connection after
// the upgrade. Published Exchanges are immutable; Version grows with each
// publication of the same ID.
type Exchange struct {
	ID      uint64
	FlowID  uint64
	Source  string
	Proto   string // "http/1.1", "http/1.0", "h2", "grpc", "dns", "ws"
	Version uint64

	Client, Server netip.AddrPort
	// Start is the first byte of the request (or of the response for an
	// orphan); End the last byte seen of either side.
	Start, End time.Time

	Request  *Message
	Response *Message
	// Interim holds 1xx responses (100 Continue, 101 Switching Protocols)
	// that preceded the final response.
	Interim []*Message

	State ExchangeState
	Error string

	// Upstream is the host a proxy forwarded the request to, when the
	// source recorded it (an Envoy tap's upstream_connection); the zero
	// value otherwise. Client and Server stay the downstream endpoints.
	Upstream netip.AddrPort

	// StreamID is the HTTP/2 stream id, 0 for other protocols.
	StreamID uint32
	// TLS is set when the exchange was decrypted from TLS.
	TLS bool
	// SNI is the TLS server name of the exchange's flow, when a
	// ClientHello was seen, so filters on exchanges can use it without
	// looking the flow up.
	SNI string

	GRPC *GRPCInfo
	DNS  *DNSInfo
	// Query holds what database and queue protocols (Redis, PostgreSQL,
	// MySQL, Kafka) add to the HTTP-shaped model, nil for the others.
	// Their Request.Method is the command or statement verb, upper case,
	// and Request.Target the key, SQL text or topic list.
	Query *QueryInfo

	// Pod and Namespace are the Kubernetes owner when known.
	Pod, Namespace string

	// Leg and Direction are those of the exchange's flow (see Flow.Leg).
	Leg, Direction string
	// Linked is the flow of the same request on the other mesh leg: for
	// an exchange decoded on the app leg, the sidecar's network-leg
	// connection (often TLS without keys, so it has no exchanges of its
	// own); for a network-leg exchange, the app-leg flow that carried it
	// first. A network-leg exchange with Linked set is a duplicate that
	// default views hide. 0 when not paired.
	Linked uint64

	// Slim marks a summary: a copy that a memory-bounded store keeps
	// or rebuilds for lists and filters, whose messages hold no body,
	// parts or trailers and no header but Content-Type. The store gives
	// the whole exchange by ID (decode/store re-reads it from disk);
	// code that prints headers or bodies must not take a Slim exchange
	// for the whole one.
	Slim bool
}

// Header is one header field as it was on the wire: case and order kept,
// duplicates kept as separate entries.
type Header struct {
	Name, Value string
}

// Message is one side of an Exchange.
type Message struct {
	// First and Last are the capture times of the first and last byte.
	First, Last time.Time

	// Request side.
	Method string
	Target string // request-target as sent (path and query, or absolute URL)
	Host   string // Host header or :authority
	Scheme string // ":scheme" for HTTP/2, "" for HTTP/1
	// Response side.
	Status int
	Reason string

	Proto    string // "HTTP/1.1", "HTTP/1.0", "HTTP/2"
	Headers  []Header
	Trailers []Header

	// Body is the message body as transferred (chunked framing removed,
	// content encoding still applied), at most the decoder's body cap.
	Body []byte
	// BodySize is the full transferred body size, which may exceed
	// len(Body) when Truncated.
	BodySize int64
	// Truncated is set when Body holds less than BodySize, or when the
	// body was cut short on the wire or by the source (Envoy tap limits).
	Truncated bool
	// ContentEncoding lists the codings applied, outermost last, as in
	// the Content-Encoding header ("gzip", "br", ...).
	ContentEncoding []string
	// DecodedSize is the body size after removing content encodings, or
	// -1 when it could not be decoded; DecodeError says why.
	DecodedSize int64
	DecodeError string

	// Parts are the framed units inside the body: gRPC length-prefixed
	// messages, WebSocket frames, DNS records summary lines.
	Parts []Part

	// Masked is set on copies made by decode/mask when any value of this
	// message was replaced, so views can say that what they show is not
	// what was on the wire. When masking had to decode the body to reach
	// its values, Body holds the masked decoded bytes and ContentEncoding
	// is empty, while Headers still show the original Content-Encoding.
	Masked bool
}

// Part is one framed unit inside a message body.
type Part struct {
	Time       time.Time
	Kind       string // "grpc", "text", "binary", "ping", "pong", "close", "continuation"
	Compressed bool
	Data       []byte // decoded payload (decompressed where possible), capped
	Size       int64  // payload size on the wire
	Truncated  bool
	FromClient bool // for protocols where one message holds both directions (WebSocket)
}

// GRPCInfo holds gRPC facts of an exchange.
type GRPCInfo struct {
	Service, Method string
	// Status is the grpc-status code, -1 when no status was seen.
	Status  int
	Message string
}

// DNSInfo holds a DNS query and its answer.
type DNSInfo struct {
	ID      uint16
	Name    string
	Type    string // "A", "AAAA", ...
	Rcode   string // "NOERROR", "NXDOMAIN", ...; "" without a response
	Answers []string
}

// QueryInfo holds the facts database and queue exchanges share, so the
// list, filters and JSON treat the four protocols alike (the README's
// JSON schema names each field).
type QueryInfo struct {
	// ReplyError is the server's error as the protocol words it, "" when
	// the reply was not an error: Redis "-ERR …" without the dash,
	// PostgreSQL "ERROR: message", MySQL the ERR packet's message, Kafka
	// the error code's name.
	ReplyError string
	// ErrorCode is the machine-readable part of the error: the Redis
	// error prefix ("WRONGTYPE"), SQLSTATE ("42P01"), the MySQL error
	// number ("1146"), the Kafka error code as a number ("3").
	ErrorCode string
	// Rows counts what the reply carried: rows returned or affected for
	// SQL, elements of a Redis array reply (1 for a bulk string), records
	// for Kafka Produce and Fetch; -1 when the protocol did not say.
	Rows int64
	// Database is the PostgreSQL database, MySQL schema or Redis DB index
	// the connection was using, when seen.
	Database string
	// User is the login user from the connection's startup or handshake,
	// when seen.
	User string
	// ClientID is the Kafka client id of the request header.
	ClientID string
	// Batches counts Kafka record batches; RecordBytes is their total
	// size on the wire.
	Batches     int
	RecordBytes int64
	// TopicIDs are the Kafka topic ids a Metadata or CreateTopics
	// response mapped to names. Decoder lanes leave ids unnamed (a
	// response decoded in one lane would otherwise name topics only in
	// that lane): kafka.Namer reads these where exchanges are published,
	// in publication order, and names the ids of later exchanges.
	TopicIDs []TopicID
}

// TopicID is a Kafka topic id and the topic's name.
type TopicID struct {
	ID   [16]byte
	Name string
}

// Copy returns what a Conn publishes of e: a copy of the exchange and of
// every struct it points to (messages, interim messages, gRPC, DNS and
// query parts), sharing the slices, which parsers only append to. The
// TCP layer publishes such copies so a parser can go on filling its own;
// test Conns use the same copy so they hold parsers to the same contract.
func (e *Exchange) Copy() *Exchange {
	cp := *e
	cp.Request = copyMessage(e.Request)
	cp.Response = copyMessage(e.Response)
	if e.Interim != nil {
		cp.Interim = make([]*Message, len(e.Interim))
		for i, m := range e.Interim {
			cp.Interim[i] = copyMessage(m)
		}
	}
	if e.GRPC != nil {
		g := *e.GRPC
		cp.GRPC = &g
	}
	if e.DNS != nil {
		n := *e.DNS
		cp.DNS = &n
	}
	if e.Query != nil {
		q := *e.Query
		cp.Query = &q
	}
	return &cp
}

func copyMessage(m *Message) *Message {
	if m == nil {
		return nil
	}
	cp := *m
	return &cp
}

// HeaderValue returns the first value of the named header,
// case-insensitively, or "".
func (m *Message) HeaderValue(name string) string {
	if m == nil {
		return ""
	}
	for _, h := range m.Headers {
		if EqualFoldASCII(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// ContentType returns the media type of the Content-Type header, without
// parameters, lower-cased.
func (m *Message) ContentType() string {
	v := m.HeaderValue("content-type")
	for i := 0; i < len(v); i++ {
		if v[i] == ';' {
			v = v[:i]
			break
		}
	}
	return toLowerTrim(v)
}

// EqualFoldASCII compares header names and tokens case-insensitively,
// ASCII only, as HTTP defines them. It is cheaper than strings.EqualFold
// on the per-header paths of every parser, and shared so there is one.
func EqualFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

func toLowerTrim(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Method returns the request method or "".
func (e *Exchange) Method() string {
	if e.Request == nil {
		return ""
	}
	return e.Request.Method
}

// Host returns the request's Host (or :authority), falling back to the
// server address, so every exchange has something to show.
func (e *Exchange) Host() string {
	if e.Request != nil && e.Request.Host != "" {
		return e.Request.Host
	}
	if e.DNS != nil {
		return e.DNS.Name
	}
	if e.Server.IsValid() {
		return e.Server.String()
	}
	return ""
}

// Path returns the request target (path and query) or "".
func (e *Exchange) Path() string {
	if e.Request == nil {
		return ""
	}
	return e.Request.Target
}

// Status returns the final response status code, or 0 without one.
func (e *Exchange) Status() int {
	if e.Response == nil {
		return 0
	}
	return e.Response.Status
}

// Latency is the time from the first request byte to the last response
// byte, or 0 when either side is missing.
func (e *Exchange) Latency() time.Duration {
	if e.Request == nil || e.Response == nil || e.Request.First.IsZero() || e.Response.Last.IsZero() {
		return 0
	}
	d := e.Response.Last.Sub(e.Request.First)
	if d < 0 {
		return 0
	}
	return d
}
