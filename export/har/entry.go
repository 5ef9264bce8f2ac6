package har

import (
	"encoding/base64"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// The entry encoder appends an entry's JSON directly, field by field in
// the HAR 1.2 order, instead of filling structs for encoding/json: an
// export writes hundreds of megabytes of entries, and reflection, the
// per-entry structs and the copies of every body (string(data), base64
// strings) cost more than decoding the capture. The output is what
// encoding/json made of those structs (omitempty rules included); the
// structs are kept as the tests' oracle (oracle_test.go). Optional
// fields are omitted when empty; custom ones start with an underscore,
// as the spec asks.

// appendEntry appends the HAR entry of a Supported exchange.
func appendEntry(b []byte, e *decode.Exchange, dec *Encoder) []byte {
	t := newTimings(e.Request, e.Response)
	total := 0.0
	for _, v := range [...]float64{t.send, t.wait, t.receive} {
		if v > 0 {
			total += v
		}
	}
	b = append(b, `{"startedDateTime":"`...)
	b = startOf(e).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","time":`...)
	b = appendFloat(b, round(total))
	b = append(b, `,"request":`...)
	b = appendRequest(b, e, dec)
	b = append(b, `,"response":`...)
	b = appendResponse(b, e.Response, e.Proto == "grpc", dec)
	b = append(b, `,"cache":{},"timings":`...)
	b = t.append(b)
	if e.Server.IsValid() {
		b = append(b, `,"serverIPAddress":"`...)
		b = e.Server.Addr().Unmap().WithZone("").AppendTo(b)
		b = append(b, '"')
	}
	if e.FlowID != 0 {
		b = append(b, `,"connection":"`...)
		b = strconv.AppendUint(b, e.FlowID, 10)
		b = append(b, '"')
	}
	if e.State != decode.Complete && e.State != "" {
		comment := "tapview: " + string(e.State)
		if e.Error != "" {
			comment += ": " + e.Error
		}
		b = append(b, `,"comment":`...)
		b = appendString(b, comment)
	}
	if e.GRPC != nil && e.GRPC.Status >= 0 {
		b = append(b, `,"_grpcStatus":`...)
		b = strconv.AppendInt(b, int64(e.GRPC.Status), 10)
		if e.GRPC.Message != "" {
			b = append(b, `,"_grpcMessage":`...)
			b = appendString(b, e.GRPC.Message)
		}
	}
	return append(b, '}')
}

// startOf is the first request byte, or what else is known.
func startOf(e *decode.Exchange) time.Time {
	switch {
	case e.Request != nil && !e.Request.First.IsZero():
		return e.Request.First
	case !e.Start.IsZero():
		return e.Start
	case e.Response != nil && !e.Response.First.IsZero():
		return e.Response.First
	}
	return time.Unix(0, 0)
}

// timings are HAR's, in milliseconds; what cannot be known is -1.
type timings struct {
	blocked, dns, connect, send, wait, receive, ssl float64
}

// newTimings splits the exchange's time as HAR asks: send (first to last
// request byte), wait (last request byte to first response byte; 0 when
// the response started before the request ended), receive (the
// response's bytes).
func newTimings(req, resp *decode.Message) timings {
	t := timings{blocked: -1, dns: -1, connect: -1, ssl: -1, send: -1, wait: -1, receive: -1}
	if req != nil && !req.First.IsZero() && !req.Last.IsZero() {
		t.send = ms(req.Last.Sub(req.First))
	}
	if resp == nil || resp.First.IsZero() {
		return t
	}
	if req != nil && !req.Last.IsZero() {
		t.wait = ms(resp.First.Sub(req.Last))
	}
	if !resp.Last.IsZero() {
		t.receive = ms(resp.Last.Sub(resp.First))
	}
	return t
}

func (t timings) append(b []byte) []byte {
	b = append(b, `{"blocked":`...)
	b = appendFloat(b, t.blocked)
	b = append(b, `,"dns":`...)
	b = appendFloat(b, t.dns)
	b = append(b, `,"connect":`...)
	b = appendFloat(b, t.connect)
	b = append(b, `,"send":`...)
	b = appendFloat(b, t.send)
	b = append(b, `,"wait":`...)
	b = appendFloat(b, t.wait)
	b = append(b, `,"receive":`...)
	b = appendFloat(b, t.receive)
	b = append(b, `,"ssl":`...)
	b = appendFloat(b, t.ssl)
	return append(b, '}')
}

// ms converts to milliseconds (microsecond precision), never negative.
func ms(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return round(float64(d) / float64(time.Millisecond))
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

func appendRequest(b []byte, e *decode.Exchange, dec *Encoder) []byte {
	m := e.Request
	b = append(b, `{"method":`...)
	b = appendString(b, m.Method)
	b = append(b, `,"url":"`...)
	b = appendRequestURL(b, e)
	b = append(b, `","httpVersion":`...)
	b = appendString(b, httpVersion(m.Proto, e.Proto))
	b = append(b, `,"cookies":[`...)
	n := 0
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, "cookie") {
			b, n = appendRequestCookies(b, h.Value, n)
		}
	}
	b = append(b, `],"headers":`...)
	b = appendHeaders(b, m.Headers)
	b = append(b, `,"queryString":`...)
	b = appendQuery(b, m.Target)
	if len(m.Body) > 0 || m.BodySize > 0 {
		b = append(b, `,"postData":`...)
		b = appendPostData(b, m, e.Proto == "grpc", dec)
	}
	return appendMessageEnd(b, m, e.Proto, len(m.Method)+1+len(m.Target)+1+len(m.Proto))
}

// appendMessageEnd appends what a request and a response end with: the
// sizes (startLine is the length of the HTTP/1 start line, proto the
// exchange's protocol for headersSize), the trailers and the closing
// brace.
func appendMessageEnd(b []byte, m *decode.Message, proto string, startLine int) []byte {
	b = append(b, `,"headersSize":`...)
	b = strconv.AppendInt(b, headersSize(m, proto, startLine), 10)
	b = append(b, `,"bodySize":`...)
	b = strconv.AppendInt(b, bodySize(m), 10)
	if len(m.Trailers) > 0 {
		// Trailers have no HAR 1.2 field; custom fields start with '_'.
		b = append(b, `,"_trailers":`...)
		b = appendHeaders(b, m.Trailers)
	}
	return append(b, '}')
}

// noResponse is the response of an exchange whose response was not seen.
const noResponse = `{"status":0,"statusText":"","httpVersion":"","cookies":[],"headers":[],` +
	`"content":{"size":0,"mimeType":"x-unknown"},"redirectURL":"","headersSize":-1,"bodySize":-1,` +
	`"comment":"tapview: no response seen"}`

func appendResponse(b []byte, m *decode.Message, grpc bool, dec *Encoder) []byte {
	if m == nil {
		return append(b, noResponse...)
	}
	b = append(b, `{"status":`...)
	b = strconv.AppendInt(b, int64(m.Status), 10)
	b = append(b, `,"statusText":`...)
	if m.Reason != "" {
		b = appendString(b, m.Reason)
	} else {
		b = appendString(b, http.StatusText(m.Status))
	}
	b = append(b, `,"httpVersion":`...)
	b = appendString(b, httpVersion(m.Proto, ""))
	b = append(b, `,"cookies":[`...)
	n := 0
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, "set-cookie") {
			if c, ok := setCookie(h.Value); ok {
				b = appendComma(b, n)
				b = c.append(b)
				n++
			}
		}
	}
	b = append(b, `],"headers":`...)
	b = appendHeaders(b, m.Headers)
	b = append(b, `,"content":`...)
	b = appendContent(b, m, grpc, dec)
	b = append(b, `,"redirectURL":`...)
	b = appendString(b, m.HeaderValue("location"))
	return appendMessageEnd(b, m, "", len(m.Proto)+1+decimalLen(m.Status)+1+len(m.Reason))
}

// decimalLen is len(strconv.Itoa(v)) without the string.
func decimalLen(v int) int {
	n := 1
	u := uint64(v)
	if v < 0 {
		n++
		u = -u
	}
	for ; u >= 10; u /= 10 {
		n++
	}
	return n
}

// appendComma separates the n+1st element of an array from the nth.
func appendComma(b []byte, n int) []byte {
	if n > 0 {
		return append(b, ',')
	}
	return b
}

// appendNV appends a {"name","value"} object (headers, query and form
// parameters).
func appendNV(b []byte, name, value string) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, name)
	b = append(b, `,"value":`...)
	b = appendString(b, value)
	return append(b, '}')
}

func appendHeaders(b []byte, hs []decode.Header) []byte {
	b = append(b, '[')
	for i, h := range hs {
		b = appendComma(b, i)
		b = appendNV(b, h.Name, h.Value)
	}
	return append(b, ']')
}

// appendQuery appends the request target's query parameters,
// percent-decoded (kept raw when they do not decode), as an array.
func appendQuery(b []byte, target string) []byte {
	b = append(b, '[')
	if i := strings.IndexByte(target, '?'); i >= 0 {
		q := target[i+1:]
		if j := strings.IndexByte(q, '#'); j >= 0 {
			q = q[:j]
		}
		b, _ = appendPairs(b, q, 0)
	}
	return append(b, ']')
}

// appendPairs appends the pairs of "a=1&b=2", percent-decoded, as
// array elements after n others, returning the new count.
func appendPairs(b []byte, s string, n int) ([]byte, int) {
	for kv := range strings.SplitSeq(s, "&") {
		if kv == "" {
			continue
		}
		name, value, _ := strings.Cut(kv, "=")
		b = appendComma(b, n)
		b = appendNV(b, unescape(name), unescape(value))
		n++
	}
	return b, n
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func httpVersion(proto, exProto string) string {
	if proto != "" {
		return proto
	}
	if exProto == "h2" || exProto == "grpc" {
		return "HTTP/2"
	}
	return "HTTP/1.1"
}

// headersSize is the size of an HTTP/1 header block as sent, given the
// length of its start line; HTTP/2 compresses headers, so it is unknown
// (-1) there.
func headersSize(m *decode.Message, exProto string, startLine int) int64 {
	if !strings.HasPrefix(m.Proto, "HTTP/1") || exProto == "h2" || exProto == "grpc" {
		return -1
	}
	n := startLine + 2 + 2
	for _, h := range m.Headers {
		n += len(h.Name) + 2 + len(h.Value) + 2
	}
	return int64(n)
}

func bodySize(m *decode.Message) int64 {
	if m.BodySize > 0 {
		return m.BodySize
	}
	return int64(len(m.Body))
}

// decoded returns the body without content codings, with a note when it
// is incomplete. dec is the Writer's decoder, reused from entry to entry.
func decoded(m *decode.Message, dec *Encoder) ([]byte, string) {
	note := ""
	if m.Truncated {
		note = "body truncated: " + strconv.Itoa(len(m.Body)) + " of " + strconv.FormatInt(m.BodySize, 10) + " bytes kept"
	}
	if m.Body == nil && m.DecodeError != "" {
		return nil, m.DecodeError
	}
	if !body.NeedsDecoding(m.ContentEncoding) {
		return m.Body, note
	}
	out, err := dec.Decode(m.ContentEncoding, m.Body, decode.DefaultMaxDecoded)
	if err != nil {
		if note != "" {
			note += "; "
		}
		note += "decoding " + strings.Join(m.ContentEncoding, ", ") + ": " + err.Error()
	}
	return out, note
}

func appendContent(b []byte, m *decode.Message, grpc bool, dec *Encoder) []byte {
	data, note := decoded(m, dec)
	mime := m.HeaderValue("content-type")
	if mime == "" {
		mime = "x-unknown"
	}
	size := int64(len(data))
	if m.DecodedSize > size && !m.Truncated {
		size = m.DecodedSize
	}
	b = append(b, `{"size":`...)
	b = strconv.AppendInt(b, size, 10)
	if body.NeedsDecoding(m.ContentEncoding) && m.BodySize > 0 && size > m.BodySize {
		b = append(b, `,"compression":`...)
		b = strconv.AppendInt(b, size-m.BodySize, 10)
	}
	b = append(b, `,"mimeType":`...)
	b = appendString(b, mime)
	if len(data) > 0 {
		b = append(b, `,"text":`...)
		b = dec.shown.appendShown(b, data, !grpc && !binaryType(mime))
	}
	if note != "" {
		b = append(b, `,"comment":`...)
		b = appendString(b, note)
	}
	return append(b, '}')
}

func appendPostData(b []byte, m *decode.Message, grpc bool, dec *Encoder) []byte {
	data, note := decoded(m, dec)
	mime := m.HeaderValue("content-type")
	if mime == "" {
		mime = "application/octet-stream"
	}
	b = append(b, `{"mimeType":`...)
	b = appendString(b, mime)
	if !grpc && isText(mime, data) {
		if strings.HasPrefix(strings.ToLower(mime), "application/x-www-form-urlencoded") {
			mark := len(b)
			b = append(b, `,"params":[`...)
			var n int
			b, n = appendPairs(b, strings.TrimSpace(string(data)), 0)
			if n == 0 {
				b = b[:mark] // omitted when empty
			} else {
				b = append(b, ']')
			}
		}
		b = append(b, `,"text":`...)
		b, _ = appendText(b, data)
	} else {
		// HAR 1.2 has no encoding for postData; _encoding says how to read it.
		b = append(b, `,"text":`...)
		b = appendBase64(b, data)
		b = append(b, `,"_encoding":"base64"`...)
	}
	if note != "" {
		b = append(b, `,"comment":`...)
		b = appendString(b, note)
	}
	return append(b, '}')
}

// appendBase64 appends data in standard base64 as a JSON string (its
// alphabet needs no escaping).
func appendBase64(b []byte, data []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, '"')
}
