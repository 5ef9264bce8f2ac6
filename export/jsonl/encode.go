// Package jsonl writes exchanges, flows and status notes as JSON Lines: one
// object per line, stable field names, so scripts can rely on them (the
// README documents the schema). Encoding is hand-rolled append code rather
// than encoding/json because headless runs encode hundreds of thousands of
// exchanges and reflection would dominate the profile.
package jsonl

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/internal/jsonword"
	"github.com/tapview/tapview/sources"
)

// AppendExchange appends e as one JSON object (no trailing newline).
func AppendExchange(b []byte, e *decode.Exchange) []byte {
	b = append(b, `{"type":"exchange","id":`...)
	b = strconv.AppendUint(b, e.ID, 10)
	b = str(b, "source", e.Source)
	b = append(b, `,"flow":`...)
	b = strconv.AppendUint(b, e.FlowID, 10)
	b = str(b, "proto", e.Proto)
	b = timeField(b, "start", e.Start)
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, e.Latency().Microseconds())
	b = addrField(b, "client", e.Client)
	b = addrField(b, "server", e.Server)
	if e.Request != nil {
		b = str(b, "method", e.Request.Method)
		b = str(b, "host", e.Host())
		b = str(b, "path", e.Request.Target)
	} else {
		b = str(b, "host", e.Host())
	}
	if e.Response != nil && e.Response.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(e.Response.Status), 10)
	}
	if len(e.Interim) > 0 {
		b = append(b, `,"interim":[`...)
		for i, m := range e.Interim {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(m.Status), 10)
		}
		b = append(b, ']')
	}
	if e.Request != nil {
		b = headers(b, "req_headers", e.Request.Headers)
		if len(e.Request.Trailers) > 0 {
			b = headers(b, "req_trailers", e.Request.Trailers)
		}
		b = sizeField(b, "req_body_bytes", e.Request)
		b = contentType(b, "req_content_type", e.Request)
	}
	if e.Response != nil {
		b = headers(b, "resp_headers", e.Response.Headers)
		if len(e.Response.Trailers) > 0 {
			b = headers(b, "resp_trailers", e.Response.Trailers)
		}
		b = sizeField(b, "resp_body_bytes", e.Response)
		b = contentType(b, "resp_content_type", e.Response)
	}
	if e.StreamID != 0 {
		b = append(b, `,"stream":`...)
		b = strconv.AppendUint(b, uint64(e.StreamID), 10)
	}
	if e.TLS {
		b = append(b, `,"tls":true`...)
	}
	b = optStr(b, "sni", e.SNI)
	b = grpcFields(b, e)
	b = dnsFields(b, e)
	b = queryFields(b, e.Query)
	b = optStr(b, "pod", e.Pod)
	b = optStr(b, "namespace", e.Namespace)
	b = meshFields(b, e.Direction, e.Leg, e.Linked)
	b = str(b, "state", string(e.State))
	b = optStr(b, "error", e.Error)
	return append(b, '}')
}

// meshFields adds the service-mesh labels of decode/mesh when set:
// direction, leg, and the flow of the other leg ("linked").
func meshFields(b []byte, direction, leg string, linked uint64) []byte {
	b = optStr(b, "direction", direction)
	b = optStr(b, "leg", leg)
	if linked != 0 {
		b = append(b, `,"linked":`...)
		b = strconv.AppendUint(b, linked, 10)
	}
	return b
}

func grpcFields(b []byte, e *decode.Exchange) []byte {
	if e.GRPC == nil {
		return b
	}
	b = str(b, "grpc_service", e.GRPC.Service)
	b = str(b, "grpc_method", e.GRPC.Method)
	if e.GRPC.Status >= 0 {
		b = append(b, `,"grpc_status":`...)
		b = strconv.AppendInt(b, int64(e.GRPC.Status), 10)
		b = optStr(b, "grpc_message", e.GRPC.Message)
	}
	b = append(b, `,"req_messages":`...)
	b = strconv.AppendInt(b, int64(countParts(e.Request)), 10)
	b = append(b, `,"resp_messages":`...)
	return strconv.AppendInt(b, int64(countParts(e.Response)), 10)
}

func dnsFields(b []byte, e *decode.Exchange) []byte {
	if e.DNS == nil {
		return b
	}
	b = str(b, "dns_name", e.DNS.Name)
	b = str(b, "dns_type", e.DNS.Type)
	b = optStr(b, "dns_rcode", e.DNS.Rcode)
	b = append(b, `,"dns_answers":[`...)
	for i, a := range e.DNS.Answers {
		if i > 0 {
			b = append(b, ',')
		}
		b = quote(b, a)
	}
	return append(b, ']')
}

// queryFields adds what database and queue exchanges share (Redis,
// PostgreSQL, MySQL, Kafka): the error reply, the row or record count
// when known, and the connection's identity.
func queryFields(b []byte, q *decode.QueryInfo) []byte {
	if q == nil {
		return b
	}
	b = optStr(b, "reply_error", q.ReplyError)
	b = optStr(b, "error_code", q.ErrorCode)
	if q.Rows >= 0 {
		b = append(b, `,"rows":`...)
		b = strconv.AppendInt(b, q.Rows, 10)
	}
	b = optStr(b, "database", q.Database)
	b = optStr(b, "db_user", q.User)
	b = optStr(b, "client_id", q.ClientID)
	if q.Batches > 0 || q.RecordBytes > 0 {
		b = append(b, `,"batches":`...)
		b = strconv.AppendInt(b, int64(q.Batches), 10)
		b = append(b, `,"record_bytes":`...)
		b = strconv.AppendInt(b, q.RecordBytes, 10)
	}
	return b
}

func countParts(m *decode.Message) int {
	if m == nil {
		return 0
	}
	return len(m.Parts)
}

// AppendFlow appends f as one JSON object.
func AppendFlow(b []byte, f *decode.Flow) []byte {
	b = append(b, `{"type":"flow","id":`...)
	b = strconv.AppendUint(b, f.ID, 10)
	b = str(b, "source", f.Source)
	b = str(b, "transport", f.Transport)
	b = str(b, "proto", f.Proto)
	b = addrField(b, "client", f.Client)
	b = addrField(b, "server", f.Server)
	if f.OrigDst != nil {
		b = addrField(b, "orig_dst", *f.OrigDst)
	}
	b = timeField(b, "start", f.First)
	b = timeField(b, "end", f.Last)
	b = append(b, `,"packets":`...)
	b = strconv.AppendInt(b, f.PacketsC2S+f.PacketsS2C, 10)
	b = append(b, `,"bytes_c2s":`...)
	b = strconv.AppendInt(b, f.BytesC2S, 10)
	b = append(b, `,"bytes_s2c":`...)
	b = strconv.AppendInt(b, f.BytesS2C, 10)
	b = str(b, "state", string(f.State))
	if f.Partial {
		b = append(b, `,"partial":true`...)
	}
	b = optStr(b, "sni", f.SNI)
	b = optStr(b, "pod", f.Pod)
	b = optStr(b, "namespace", f.Namespace)
	b = meshFields(b, f.Direction, f.Leg, f.Linked)
	b = tunnelField(b, f.Tunnel)
	b = optStr(b, "error", f.Error)
	return append(b, '}')
}

// AppendStatus appends a source's status note as {"type":"status",...}.
func AppendStatus(b []byte, s sources.Status) []byte {
	b = append(b, `{"type":"status"`...)
	b = timeField(b, "time", s.Time)
	b = str(b, "source", s.Source)
	b = str(b, "level", s.Level.String())
	b = optStr(b, "kind", s.Kind)
	b = str(b, "message", s.Message)
	return append(b, '}')
}

// AppendStats appends one source's counters as {"type":"stats",...}.
func AppendStats(b []byte, now time.Time, st decode.SourceStats) []byte {
	b = append(b, `{"type":"stats"`...)
	b = timeField(b, "time", now)
	b = str(b, "source", st.Name)
	b = append(b, `,"packets":`...)
	b = strconv.AppendInt(b, st.Packets, 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, st.Bytes, 10)
	b = append(b, `,"dropped":`...)
	b = strconv.AppendInt(b, st.Dropped, 10)
	if st.Done {
		b = append(b, `,"done":true`...)
	}
	b = optStr(b, "error", st.Err)
	return append(b, '}')
}

func sizeField(b []byte, key string, m *decode.Message) []byte {
	n := m.DecodedSize
	if n < 0 || (n == 0 && m.BodySize > 0 && len(m.ContentEncoding) == 0) {
		n = m.BodySize
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, n, 10)
}

func headers(b []byte, key string, hs []decode.Header) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":[`...)
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = quote(b, h.Name)
		b = append(b, ',')
		b = quote(b, h.Value)
		b = append(b, ']')
	}
	return append(b, ']')
}

func timeField(b []byte, key string, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `":"`...)
	b = appendTimeUTC(b, t)
	return append(b, '"')
}

// addrField appends an endpoint without the allocation of String (two
// per exchange): the address is formatted in place and quoted as String
// would be quoted.
func addrField(b []byte, key string, a netip.AddrPort) []byte {
	if !a.IsValid() {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':', '"')
	start := len(b)
	b = a.AppendTo(b)
	for _, c := range b[start:] {
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			// Only a strange IPv6 zone gets here: quote it properly.
			return quote(b[:start-1], a.String())
		}
	}
	return append(b, '"')
}

// contentType appends m.ContentType() (the media type, lower-cased)
// without allocating: the value is quoted in place and lower-cased
// there; escapes never contain upper-case letters.
func contentType(b []byte, key string, m *decode.Message) []byte {
	v := m.HeaderValue("content-type")
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	v = trimSpaceTab(v)
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	start := len(b)
	b = quote(b, v)
	for i := start; i < len(b); i++ {
		if c := b[i]; 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

func str(b []byte, key, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return quote(b, v)
}

func optStr(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return str(b, key, v)
}

const hexDigits = "0123456789abcdef"

// quote appends s as a JSON string. Invalid UTF-8 becomes U+FFFD so the
// output is always valid JSON; control characters, C1 controls and bidi
// overrides are escaped (see jsonUnsafeRune), so no string from the wire
// reaches a terminal or editor showing the JSON as a live control.
func quote(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Most of a header value or URL needs no escape: skip eight
		// such bytes at a time.
		for i+8 <= len(s) && jsonword.Plain8(jsonword.Load8(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if jsonUnsafeRune(r) {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonUnsafeRune reports runes that are valid in JSON but dangerous where
// JSON Lines end up: C1 controls (U+009B is CSI and U+009D OSC to many
// terminals, so `tail -f` of an export could be driven by a hostile
// header), bidi embeddings, overrides and isolates (which reorder what a
// reader sees) and the line separators that break JavaScript parsers.
// Escaped as \uXXXX they decode to the same string.
func jsonUnsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	}
	return false
}
