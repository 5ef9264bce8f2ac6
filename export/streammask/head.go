package streammask

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// httpHead is a parsed HTTP/1 head: the first word (method) or status,
// and the header fields the walk reads. Its byte slices point into the
// head it was parsed from and are valid until that is reused; one
// httpHead is reused for every head of a direction (h1.hd): parsing
// allocated a head, the first line's words and a string per kept field
// for every message, a quarter of the follower's CPU on a keep-alive
// capture.
type httpHead struct {
	first  []byte
	status int
	fields []headField
	// join holds get's result when a field occurs more than once.
	join []byte
}

// headField is one kept field: its name (one of headFields) and its
// value, trimmed as strings.TrimSpace trims.
type headField struct {
	name  string
	value []byte
}

// parseHead parses the head b into hd, dropping what hd held.
func parseHead(hd *httpHead, b []byte) {
	hd.first, hd.status, hd.fields = nil, 0, hd.fields[:0]
	for i := 0; len(b) > 0 || i == 0; i++ {
		l := b
		if j := bytes.IndexByte(b, '\n'); j >= 0 {
			l, b = b[:j], b[j+1:]
		} else {
			b = nil
		}
		l = bytes.TrimRight(l, "\r")
		if i == 0 {
			hd.firstLine(l)
			continue
		}
		if len(l) == 0 || skipName(l[0]) {
			continue
		}
		k := bytes.IndexByte(l, ':')
		if k <= 0 {
			continue
		}
		if name := headName(l[:k]); name != "" {
			hd.fields = append(hd.fields, headField{name, bytes.TrimSpace(l[k+1:])})
		}
	}
}

// firstLine reads the method or the status from the start line l as
// strings.Fields would split it: its first word, and for a response
// ("HTTP/...") the second as a number (strconv.Atoi's, errors included).
func (hd *httpHead) firstLine(l []byte) {
	// Split at ASCII spaces; the words are right unless one of them
	// holds a non-ASCII byte (which may be a Unicode space).
	var w [2][]byte
	n := 0
	for i := 0; i < len(l) && n < 2; {
		for i < len(l) && asciiSpace(l[i]) {
			i++
		}
		j := i
		for j < len(l) && !asciiSpace(l[j]) {
			j++
		}
		if j > i {
			w[n] = l[i:j]
			n++
		}
		i = j
	}
	if !ascii(w[0]) || !ascii(w[1]) {
		words := strings.Fields(string(l))
		w = [2][]byte{}
		if len(words) > 0 {
			w[0] = []byte(words[0])
		}
		if len(words) > 1 {
			w[1] = []byte(words[1])
		}
	}
	hd.first = w[0]
	if w[1] != nil && bytes.HasPrefix(w[0], []byte("HTTP/")) {
		hd.status = headAtoi(w[1])
	}
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// headAtoi is strconv.Atoi's value for w, ignoring its error, without a
// string for the usual short run of digits.
func headAtoi(w []byte) int {
	if n, ok := digits(w); ok {
		return int(n)
	}
	n, _ := strconv.Atoi(string(w))
	return n
}

// parseLength is strconv.ParseInt(v, 10, 64) without a string for the
// usual short run of digits.
func parseLength(v []byte) (int64, error) {
	if n, ok := digits(v); ok {
		return n, nil
	}
	return strconv.ParseInt(string(v), 10, 64)
}

// digits parses 1 to 18 ASCII digits (no sign), which cannot overflow.
func digits(w []byte) (int64, bool) {
	if len(w) == 0 || len(w) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range w {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// method returns the first word as a string, without allocating for
// the common methods (requests keep it until their response).
func (hd *httpHead) method() string {
	for _, m := range [...]string{"GET", "POST", "PUT", "HEAD", "DELETE", "PATCH", "OPTIONS", "CONNECT"} {
		if string(hd.first) == m {
			return m
		}
	}
	return string(hd.first)
}

// release drops hd's references into the head it was parsed from,
// which may be a captured packet's bytes: a reused httpHead must not
// keep them (and what they were cut from) alive.
func (hd *httpHead) release() {
	clear(hd.fields)
	hd.first, hd.fields = nil, hd.fields[:0]
}

// skipName reports whether a line starting with c cannot hold one of
// headFields: c is an ASCII letter (so the name, trimmed and lower
// cased, starts with it) that starts none of them.
func skipName(c byte) bool {
	switch c | 0x20 {
	case 'c', 'u', 's', 't':
		return false
	}
	return c|0x20 >= 'a' && c|0x20 <= 'z'
}

// headFields are the fields the walk reads (httpHead.get and has).
var headFields = [...]string{"connection", "upgrade", "sec-websocket-extensions", "transfer-encoding", "content-length", "content-encoding"}

// headName returns the field name n as parseHead keeps it (trimmed,
// lower case) when it is one of headFields, else "": the walk reads six
// fields, and a string for every name and value of every head was a
// tenth of an export's CPU.
func headName(n []byte) string {
	n = bytes.TrimSpace(n)
	for _, c := range n {
		if c >= utf8.RuneSelf {
			// Unicode case folding may map other letters to these names.
			name := strings.ToLower(string(n))
			for _, f := range headFields {
				if name == f {
					return f
				}
			}
			return ""
		}
	}
	for _, f := range headFields {
		if len(n) == len(f) && asciiEqualFold(n, f) {
			return f
		}
	}
	return ""
}

func asciiEqualFold(b []byte, lower string) bool {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// get returns the named field's values joined with ", " (nil when it is
// absent). The result is valid until the next get or has.
func (hd *httpHead) get(name string) []byte {
	var one []byte
	n := 0
	for _, f := range hd.fields {
		if f.name != name {
			continue
		}
		if n == 0 {
			one = f.value
			if one == nil {
				one = []byte{}
			}
		} else {
			if n == 1 {
				hd.join = append(hd.join[:0], one...)
			}
			hd.join = append(hd.join, ", "...)
			hd.join = append(hd.join, f.value...)
		}
		n++
	}
	if n > 1 {
		return hd.join
	}
	return one
}

// has reports whether a comma-separated field lists token.
func (hd *httpHead) has(name, token string) bool {
	v := hd.get(name)
	for {
		t := v
		i := bytes.IndexByte(v, ',')
		if i >= 0 {
			t = v[:i]
		}
		if bytes.EqualFold(bytes.TrimSpace(t), []byte(token)) {
			return true
		}
		if i < 0 {
			return false
		}
		v = v[i+1:]
	}
}

// containsFold reports whether strings.ToLower(v) contains the lower
// case ASCII word w.
func containsFold(v []byte, w string) bool {
	for _, c := range v {
		if c >= utf8.RuneSelf {
			return strings.Contains(strings.ToLower(string(v)), w)
		}
	}
	for i := 0; i+len(w) <= len(v); i++ {
		if asciiEqualFold(v[i:i+len(w)], w) {
			return true
		}
	}
	return false
}
