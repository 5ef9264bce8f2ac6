package har

import (
	"encoding/base64"
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

// The HAR 1.2 objects, field for field; optional fields are omitted when
// empty, custom ones start with an underscore as the spec asks.
type entry struct {
	StartedDateTime string   `json:"startedDateTime"`
	Time            float64  `json:"time"`
	Request         request  `json:"request"`
	Response        response `json:"response"`
	Cache           struct{} `json:"cache"`
	Timings         timings  `json:"timings"`
	ServerIPAddress string   `json:"serverIPAddress,omitempty"`
	Connection      string   `json:"connection,omitempty"`
	Comment         string   `json:"comment,omitempty"`
	GRPCStatus      *int     `json:"_grpcStatus,omitempty"`
	GRPCMessage     string   `json:"_grpcMessage,omitempty"`
}

type request struct {
	Method      string    `json:"method"`
	URL         string    `json:"url"`
	HTTPVersion string    `json:"httpVersion"`
	Cookies     []cookie  `json:"cookies"`
	Headers     []nv      `json:"headers"`
	QueryString []nv      `json:"queryString"`
	PostData    *postData `json:"postData,omitempty"`
	HeadersSize int64     `json:"headersSize"`
	BodySize    int64     `json:"bodySize"`
	// Trailers has no HAR 1.2 field; custom fields start with '_'.
	Trailers []nv `json:"_trailers,omitempty"`
}

type response struct {
	Status      int      `json:"status"`
	StatusText  string   `json:"statusText"`
	HTTPVersion string   `json:"httpVersion"`
	Cookies     []cookie `json:"cookies"`
	Headers     []nv     `json:"headers"`
	Content     content  `json:"content"`
	RedirectURL string   `json:"redirectURL"`
	HeadersSize int64    `json:"headersSize"`
	BodySize    int64    `json:"bodySize"`
	Comment     string   `json:"comment,omitempty"`
	Trailers    []nv     `json:"_trailers,omitempty"`
}

type nv struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
}

type postData struct {
	MimeType string `json:"mimeType"`
	Params   []nv   `json:"params,omitempty"`
	Text     string `json:"text"`
	Encoding string `json:"_encoding,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

type content struct {
	Size        int64  `json:"size"`
	Compression int64  `json:"compression,omitempty"`
	MimeType    string `json:"mimeType"`
	Text        string `json:"text,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

type timings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
	SSL     float64 `json:"ssl"`
}

// newEntry builds the HAR entry of a Supported exchange.
func newEntry(e *decode.Exchange, dec *Encoder) *entry {
	req := e.Request
	en := &entry{
		StartedDateTime: startOf(e).UTC().Format("2006-01-02T15:04:05.000Z"),
		Request:         newRequest(e, dec),
		Response:        newResponse(e.Response, e.Proto == "grpc", dec),
		Timings:         newTimings(req, e.Response),
	}
	for _, v := range []float64{en.Timings.Send, en.Timings.Wait, en.Timings.Receive} {
		if v > 0 {
			en.Time += v
		}
	}
	en.Time = round(en.Time)
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

// newTimings splits the exchange's time as HAR asks: send (first to last
// request byte), wait (last request byte to first response byte; 0 when
// the response started before the request ended), receive (the
// response's bytes). What cannot be known is -1.
func newTimings(req, resp *decode.Message) timings {
	t := timings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1, Send: -1, Wait: -1, Receive: -1}
	if req != nil && !req.First.IsZero() && !req.Last.IsZero() {
		t.Send = ms(req.Last.Sub(req.First))
	}
	if resp == nil || resp.First.IsZero() {
		return t
	}
	if req != nil && !req.Last.IsZero() {
		t.Wait = ms(resp.First.Sub(req.Last))
	}
	if !resp.Last.IsZero() {
		t.Receive = ms(resp.Last.Sub(resp.First))
	}
	return t
}

// ms converts to milliseconds (microsecond precision), never negative.
func ms(d time.Duration) float64 {
	if d < 0 {
		return 0
	}
	return round(float64(d) / float64(time.Millisecond))
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

func newRequest(e *decode.Exchange, dec *Encoder) request {
	m := e.Request
	r := request{
		Method:      m.Method,
		URL:         requestURL(e),
		HTTPVersion: httpVersion(m.Proto, e.Proto),
		Cookies:     []cookie{},
		Headers:     headers(m.Headers),
		QueryString: query(m.Target),
		HeadersSize: headersSize(m, e.Proto, m.Method+" "+m.Target+" "+m.Proto),
		BodySize:    bodySize(m),
	}
	if len(m.Trailers) > 0 {
		r.Trailers = headers(m.Trailers)
	}
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, "cookie") {
			r.Cookies = append(r.Cookies, requestCookies(h.Value)...)
		}
	}
	if len(m.Body) > 0 || m.BodySize > 0 {
		r.PostData = newPostData(m, e.Proto == "grpc", dec)
	}
	return r
}

func newResponse(m *decode.Message, grpc bool, dec *Encoder) response {
	if m == nil {
		return response{Cookies: []cookie{}, Headers: []nv{}, Content: content{MimeType: "x-unknown"},
			HeadersSize: -1, BodySize: -1, Comment: "tapview: no response seen"}
	}
	r := response{
		Status:      m.Status,
		StatusText:  m.Reason,
		HTTPVersion: httpVersion(m.Proto, ""),
		Cookies:     []cookie{},
		Headers:     headers(m.Headers),
		Content:     newContent(m, grpc, dec),
		RedirectURL: m.HeaderValue("location"),
		HeadersSize: headersSize(m, "", m.Proto+" "+strconv.Itoa(m.Status)+" "+m.Reason),
		BodySize:    bodySize(m),
	}
	if len(m.Trailers) > 0 {
		r.Trailers = headers(m.Trailers)
	}
	if r.StatusText == "" {
		r.StatusText = http.StatusText(m.Status)
	}
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, "set-cookie") {
			if c, ok := setCookie(h.Value); ok {
				r.Cookies = append(r.Cookies, c)
			}
		}
	}
	return r
}

// requestURL is the absolute URL of the request.
func requestURL(e *decode.Exchange) string {
	m := e.Request
	target := m.Target
	lower := strings.ToLower(target)
	if strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") {
		return escapeURL(target)
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
		return escapeURL(scheme + "://" + target)
	}
	if !strings.HasPrefix(target, "/") {
		target = "/" + strings.TrimPrefix(target, "*")
	}
	return escapeURL(scheme + "://" + host + target)
}

// escapeURL percent-encodes what a URI cannot hold as is (spaces,
// controls, non-ASCII such as the mask's bullets), keeping the rest.
func escapeURL(s string) string {
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

func httpVersion(proto, exProto string) string {
	if proto != "" {
		return proto
	}
	if exProto == "h2" || exProto == "grpc" {
		return "HTTP/2"
	}
	return "HTTP/1.1"
}

func headers(hs []decode.Header) []nv {
	out := make([]nv, len(hs))
	for i, h := range hs {
		out[i] = nv{Name: h.Name, Value: h.Value}
	}
	return out
}

// query lists the request target's query parameters, percent-decoded
// (kept raw when they do not decode).
func query(target string) []nv {
	out := []nv{}
	i := strings.IndexByte(target, '?')
	if i < 0 {
		return out
	}
	q := target[i+1:]
	if j := strings.IndexByte(q, '#'); j >= 0 {
		q = q[:j]
	}
	return pairs(q, out)
}

// pairs splits "a=1&b=2" into name/value pairs, percent-decoding.
func pairs(s string, out []nv) []nv {
	for _, kv := range strings.Split(s, "&") {
		if kv == "" {
			continue
		}
		name, value, _ := strings.Cut(kv, "=")
		out = append(out, nv{Name: unescape(name), Value: unescape(value)})
	}
	return out
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// headersSize is the size of an HTTP/1 header block as sent; HTTP/2
// compresses headers, so it is unknown (-1) there.
func headersSize(m *decode.Message, exProto, startLine string) int64 {
	if !strings.HasPrefix(m.Proto, "HTTP/1") || exProto == "h2" || exProto == "grpc" {
		return -1
	}
	n := len(startLine) + 2 + 2
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

func requestCookies(v string) []cookie {
	var out []cookie
	for _, part := range strings.Split(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		out = append(out, cookie{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
	return out
}

// setCookie parses a Set-Cookie value: the first pair, then attributes.
func setCookie(v string) (cookie, bool) {
	parts := strings.Split(v, ";")
	name, value, ok := strings.Cut(strings.TrimSpace(parts[0]), "=")
	if !ok || strings.TrimSpace(name) == "" {
		return cookie{}, false
	}
	c := cookie{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)}
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

func newContent(m *decode.Message, grpc bool, dec *Encoder) content {
	data, note := decoded(m, dec)
	c := content{MimeType: m.HeaderValue("content-type"), Comment: note}
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
	if !grpc && isText(c.MimeType, data) {
		c.Text = string(data)
	} else {
		c.Text = base64.StdEncoding.EncodeToString(data)
		c.Encoding = "base64"
	}
	return c
}

func newPostData(m *decode.Message, grpc bool, dec *Encoder) *postData {
	data, note := decoded(m, dec)
	p := &postData{MimeType: m.HeaderValue("content-type"), Comment: note}
	if p.MimeType == "" {
		p.MimeType = "application/octet-stream"
	}
	if !grpc && isText(p.MimeType, data) {
		p.Text = string(data)
		if strings.HasPrefix(strings.ToLower(p.MimeType), "application/x-www-form-urlencoded") {
			p.Params = pairs(strings.TrimSpace(p.Text), nil)
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
func isText(mime string, data []byte) bool {
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
