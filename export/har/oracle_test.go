package har

// The HAR encoder as it was before the hand-written one (entry.go): HAR
// structs filled per entry and marshalled by encoding/json. It is kept
// here, unchanged but for the names, as the oracle the tests compare the
// hand-written encoder with byte for byte.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// oldEntryJSON is what Encoder.Entry appended before: the entry through
// encoding/json without HTML escaping, without the trailing newline.
func oldEntryJSON(c *Encoder, e *decode.Exchange, b []byte) ([]byte, error) {
	defer c.forget()
	buf := oldJSONBuffer{b}
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(oldNewEntry(e, c)); err != nil {
		return b, fmt.Errorf("har: entry for %s %s: %w", e.Method(), e.Path(), err)
	}
	out := buf.b
	if n := len(out); n > 0 && out[n-1] == '\n' {
		out = out[:n-1]
	}
	return out, nil
}

type oldJSONBuffer struct{ b []byte }

func (j *oldJSONBuffer) Write(p []byte) (int, error) {
	j.b = append(j.b, p...)
	return len(p), nil
}

// The HAR 1.2 objects, field for field; optional fields are omitted when
// empty, custom ones start with an underscore as the spec asks.
type oldEntry struct {
	StartedDateTime string      `json:"startedDateTime"`
	Time            float64     `json:"time"`
	Request         oldRequest  `json:"request"`
	Response        oldResponse `json:"response"`
	Cache           struct{}    `json:"cache"`
	Timings         oldTimings  `json:"timings"`
	ServerIPAddress string      `json:"serverIPAddress,omitempty"`
	Connection      string      `json:"connection,omitempty"`
	Comment         string      `json:"comment,omitempty"`
	GRPCStatus      *int        `json:"_grpcStatus,omitempty"`
	GRPCMessage     string      `json:"_grpcMessage,omitempty"`
}

type oldRequest struct {
	Method      string       `json:"method"`
	URL         string       `json:"url"`
	HTTPVersion string       `json:"httpVersion"`
	Cookies     []oldCookie  `json:"cookies"`
	Headers     []oldNv      `json:"headers"`
	QueryString []oldNv      `json:"queryString"`
	PostData    *oldPostData `json:"postData,omitempty"`
	HeadersSize int64        `json:"headersSize"`
	BodySize    int64        `json:"bodySize"`
	// Trailers has no HAR 1.2 field; custom fields start with '_'.
	Trailers []oldNv `json:"_trailers,omitempty"`
}

type oldResponse struct {
	Status      int         `json:"status"`
	StatusText  string      `json:"statusText"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []oldCookie `json:"cookies"`
	Headers     []oldNv     `json:"headers"`
	Content     oldContent  `json:"content"`
	RedirectURL string      `json:"redirectURL"`
	HeadersSize int64       `json:"headersSize"`
	BodySize    int64       `json:"bodySize"`
	Comment     string      `json:"comment,omitempty"`
	Trailers    []oldNv     `json:"_trailers,omitempty"`
}

type oldNv struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type oldCookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
}

type oldPostData struct {
	MimeType string  `json:"mimeType"`
	Params   []oldNv `json:"params,omitempty"`
	Text     string  `json:"text"`
	Encoding string  `json:"_encoding,omitempty"`
	Comment  string  `json:"comment,omitempty"`
}

type oldContent struct {
	Size        int64  `json:"size"`
	Compression int64  `json:"compression,omitempty"`
	MimeType    string `json:"mimeType"`
	Text        string `json:"text,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

type oldTimings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
	SSL     float64 `json:"ssl"`
}

// newEntry builds the HAR entry of a Supported exchange.
func oldNewEntry(e *decode.Exchange, dec *Encoder) *oldEntry {
	req := e.Request
	en := &oldEntry{
		StartedDateTime: oldStartOf(e).UTC().Format("2006-01-02T15:04:05.000Z"),
		Request:         oldNewRequest(e, dec),
		Response:        oldNewResponse(e.Response, e.Proto == "grpc", dec),
		Timings:         oldNewTimings(req, e.Response),
	}
	for _, v := range []float64{en.Timings.Send, en.Timings.Wait, en.Timings.Receive} {
		if v > 0 {
			en.Time += v
		}
	}
	en.Time = oldRound(en.Time)
	if e.Server.IsValid() {
		en.ServerIPAddress = e.Server.Addr().Unmap().WithZone("").String()
	}
	if e.FlowID != 0 {
		en.Connection = strconv.FormatUint(e.FlowID, 10)
	}
	if e.GRPC != nil && e.GRPC.Status >= 0 {
		s := e.GRPC.Status
		en.GRPCStatus = &s
		en.GRPCMessage = e.GRPC.Message
	}
	if e.State != decode.Complete && e.State != "" {
		en.Comment = "tapview: " + string(e.State)
		if e.Error != "" {
			en.Comment += ": " + e.Error
		}
	}
	return en
}

// startOf is the first request byte, or what else is known.
func oldStartOf(e *decode.Exchange) time.Time {
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

// newTimings splits the exchange's time as HAR asks: send (first to last
// request byte), wait (last request byte to first response byte; 0 when
// the response started before the request ended), receive (the
// response's bytes). What cannot be known is -1.
func oldNewTimings(req, resp *decode.Message) oldTimings {
	t := oldTimings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1, Send: -1, Wait: -1, Receive: -1}
	if req != nil && !req.First.IsZero() && !req.Last.IsZero() {
		t.Send = oldMs(req.Last.Sub(req.First))
	}
	if resp == nil || resp.First.IsZero() {
		return t
	}
	if req != nil && !req.Last.IsZero() {
		t.Wait = oldMs(resp.First.Sub(req.Last))
	}
	if !resp.Last.IsZero() {
		t.Receive = oldMs(resp.Last.Sub(resp.First))
	}
	return t
}

// ms converts to milliseconds (microsecond precision), never negative.
func oldMs(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return oldRound(float64(d) / float64(time.Millisecond))
}

func oldRound(v float64) float64 { return math.Round(v*1000) / 1000 }

func oldNewRequest(e *decode.Exchange, dec *Encoder) oldRequest {
	m := e.Request
	r := oldRequest{
		Method:      m.Method,
		URL:         oldRequestURL(e),
		HTTPVersion: oldHttpVersion(m.Proto, e.Proto),
		Cookies:     []oldCookie{},
		Headers:     oldHeaders(m.Headers),
		QueryString: oldQuery(m.Target),
		HeadersSize: oldHeadersSize(m, e.Proto, m.Method+" "+m.Target+" "+m.Proto),
		BodySize:    oldBodySize(m),
	}
	if len(m.Trailers) > 0 {
		r.Trailers = oldHeaders(m.Trailers)
	}
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, "cookie") {
			r.Cookies = append(r.Cookies, oldRequestCookies(h.Value)...)
		}
	}
	if len(m.Body) > 0 || m.BodySize > 0 {
		r.PostData = oldNewPostData(m, e.Proto == "grpc", dec)
	}
	return r
}

func oldNewResponse(m *decode.Message, grpc bool, dec *Encoder) oldResponse {
	if m == nil {
		return oldResponse{Cookies: []oldCookie{}, Headers: []oldNv{}, Content: oldContent{MimeType: "x-unknown"},
			HeadersSize: -1, BodySize: -1, Comment: "tapview: no response seen"}
	}
	r := oldResponse{
		Status:      m.Status,
		StatusText:  m.Reason,
		HTTPVersion: oldHttpVersion(m.Proto, ""),
		Cookies:     []oldCookie{},
		Headers:     oldHeaders(m.Headers),
		Content:     oldNewContent(m, grpc, dec),
		RedirectURL: m.HeaderValue("location"),
		HeadersSize: oldHeadersSize(m, "", m.Proto+" "+strconv.Itoa(m.Status)+" "+m.Reason),
		BodySize:    oldBodySize(m),
	}
	if len(m.Trailers) > 0 {
		r.Trailers = oldHeaders(m.Trailers)
	}
	if r.StatusText == "" {
		r.StatusText = http.StatusText(m.Status)
	}
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, "set-cookie") {
			if c, ok := oldSetCookie(h.Value); ok {
				r.Cookies = append(r.Cookies, c)
			}
		}
	}
	return r
}

// requestURL is the absolute URL of the request.
func oldRequestURL(e *decode.Exchange) string {
	m := e.Request
	target := m.Target
	lower := strings.ToLower(target)
	if strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") {
		return oldEscapeURL(target)
	}
	scheme := m.Scheme
	if scheme == "" {
		scheme = "http"
		if e.TLS {
			scheme = "https"
		}
	}
	host := m.Host
	if host == "" && e.Server.IsValid() {
		host = e.Server.String()
	}
	if m.Method == "CONNECT" {
		return oldEscapeURL(scheme + "://" + target)
	}
	if !strings.HasPrefix(target, "/") {
		target = "/" + strings.TrimPrefix(target, "*")
	}
	return oldEscapeURL(scheme + "://" + host + target)
}

// escapeURL percent-encodes what a URI cannot hold as is (spaces,
// controls, non-ASCII such as the mask's bullets), keeping the rest.
func oldEscapeURL(s string) string {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}' {
			if b == nil {
				b = append(make([]byte, 0, len(s)+16), s[:i]...)
			}
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		if b != nil {
			b = append(b, c)
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

func oldHttpVersion(proto, exProto string) string {
	if proto != "" {
		return proto
	}
	if exProto == "h2" || exProto == "grpc" {
		return "HTTP/2"
	}
	return "HTTP/1.1"
}

func oldHeaders(hs []decode.Header) []oldNv {
	out := make([]oldNv, len(hs))
	for i, h := range hs {
		out[i] = oldNv{Name: h.Name, Value: h.Value}
	}
	return out
}

// query lists the request target's query parameters, percent-decoded
// (kept raw when they do not decode).
func oldQuery(target string) []oldNv {
	out := []oldNv{}
	i := strings.IndexByte(target, '?')
	if i < 0 {
		return out
	}
	q := target[i+1:]
	if j := strings.IndexByte(q, '#'); j >= 0 {
		q = q[:j]
	}
	return oldPairs(q, out)
}

// pairs splits "a=1&b=2" into name/value pairs, percent-decoding.
func oldPairs(s string, out []oldNv) []oldNv {
	for _, kv := range strings.Split(s, "&") {
		if kv == "" {
			continue
		}
		name, value, _ := strings.Cut(kv, "=")
		out = append(out, oldNv{Name: oldUnescape(name), Value: oldUnescape(value)})
	}
	return out
}

func oldUnescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// headersSize is the size of an HTTP/1 header block as sent; HTTP/2
// compresses headers, so it is unknown (-1) there.
func oldHeadersSize(m *decode.Message, exProto, startLine string) int64 {
	if !strings.HasPrefix(m.Proto, "HTTP/1") || exProto == "h2" || exProto == "grpc" {
		return -1
	}
	n := len(startLine) + 2 + 2
	for _, h := range m.Headers {
		n += len(h.Name) + 2 + len(h.Value) + 2
	}
	return int64(n)
}

func oldBodySize(m *decode.Message) int64 {
	if m.BodySize > 0 {
		return m.BodySize
	}
	return int64(len(m.Body))
}

func oldRequestCookies(v string) []oldCookie {
	var out []oldCookie
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		out = append(out, oldCookie{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	return out
}

// setCookie parses a Set-Cookie value: the first pair, then attributes.
func oldSetCookie(v string) (oldCookie, bool) {
	parts := strings.Split(v, ";")
	name, value, ok := strings.Cut(strings.TrimSpace(parts[0]), "=")
	if !ok || strings.TrimSpace(name) == "" {
		return oldCookie{}, false
	}
	c := oldCookie{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)}
	for _, a := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(a), "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "path":
			c.Path = val
		case "domain":
			c.Domain = val
		case "expires":
			if t, err := http.ParseTime(val); err == nil {
				c.Expires = t.UTC().Format("2006-01-02T15:04:05.000Z")
			}
		case "httponly":
			c.HTTPOnly = true
		case "secure":
			c.Secure = true
		}
	}
	return c, true
}

// decoded returns the body without content codings, with a note when it
// is incomplete. dec is the Writer's decoder, reused from entry to entry.
func oldDecoded(m *decode.Message, dec *Encoder) ([]byte, string) {
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

func oldNewContent(m *decode.Message, grpc bool, dec *Encoder) oldContent {
	data, note := oldDecoded(m, dec)
	c := oldContent{MimeType: m.HeaderValue("content-type"), Comment: note}
	if c.MimeType == "" {
		c.MimeType = "x-unknown"
	}
	c.Size = int64(len(data))
	if m.DecodedSize > c.Size && !m.Truncated {
		c.Size = m.DecodedSize
	}
	if body.NeedsDecoding(m.ContentEncoding) && m.BodySize > 0 && c.Size >= m.BodySize {
		c.Compression = c.Size - m.BodySize
	}
	if len(data) == 0 {
		return c
	}
	if !grpc && oldIsText(c.MimeType, data) {
		c.Text = string(data)
	} else {
		c.Text = base64.StdEncoding.EncodeToString(data)
		c.Encoding = "base64"
	}
	return c
}

func oldNewPostData(m *decode.Message, grpc bool, dec *Encoder) *oldPostData {
	data, note := oldDecoded(m, dec)
	p := &oldPostData{MimeType: m.HeaderValue("content-type"), Comment: note}
	if p.MimeType == "" {
		p.MimeType = "application/octet-stream"
	}
	if !grpc && oldIsText(p.MimeType, data) {
		p.Text = string(data)
		if strings.HasPrefix(strings.ToLower(p.MimeType), "application/x-www-form-urlencoded") {
			p.Params = oldPairs(strings.TrimSpace(p.Text), nil)
		}
		return p
	}
	// HAR 1.2 has no encoding for postData; _encoding says how to read it.
	p.Text = base64.StdEncoding.EncodeToString(data)
	p.Encoding = "base64"
	return p
}

// isText reports whether a body can be shown as text: valid UTF-8
// without control characters other than whitespace, and not of a media
// type that is binary by definition.
func oldIsText(mime string, data []byte) bool {
	mt := strings.ToLower(mime)
	for _, bin := range []string{"image/", "audio/", "video/", "font/", "application/octet-stream", "application/grpc",
		"application/protobuf", "application/x-protobuf", "application/zip", "application/gzip", "application/pdf"} {
		if strings.HasPrefix(mt, bin) {
			return false
		}
	}
	if !utf8.Valid(data) {
		return false
	}
	for _, c := range data {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}
