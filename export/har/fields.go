package har

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/internal/jsonword"
)

// binaryTypes are media types whose bodies are binary by definition.
var binaryTypes = [...]string{"image/", "audio/", "video/", "font/", "application/octet-stream", "application/grpc",
	"application/protobuf", "application/x-protobuf", "application/zip", "application/gzip", "application/pdf"}

// binaryType reports whether a media type is binary by definition.
func binaryType(mime string) bool {
	mt := strings.ToLower(mime) // no copy when already lower case
	for _, bin := range binaryTypes {
		if strings.HasPrefix(mt, bin) {
			return true
		}
	}
	return false
}

// isText reports whether a body can be shown as text: valid UTF-8
// without control characters other than whitespace, and not of a media
// type that is binary by definition. appendText checks the same while
// it quotes.
func isText(mime string, data []byte) bool {
	if binaryType(mime) {
		return false
	}
	for i := 0; i < len(data); {
		for i+8 <= len(data) && jsonword.Plain8(jsonword.Load8Bytes(data, i)) {
			i += 8
		}
		if i >= len(data) {
			break
		}
		if c := data[i]; c < 0x80 {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		i += size
	}
	return true
}

// appendRequestURL appends the absolute URL of the request, escaped by
// escapeURL (so it needs no JSON escaping), without quotes.
func appendRequestURL(b []byte, e *decode.Exchange) []byte {
	m := e.Request
	target := m.Target
	if hasPrefixFold(target, "http://") || hasPrefixFold(target, "https://") {
		return appendEscapedURL(b, target)
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
	b = appendEscapedURL(b, scheme)
	b = append(b, "://"...)
	if m.Method == "CONNECT" {
		return appendEscapedURL(b, target)
	}
	b = appendEscapedURL(b, host)
	if !strings.HasPrefix(target, "/") {
		b = append(b, '/')
		target = strings.TrimPrefix(target, "*")
	}
	return appendEscapedURL(b, target)
}

// hasPrefixFold reports whether s starts with the lower-case ASCII
// prefix in any case: strings.HasPrefix(strings.ToLower(s), prefix)
// without the copy. The two agree because the only non-ASCII runes that
// lower-case to ASCII are U+0130 (i) and U+212A (k), which the prefixes
// used here do not hold.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// appendEscapedURL percent-encodes what a URI cannot hold as is
// (spaces, controls, non-ASCII such as the mask's bullets), keeping the
// rest. It works byte by byte, so the parts of a URL can be appended one
// after the other.
func appendEscapedURL(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}' {
			b = append(b, s[start:i]...)
			b = append(b, '%', hex[c>>4], hex[c&15])
			start = i + 1
		}
	}
	return append(b, s[start:]...)
}

// cookie is a HAR cookie object.
type cookie struct {
	name, value, path, domain, expires string
	httpOnly, secure                   bool
}

func (c cookie) append(b []byte) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, c.name)
	b = append(b, `,"value":`...)
	b = appendString(b, c.value)
	for _, f := range [...]struct{ key, v string }{{`,"path":`, c.path}, {`,"domain":`, c.domain}, {`,"expires":`, c.expires}} {
		if f.v != "" {
			b = append(b, f.key...)
			b = appendString(b, f.v)
		}
	}
	if c.httpOnly {
		b = append(b, `,"httpOnly":true`...)
	}
	if c.secure {
		b = append(b, `,"secure":true`...)
	}
	return append(b, '}')
}

// appendRequestCookies appends the pairs of a Cookie header as cookie
// objects after n others, returning the new count.
func appendRequestCookies(b []byte, v string, n int) ([]byte, int) {
	for part := range strings.SplitSeq(v, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		b = appendComma(b, n)
		b = cookie{name: strings.TrimSpace(name), value: strings.TrimSpace(value)}.append(b)
		n++
	}
	return b, n
}

// setCookie parses a Set-Cookie value: the first pair, then attributes.
func setCookie(v string) (cookie, bool) {
	first, attrs, more := strings.Cut(v, ";")
	name, value, ok := strings.Cut(strings.TrimSpace(first), "=")
	if !ok || strings.TrimSpace(name) == "" {
		return cookie{}, false
	}
	c := cookie{name: strings.TrimSpace(name), value: strings.TrimSpace(value)}
	if !more {
		return c, true
	}
	for a := range strings.SplitSeq(attrs, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(a), "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "path":
			c.path = val
		case "domain":
			c.domain = val
		case "expires":
			if t, err := http.ParseTime(val); err == nil {
				c.expires = t.UTC().Format("2006-01-02T15:04:05.000Z")
			}
		case "httponly":
			c.httpOnly = true
		case "secure":
			c.secure = true
		}
	}
	return c, true
}
