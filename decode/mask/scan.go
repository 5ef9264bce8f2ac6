package mask

import (
	"bytes"
	"slices"
	"strings"
)

// headerStyle says which part of a credential header's value is secret.
type headerStyle uint8

const (
	styleWhole     headerStyle = iota // the whole value
	styleAuth                         // after the scheme: "Bearer <secret>"
	styleCookie                       // every cookie value: "a=<secret>; b=<secret>"
	styleSetCookie                    // the first pair's value; attributes stay
)

func styleOf[T string | []byte](name T) headerStyle {
	switch {
	case equalFold(name, "authorization"), equalFold(name, "proxy-authorization"):
		return styleAuth
	case equalFold(name, "cookie"):
		return styleCookie
	case equalFold(name, "set-cookie"):
		return styleSetCookie
	}
	return styleWhole
}

// headerValue appends the secret spans of a header value v (OWS already
// trimmed) at offset base, when the header's name is secret.
func (m *Masker) headerValue(sc *scratch, name, v []byte, base int, out []span) []span {
	if len(v) == 0 || !secretHeaderName(m, sc, name) {
		return out
	}
	return headerSpans(name, v, base, out)
}

// headerSpans appends the secret spans of the value v of a secret header.
func headerSpans[T string | []byte](name T, v []byte, base int, out []span) []span {
	if len(v) == 0 {
		return out
	}
	switch styleOf(name) {
	case styleAuth:
		// "Scheme credentials": keep the scheme when there is one.
		if i := bytes.IndexByte(v, ' '); i > 0 && isSchemeWord(v[:i]) {
			j := i
			for j < len(v) && v[j] == ' ' {
				j++
			}
			if j < len(v) {
				return append(out, span{base + j, base + len(v)})
			}
			return out
		}
	case styleCookie, styleSetCookie:
		for i := 0; i < len(v); {
			end := bytes.IndexByte(v[i:], ';')
			if end < 0 {
				end = len(v)
			} else {
				end += i
			}
			lo := i
			if eq := bytes.IndexByte(v[i:end], '='); eq >= 0 {
				lo = i + eq + 1
			}
			for lo < end && v[lo] == ' ' {
				lo++
			}
			hi := end
			for hi > lo && v[hi-1] == ' ' {
				hi--
			}
			if hi > lo {
				out = append(out, span{base + lo, base + hi})
			}
			if styleOf(name) == styleSetCookie {
				return out
			}
			i = end + 1
		}
		return out
	}
	return append(out, span{base, base + len(v)})
}

// isSchemeWord reports whether w looks like an auth scheme ("Bearer",
// "Basic", "Digest", "AWS4-HMAC-SHA256").
func isSchemeWord(w []byte) bool {
	if len(w) > 32 || !isLetter(w[0]) {
		return false
	}
	for _, c := range w {
		if !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// scanHeaderLines finds "Name: value" lines (raw HTTP/1 headers, multipart
// part headers, header dumps in logs) whose name is secret.
func (m *Masker) scanHeaderLines(sc *scratch, b []byte, out []span) []span {
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && isTchar(b[j]) {
			j++
		}
		if j > i && j < len(b) && b[j] == ':' {
			lo := j + 1
			for lo < len(b) && (b[lo] == ' ' || b[lo] == '\t') {
				lo++
			}
			hi := lo
			for hi < len(b) && b[hi] != '\r' && b[hi] != '\n' {
				hi++
			}
			end := hi
			for end > lo && (b[end-1] == ' ' || b[end-1] == '\t') {
				end--
			}
			out = m.headerValue(sc, b[i:j], b[lo:end], lo, out)
			i = hi
		}
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			return out
		}
		i += nl + 1
	}
	return out
}

// isParamNameChar reports characters of parameter names, '%' included
// because names arrive percent-encoded ("api%5Fkey") and are decoded
// before they are matched.
func isParamNameChar(c byte) bool {
	return isAlnum(c) || c == '_' || c == '-' || c == '.' || c == '[' || c == ']' || c == '%'
}

// isValueEnd reports characters that end a parameter value in query
// strings, forms, cookies and the text around them.
func isValueEnd(c byte) bool {
	switch c {
	case '&', ';', '"', '\'', '#', '<', '>', '\\':
		return true
	}
	return c <= ' ' || c == 0x7f
}

// scanParams finds name=value pairs (query strings, URL-encoded forms, and
// the same shape inside JSON strings or logs) whose name is secret.
func (m *Masker) scanParams(sc *scratch, b []byte, out []span) []span {
	for i := 0; i < len(b); {
		k := bytes.IndexByte(b[i:], '=')
		if k < 0 {
			return out
		}
		eq := i + k
		i = eq + 1
		if eq+1 < len(b) && b[eq+1] == '=' {
			i = eq + 2 // "==", a comparison or base64 padding
			continue
		}
		if eq > 0 && strings.IndexByte("=!<>", b[eq-1]) >= 0 {
			continue
		}
		lo := eq
		for lo > 0 && eq-lo < 128 && isParamNameChar(b[lo-1]) {
			lo--
		}
		if lo == eq || !m.secretName(sc, b[lo:eq], false) {
			continue
		}
		hi := eq + 1
		for hi < len(b) && !isValueEnd(b[hi]) {
			hi++
		}
		if hi > eq+1 {
			out = append(out, span{eq + 1, hi})
			i = hi
		}
	}
	return out
}

// jsonString returns the end of the JSON string whose opening quote is
// at i (the index of the closing quote, or of a raw line break), or
// len(b) when it never closes.
// With escaped set, the string is itself inside a JSON string and is
// delimited by \" pairs.
func jsonString(b []byte, i int, escaped bool) int {
	if escaped {
		k := bytes.Index(b[i+2:], []byte(`\"`))
		if k < 0 {
			return len(b)
		}
		return i + 2 + k
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"', '\n', '\r':
			// A raw line break cannot be inside a JSON string: the text
			// is not JSON, and masking stops at the line's end.
			return j
		}
	}
	return len(b)
}

// isJSONDelim reports bytes that end a bare JSON value.
func isJSONDelim(c byte) bool {
	switch c {
	case ',', '}', ']', '"', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

func isNumberChar(c byte) bool {
	return isDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// scanJSON finds the values of JSON object members whose key is secret, at
// any depth, and JSON that was escaped into a string ("{\"password\":
// \"x\"}"). It is tolerant: it works on fragments (a packet's payload,
// a truncated body) and on text that only contains some JSON.
func (m *Masker) scanJSON(sc *scratch, b []byte, out []span) []span {
	for i := 0; i < len(b); {
		k := bytes.IndexByte(b[i:], ':')
		if k < 0 {
			return out
		}
		colon := i + k
		i = colon + 1
		q := colon - 1
		for q >= 0 && (b[q] == ' ' || b[q] == '\t' || b[q] == '\r' || b[q] == '\n') {
			q--
		}
		if q < 1 || b[q] != '"' {
			continue
		}
		escaped := b[q-1] == '\\'
		closing := q
		if escaped {
			closing = q - 1
		}
		// Keys are short and, being JSON strings, hold no raw control
		// characters; anything else is not a key.
		open := closing - 1
		for open >= 0 && closing-open <= 128 && b[open] != '"' && b[open] >= ' ' {
			open--
		}
		if open >= 0 && b[open] != '"' {
			continue
		}
		if open < 0 || closing-open > 128 {
			continue
		}
		keyLo := open + 1
		if escaped {
			if open == 0 || b[open-1] != '\\' {
				continue
			}
		}
		if !m.secretName(sc, b[keyLo:closing], true) {
			continue
		}
		v := colon + 1
		for v < len(b) && (b[v] == ' ' || b[v] == '\t' || b[v] == '\r' || b[v] == '\n') {
			v++
		}
		if v >= len(b) {
			return out
		}
		switch c := b[v]; {
		case escaped && c == '\\' && v+1 < len(b) && b[v+1] == '"':
			end := jsonString(b, v, true)
			if end > v+2 {
				out = append(out, span{v + 2, end})
			}
			i = end
		case c == '"':
			end := jsonString(b, v, false)
			if end > v+1 {
				out = append(out, span{v + 1, end})
			}
			i = end
		case isDigit(c) || c == '-':
			// A bare value: the whole token up to a JSON delimiter, so a
			// malformed number hides all of itself.
			end := v
			for end < len(b) && !isJSONDelim(b[end]) {
				end++
			}
			out = append(out, span{v, end})
			i = end
		case c == '{' || c == '[':
			// Keep scanning inside: members of the container are
			// checked as keys too (spans merge later).
			out, _ = jsonContainer(b, v, out)
			i = v + 1
		}
	}
	return out
}

// jsonContainer masks every string value and number inside the object
// or array opening at v (keys stay, so the shape stays readable) and
// returns the offset after it.
func jsonContainer(b []byte, v int, out []span) ([]span, int) {
	depth := 0
	for j := v; j < len(b); j++ {
		switch c := b[j]; {
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return out, j + 1
			}
		case c == '"':
			end := jsonString(b, j, false)
			n := end + 1
			for n < len(b) && (b[n] == ' ' || b[n] == '\t' || b[n] == '\r' || b[n] == '\n') {
				n++
			}
			isKey := n < len(b) && b[n] == ':'
			if !isKey && end > j+1 {
				out = append(out, span{j + 1, end})
			}
			j = end
		case isDigit(c) || c == '-':
			end := j
			for end < len(b) && !isJSONDelim(b[end]) {
				end++
			}
			out = append(out, span{j, end})
			j = end - 1
		}
	}
	return out, len(b)
}

// scanMultipart finds the values of multipart/form-data fields whose name is
// secret: the bytes between the part's blank line and the next boundary.
// File parts are left to the pattern rules.
func (m *Masker) scanMultipart(sc *scratch, b []byte, out []span) []span {
	for i := 0; ; {
		k := indexFold(b, i, "content-disposition:")
		if k < 0 {
			return out
		}
		lineEnd := bytes.IndexByte(b[k:], '\n')
		if lineEnd < 0 {
			return out
		}
		line := b[k : k+lineEnd]
		i = k + lineEnd
		plain, ext, file := dispositionName(sc, line)
		if file || !m.secretName(sc, plain, false) && !m.secretName(sc, ext, false) {
			continue
		}
		rest := b[k:]
		blank, skip := bytes.Index(rest, []byte("\r\n\r\n")), 4
		if lf := bytes.Index(rest, []byte("\n\n")); lf >= 0 && (blank < 0 || lf < blank) {
			blank, skip = lf, 2
		}
		if blank < 0 {
			return out
		}
		lo := k + blank + skip
		hi := len(b)
		if e := bytes.Index(b[lo:], []byte("\n--")); e >= 0 {
			hi = lo + e
			if hi > lo && b[hi-1] == '\r' {
				hi--
			}
		}
		if hi > lo {
			out = append(out, span{lo, hi})
		}
		i = hi
	}
}

// scan appends every secret span in b, from all rules. It reads b only.
// Scanners that cannot match b (see prefilter.go) are skipped.
func (m *Masker) scan(sc *scratch, b []byte, out []span) []span {
	f := featuresFor(m, b)
	if f.has(needHeaderLines) {
		out = m.scanHeaderLines(sc, b, out)
	}
	if f.has(needMultipart) {
		out = m.scanMultipart(sc, b, out)
	}
	return m.scanValue(sc, b, f, out)
}

// scanValue appends the spans of the rules that apply to any value:
// parameters, JSON members and value patterns. f is featuresOf(b).
func (m *Masker) scanValue(sc *scratch, b []byte, f features, out []span) []span {
	if f.has(needParams) {
		out = m.scanParams(sc, b, out)
	}
	if f.has(needJSON) {
		out = m.scanJSON(sc, b, out)
	}
	for i := range m.patterns {
		if p := &m.patterns[i]; p.may(f) {
			out = p.find(b, out)
		}
	}
	return out
}

// mayValue reports whether scanValue can find anything in a value with
// features f.
func (m *Masker) mayValue(f features) bool {
	if f.has(needParams) || f.has(needJSON) {
		return true
	}
	for i := range m.patterns {
		if m.patterns[i].may(f) {
			return true
		}
	}
	return false
}

// mayScan reports whether scan can find anything in a value with
// features f.
func (m *Masker) mayScan(f features) bool {
	return f.has(needHeaderLines) || f.has(needMultipart) || m.mayValue(f)
}

// featuresFor returns b's features, or, with m's prefilters off,
// features that let every scanner run.
func featuresFor[T string | []byte](m *Masker, b T) features {
	if m.slow {
		return everything
	}
	return featuresOf(b)
}

// merge sorts spans and joins overlapping ones, in place.
func merge(spans []span) []span {
	if len(spans) < 2 {
		return spans
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo - b.lo })
	w := 0
	for _, s := range spans[1:] {
		if s.lo < spans[w].hi {
			spans[w].hi = max(spans[w].hi, s.hi)
			continue
		}
		w++
		spans[w] = s
	}
	return spans[:w+1]
}

// bareNumber reports whether span s of b is a JSON number standing as a
// value (after ':' '[' or ',', before ',' '}' ']' or the end), which
// must stay a valid JSON value when masked.
func bareNumber(b []byte, s span) bool {
	if !isDigit(b[s.lo]) && b[s.lo] != '-' {
		return false
	}
	for _, c := range b[s.lo:s.hi] {
		if !isNumberChar(c) {
			return false
		}
	}
	p := s.lo - 1
	for p >= 0 && (b[p] == ' ' || b[p] == '\t' || b[p] == '\r' || b[p] == '\n') {
		p--
	}
	if p < 0 || b[p] != ':' && b[p] != '[' && b[p] != ',' {
		return false
	}
	n := s.hi
	for n < len(b) && (b[n] == ' ' || b[n] == '\t' || b[n] == '\r' || b[n] == '\n') {
		n++
	}
	return n == len(b) || b[n] == ',' || b[n] == '}' || b[n] == ']'
}

// fill overwrites merged spans in place keeping the length: '*' for
// text, "0" and spaces for a bare JSON number so JSON stays JSON.
func fill(b []byte, spans []span) {
	for _, s := range spans {
		if bareNumber(b, s) {
			b[s.lo] = '0'
			for i := s.lo + 1; i < s.hi; i++ {
				b[i] = ' '
			}
			continue
		}
		for i := s.lo; i < s.hi; i++ {
			b[i] = '*'
		}
	}
}

// Display is what a masked value reads as in views, HAR and JSON.
const Display = "••••••••"

// render returns b with merged spans replaced by Display (quoted for a
// bare JSON number, so JSON stays JSON).
func render(b []byte, spans []span) []byte {
	out := make([]byte, 0, len(b)+len(spans)*len(Display))
	last := 0
	for _, s := range spans {
		out = append(out, b[last:s.lo]...)
		if bareNumber(b, s) {
			out = append(out, '"')
			out = append(out, Display...)
			out = append(out, '"')
		} else {
			out = append(out, Display...)
		}
		last = s.hi
	}
	return append(out, b[last:]...)
}
