// Package view turns message bodies into lines a person can read: pretty
// JSON, decoded forms, indented markup, raw protobuf, hex dumps. It is
// domain code: it knows nothing about terminals beyond display width, so
// the UI, tests and any text export can share it. Every line it returns has
// been through Sanitize.
package view

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Kind names a way of showing a body. The UI picks one with Detect and lets
// the user cycle through Kinds.
type Kind int

// Body views, in the order the UI cycles through them.
const (
	Hex Kind = iota
	Text
	JSON
	Form
	XML
	HTML
	Protobuf
)

// String returns the short lower-case name shown in the detail pane.
func (k Kind) String() string {
	switch k {
	case Hex:
		return "hex"
	case Text:
		return "text"
	case JSON:
		return "json"
	case Form:
		return "form"
	case XML:
		return "xml"
	case HTML:
		return "html"
	case Protobuf:
		return "protobuf"
	}
	return "unknown"
}

// Kinds lists every view in cycling order.
func Kinds() []Kind {
	return []Kind{Hex, Text, JSON, Form, XML, HTML, Protobuf}
}

// Detect chooses the view for a body from its media type (as returned by
// decode.Message.ContentType: lower-case, no parameters) and, when the type
// is missing or generic, from the bytes themselves. A body that claims to
// be text but is not valid UTF-8 is shown as hex.
func Detect(contentType string, body []byte) Kind {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	switch {
	case ct == "application/x-www-form-urlencoded":
		return textual(body, Form)
	case strings.HasSuffix(ct, "json") || strings.HasSuffix(ct, "+json") || ct == "application/x-ndjson":
		return textual(body, JSON)
	case ct == "text/html" || ct == "application/xhtml+xml":
		return textual(body, HTML)
	case strings.HasSuffix(ct, "/xml") || strings.HasSuffix(ct, "+xml"):
		return textual(body, XML)
	case strings.HasPrefix(ct, "application/grpc") || strings.Contains(ct, "protobuf") || ct == "application/x-google-protobuf":
		return Protobuf
	case strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript") || strings.Contains(ct, "yaml") ||
		strings.HasPrefix(ct, "multipart/"):
		return textual(body, Text)
	}
	return sniff(body)
}

// textual returns want when body could be text, Hex otherwise.
func textual(body []byte, want Kind) Kind {
	if looksBinary(body) {
		return Hex
	}
	return want
}

func sniff(body []byte) Kind {
	if len(body) == 0 {
		return Text
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		if _, ok := prettyJSON(body, 1); ok {
			return JSON
		}
	}
	if looksBinary(body) {
		if _, ok := DecodeRawProtobuf(body); ok {
			return Protobuf
		}
		return Hex
	}
	if len(trimmed) > 0 && trimmed[0] == '<' {
		head := bytes.ToLower(trimmed[:min(len(trimmed), 512)])
		if bytes.Contains(head, []byte("<html")) || bytes.Contains(head, []byte("<!doctype html")) {
			return HTML
		}
		return XML
	}
	return Text
}

// looksBinary reports whether body is not valid UTF-8 or holds control
// bytes other than whitespace. Only a prefix is examined; a truncated
// multi-byte rune at the end of the prefix is forgiven.
func looksBinary(body []byte) bool {
	p := body
	if len(p) > 4096 {
		p = p[:4096]
	}
	for i := 0; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && n <= 1 {
			if len(p) < len(body) && len(p)-i < utf8.UTFMax {
				return false
			}
			return true
		}
		i += n
	}
	return false
}

// Render shows body as kind, wrapped to width display cells (no wrapping
// when width <= 0). It returns the lines and the kind actually used: a body
// that does not parse as the requested kind falls back to Text, or to Hex
// when it is binary.
func Render(kind Kind, body []byte, width int) ([]string, Kind) {
	var lines []string
	used := kind
	switch kind {
	case JSON:
		var ok bool
		if lines, ok = prettyJSON(body, -1); !ok {
			lines, used = fallback(body)
		}
	case Form:
		if looksBinary(body) {
			lines, used = hexLines(body, width), Hex
		} else {
			lines = formLines(body)
		}
	case XML, HTML:
		if looksBinary(body) {
			lines, used = hexLines(body, width), Hex
		} else {
			lines = markupLines(body, kind == HTML)
		}
	case Protobuf:
		var ok bool
		if lines, ok = DecodeRawProtobuf(body); !ok {
			lines, used = hexLines(body, width), Hex
		}
	case Text:
		lines = textLines(body)
	default:
		return hexLines(body, width), Hex
	}
	if used == Hex {
		return lines, used
	}
	return wrapAll(lines, width), used
}

func fallback(body []byte) ([]string, Kind) {
	if looksBinary(body) {
		return hexLines(body, 0), Hex
	}
	return textLines(body), Text
}

// textLines splits text into sanitized lines with tabs expanded, so the
// terminal never sees a raw tab or carriage return.
func textLines(body []byte) []string {
	if len(body) == 0 {
		return nil
	}
	s := string(body)
	s = strings.TrimSuffix(s, "\n")
	raw := strings.Split(s, "\n")
	out := make([]string, 0, len(raw))
	for _, l := range raw {
		l = strings.TrimSuffix(l, "\r")
		out = append(out, Sanitize(expandTabs(l)))
	}
	return out
}

func expandTabs(s string) string {
	if strings.IndexByte(s, '\t') < 0 {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		if r == '\t' {
			n := 4 - col%4
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		}
		b.WriteRune(r)
		col++
	}
	return b.String()
}
