// Package rebuild renders decoded HTTP messages back into HTTP/1.1 bytes.
// Exchanges that arrive without packets (Envoy tap traces) still have to
// appear in pcap exports, and Wireshark can only show them if the
// synthesized TCP stream holds a message it can parse. HTTP/1.1 is the one
// HTTP framing that can be written without connection state (HTTP/2 would
// need HPACK tables, settings and stream bookkeeping), so HTTP/2 and gRPC
// exchanges are rendered as HTTP/1.1 too; callers say so to the user.
//
// What is rendered is what the decoder kept: pseudo-headers become the
// request line and Host, framing headers are replaced (the body is sent
// with Content-Length, or chunked when there are trailers, which gRPC
// status needs), and a body that masking decoded loses its
// Content-Encoding header so the bytes and the header agree.
package rebuild

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// Exchange renders an exchange as the bytes each side would have sent
// over one HTTP/1.1 connection: the request, and the interim (1xx)
// responses followed by the final response. A missing side is nil.
func Exchange(e *decode.Exchange) (req, resp []byte) {
	if e.Request != nil {
		req = Request(e.Request)
	}
	for _, m := range e.Interim {
		resp = appendResponse(resp, m, "")
	}
	if e.Response != nil {
		resp = appendResponse(resp, e.Response, e.Method())
	}
	return req, resp
}

// Request renders m as an HTTP/1.1 (or HTTP/1.0, when it was one)
// request.
func Request(m *decode.Message) []byte {
	method := m.Method
	if method == "" {
		method = "GET"
	}
	target := m.Target
	if target == "" {
		target = "/"
		if method == "CONNECT" && m.Host != "" {
			target = m.Host
		}
	}
	b := make([]byte, 0, 256+len(m.Body))
	b = appendToken(b, method)
	b = append(b, ' ')
	b = appendToken(b, target)
	b = append(b, ' ')
	b = append(b, version(m.Proto)...)
	b = append(b, "\r\n"...)
	if m.Host != "" && m.HeaderValue("host") == "" {
		b = appendHeader(b, "Host", m.Host)
	}
	b = appendHeaders(b, m)
	needsLength := len(m.Body) > 0 || method == "POST" || method == "PUT" || method == "PATCH"
	return appendBody(b, m, needsLength)
}

// appendResponse appends m rendered as a response to a request of method.
func appendResponse(b []byte, m *decode.Message, method string) []byte {
	status := m.Status
	if status <= 0 || status > 999 {
		return b
	}
	reason := m.Reason
	if reason == "" {
		reason = http.StatusText(status)
	}
	b = append(b, version(m.Proto)...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	if reason != "" {
		b = append(b, ' ')
		b = append(b, clean(reason)...)
	}
	b = append(b, "\r\n"...)
	b = appendHeaders(b, m)
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified || method == "HEAD" {
		// These responses have no body by definition.
		return append(b, "\r\n"...)
	}
	return appendBody(b, m, true)
}

// Response renders m as an HTTP/1.1 response.
func Response(m *decode.Message) []byte { return appendResponse(nil, m, "") }

// version keeps HTTP/1.0 and writes everything else as HTTP/1.1.
func version(proto string) string {
	if proto == "HTTP/1.0" {
		return proto
	}
	return "HTTP/1.1"
}

// framing lists headers the rebuilt message sets itself.
func framing(name string) bool {
	return strings.EqualFold(name, "content-length") || strings.EqualFold(name, "transfer-encoding") ||
		strings.EqualFold(name, "trailer")
}

// appendHeaders copies m's headers, leaving out HTTP/2 pseudo-headers,
// framing headers, and a Content-Encoding the body no longer has.
func appendHeaders(b []byte, m *decode.Message) []byte {
	decodedByMask := !body.NeedsDecoding(m.ContentEncoding)
	for _, h := range m.Headers {
		if strings.HasPrefix(h.Name, ":") || framing(h.Name) || h.Name == "" {
			continue
		}
		if decodedByMask && strings.EqualFold(h.Name, "content-encoding") && body.NeedsDecoding(body.Codings(h.Value)) {
			continue
		}
		b = appendHeader(b, h.Name, h.Value)
	}
	return b
}

// appendBody ends the header block and appends the body, with trailers
// as a chunked body when there are any.
func appendBody(b []byte, m *decode.Message, needsLength bool) []byte {
	if len(m.Trailers) > 0 {
		var names []string
		for _, t := range m.Trailers {
			if !strings.HasPrefix(t.Name, ":") && !framing(t.Name) && t.Name != "" {
				names = append(names, t.Name)
			}
		}
		if len(names) > 0 {
			b = appendHeader(b, "Trailer", strings.Join(names, ", "))
		}
		b = appendHeader(b, "Transfer-Encoding", "chunked")
		b = append(b, "\r\n"...)
		if len(m.Body) > 0 {
			b = strconv.AppendInt(b, int64(len(m.Body)), 16)
			b = append(b, "\r\n"...)
			b = append(b, m.Body...)
			b = append(b, "\r\n"...)
		}
		b = append(b, "0\r\n"...)
		for _, t := range m.Trailers {
			if strings.HasPrefix(t.Name, ":") || framing(t.Name) || t.Name == "" {
				continue
			}
			b = appendHeader(b, t.Name, t.Value)
		}
		return append(b, "\r\n"...)
	}
	if needsLength {
		b = appendHeader(b, "Content-Length", strconv.Itoa(len(m.Body)))
	}
	b = append(b, "\r\n"...)
	return append(b, m.Body...)
}

func appendHeader(b []byte, name, value string) []byte {
	b = append(b, clean(name)...)
	b = append(b, ": "...)
	b = append(b, clean(value)...)
	return append(b, "\r\n"...)
}

// appendToken appends a request-line token, percent-encoding controls
// and spaces, which would split the line.
func appendToken(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f {
			b = append(b, '%', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

// clean replaces CR and LF, which would end the line early: values from
// tap traces never passed an HTTP/1 parser.
func clean(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}
