package http1

import (
	"bytes"
	"strings"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// framing is what the header block says about the body and the
// connection, gathered in the same pass that builds the header list.
type framing struct {
	contentLength int64 // -1 when absent
	badLength     bool  // unparsable or conflicting Content-Length
	hasTE         bool
	chunked       bool     // Transfer-Encoding ends with chunked
	teCodings     []string // transfer codings other than chunked, in order applied
	upgrade       string   // first Upgrade protocol, lower-case ("h2c", "websocket")
	contentEnc    string   // Content-Encoding values joined with ","
	host          string
	malformed     int // header lines that were neither fields nor folds
}

// parseHead builds a Message from a header block: the start line, header
// lines and (when complete) the empty line. The block is converted to one
// string so every name and value shares a single allocation. lines is
// the number of line ends in block when the caller counted them while
// finding its end, else 0.
func parseHead(block []byte, isRequest bool, lines int) (*decode.Message, framing) {
	str := string(block)
	f := framing{contentLength: -1}
	if lines <= 0 {
		lines = strings.Count(str, "\n")
	}
	m, hs := newMessage(lines)
	m.DecodedSize = -1

	nl := strings.IndexByte(str, '\n')
	first := str
	if nl >= 0 {
		first, str = str[:nl], str[nl+1:]
	} else {
		str = ""
	}
	first = trimCRString(first)
	if isRequest {
		// The line was validated, unless it is the fragment of a message
		// cut short; then the version may be missing or incomplete.
		sp := strings.IndexByte(first, ' ')
		if sp > 0 {
			m.Method = first[:sp]
			rest := first[sp+1:]
			m.Target = rest
			if sp2 := strings.IndexByte(rest, ' '); sp2 >= 0 {
				m.Target = rest[:sp2]
				if p := trimOWS(rest[sp2+1:]); isHTTP1([]byte(p)) {
					m.Proto = p
				}
			}
		}
	} else {
		m.Proto = first[:min(8, len(first))]
		if len(first) >= 12 {
			for _, c := range []byte(first[9:12]) {
				m.Status = m.Status*10 + int(c-'0')
			}
			m.Reason = trimOWS(first[12:])
		}
	}

	m.Headers = parseFields(str, hs, &f)
	m.Host = f.host
	if isRequest {
		if a := authority(m.Target); a != "" {
			m.Host = a
		}
	}
	if f.contentEnc != "" || len(f.teCodings) > 0 {
		m.ContentEncoding = codings(f.contentEnc)
		m.ContentEncoding = append(m.ContentEncoding, f.teCodings...)
	}
	return m, f
}

// Messages with their header lists: a message and up to 8, 12 or 16 header
// fields in one allocation instead of two (most messages have fewer than
// 16 fields). The header slice's capacity is exactly what the block can
// hold, as with a separate slice, so an append never writes into room a
// copy of the message could share.
type (
	message8 struct {
		m decode.Message
		h [8]decode.Header
	}
	message12 struct {
		m decode.Message
		h [12]decode.Header
	}
	message16 struct {
		m decode.Message
		h [16]decode.Header
	}
)

// newMessage returns a message and an empty header list with room for n
// fields (n counts the block's lines, an upper bound).
func newMessage(n int) (*decode.Message, []decode.Header) {
	switch {
	case n == 0:
		return &decode.Message{}, nil
	case n <= 8:
		a := &message8{}
		return &a.m, a.h[:0:n]
	case n <= 12:
		a := &message12{}
		return &a.m, a.h[:0:n]
	case n <= 16:
		a := &message16{}
		return &a.m, a.h[:0:n]
	}
	return &decode.Message{}, make([]decode.Header, 0, n)
}

// commonCodings are shared, read-only coding lists for the values nearly
// every compressed message carries, so they cost no allocation. Their
// capacity equals their length: an append copies.
var commonCodings = map[string][]string{
	"gzip": {"gzip"}, "br": {"br"}, "deflate": {"deflate"}, "zstd": {"zstd"}, "chunked": {"chunked"}, "identity": {"identity"},
}

// codings is body.Codings without the allocation for one common coding
// written in lower case.
func codings(value string) []string {
	if c, ok := commonCodings[value]; ok {
		return c[:len(c):len(c)]
	}
	return body.Codings(value)
}

// parseFields appends the field lines of s (one per line, obs-fold
// continuation lines joined to the previous value) to hs and records
// framing facts in f.
func parseFields(s string, hs []decode.Header, f *framing) []decode.Header {
	for len(s) > 0 {
		var line string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			line, s = s, ""
		}
		line = trimCRString(line)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Obsolete line folding (RFC 9112 §5.2): the line continues the
			// previous field value.
			if len(hs) > 0 {
				h := &hs[len(hs)-1]
				h.Value = trimOWS(h.Value + " " + trimOWS(line))
				f.note(h.Name, h.Value, true)
			} else {
				f.malformed++
			}
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			f.malformed++
			continue
		}
		h := decode.Header{Name: trimOWS(line[:colon]), Value: trimOWS(line[colon+1:])}
		hs = append(hs, h)
		f.note(h.Name, h.Value, false)
	}
	return hs
}

// note records the framing-relevant fields. fold is set when value
// replaces an earlier, folded version of the same field.
func (f *framing) note(name, value string, fold bool) {
	switch len(name) {
	case 4:
		if decode.EqualFoldASCII(name, "host") && (f.host == "" || fold) {
			f.host = value
		}
	case 7:
		if decode.EqualFoldASCII(name, "upgrade") && (f.upgrade == "" || fold) {
			f.upgrade = firstToken(value)
		}
	case 14:
		if decode.EqualFoldASCII(name, "content-length") {
			f.noteLength(value, fold)
		}
	case 16:
		if decode.EqualFoldASCII(name, "content-encoding") {
			if f.contentEnc == "" || fold {
				f.contentEnc = value
			} else {
				f.contentEnc += "," + value
			}
		}
	case 17:
		if decode.EqualFoldASCII(name, "transfer-encoding") {
			f.noteTE(value, fold)
		}
	}
}

// noteLength parses Content-Length, accepting a list of identical values
// (RFC 9110 §8.6) and flagging anything else.
func (f *framing) noteLength(value string, fold bool) {
	if fold {
		f.contentLength, f.badLength = -1, false
	}
	for len(value) > 0 {
		item := value
		if i := strings.IndexByte(value, ','); i >= 0 {
			item, value = value[:i], value[i+1:]
		} else {
			value = ""
		}
		n, ok := parseDecimal(trimOWS(item))
		if !ok {
			f.badLength = true
			return
		}
		if f.contentLength >= 0 && f.contentLength != n {
			f.badLength = true
			return
		}
		f.contentLength = n
	}
}

// noteTE records Transfer-Encoding: chunked must be the last coding to
// delimit the body; others are transfer codings to undo after de-chunking.
func (f *framing) noteTE(value string, fold bool) {
	if fold {
		f.chunked, f.teCodings = false, nil
	}
	f.hasTE = true
	for _, c := range codings(value) {
		if f.chunked {
			// chunked followed by more codings: the body is not
			// chunk-delimited after all (RFC 9112 §6.3).
			f.chunked = false
			f.teCodings = append(f.teCodings, "chunked")
		}
		if c == "chunked" {
			f.chunked = true
		} else if c != "identity" {
			f.teCodings = append(f.teCodings, c)
		}
	}
}

// parseDecimal parses a non-negative decimal without sign or spaces,
// bounded well below int64 overflow.
func parseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// authority returns the host[:port] of an absolute-form target
// ("http://host/path") or an authority-form CONNECT target ("host:443").
func authority(target string) string {
	if i := strings.Index(target, "://"); i > 0 {
		rest := target[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			rest = rest[:j]
		}
		if k := strings.LastIndexByte(rest, '@'); k >= 0 {
			rest = rest[k+1:]
		}
		return rest
	}
	if target != "" && target[0] != '/' && target != "*" && strings.IndexByte(target, ':') > 0 && !strings.ContainsAny(target, "/?") {
		return target
	}
	return ""
}

// firstToken returns the first comma-separated item of v, lower-cased,
// without a version suffix ("WebSocket" -> "websocket", "h2c").
func firstToken(v string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	v = trimOWS(v)
	if i := strings.IndexByte(v, '/'); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(v)
}

func trimCRString(s string) string {
	if len(s) > 0 && s[len(s)-1] == '\r' {
		return s[:len(s)-1]
	}
	return s
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// headerEnd finds the end of a header block in b, starting the search at
// from (an offset where a line starts). It returns the offset just past
// the terminating empty line, or -1 and the offset of the first
// unterminated line so a later call can resume without rescanning. lines
// counts the line ends it passed (the empty line's too), which saves
// parseHead counting them again to size the header list.
func headerEnd(b []byte, from int) (end, resume, lines int) {
	i := from
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1, i, lines
		}
		lines++
		if j == 0 || (j == 1 && b[i] == '\r') {
			return i + j + 1, i, lines
		}
		i += j + 1
	}
}
