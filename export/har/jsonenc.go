package har

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/tapview/tapview/internal/jsonword"
)

// The JSON primitives of the entry encoder. They write exactly what
// encoding/json wrote for the HAR structs before (an Encoder with
// SetEscapeHTML(false)), so files stay byte for byte the same; the
// oracle test (oracle_test.go) holds them to that.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does
// without HTML escaping: '"' and '\\' and control characters escaped
// (\b \f \n \r \t short, the rest \u00XX), invalid UTF-8 as \ufffd,
// U+2028 and U+2029 as \u2028 and \u2029, everything else as is.
func appendString(b []byte, s string) []byte {
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
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = appendEscape(b, c)
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
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendEscape appends the escape encoding/json writes for an ASCII
// byte that needs one.
func appendEscape(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendText appends data as a JSON string when it is text in isText's
// sense (valid UTF-8 without control characters other than tab, CR and
// LF, and without DEL) and reports whether it was; when it was not, b
// is returned as it came. Checking and quoting in one pass reads a body
// once instead of three times (UTF-8 check, control scan, quoting).
func appendText(b []byte, data []byte) ([]byte, bool) {
	orig := len(b)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(data); {
		for i+8 <= len(data) && jsonword.Plain8(jsonword.Load8Bytes(data, i)) {
			i += 8
		}
		if i >= len(data) {
			break
		}
		c := data[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c != '"' && c != '\\' && c != 0x7f:
				i++
				continue
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				b = append(b, data[start:i]...)
				b = appendEscape(b, c)
				i++
				start = i
				continue
			}
			return b[:orig], false // a control character or DEL
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return b[:orig], false
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, data[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	b = append(b, data[start:]...)
	return append(b, '"'), true
}

// appendFloat appends f as encoding/json writes a float64: like
// ECMAScript, the shortest decimal that reads back, in exponent form
// below 1e-6 and from 1e21 on, exponents without padding. f must be
// finite.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
