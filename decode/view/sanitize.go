package view

import (
	"strings"
	"unicode/utf8"
)

// Sanitize makes a string from the wire safe to print on a terminal. Bytes
// and runes that a terminal would interpret instead of printing become
// visible escapes, so a hostile header cannot move the cursor, retitle the
// window or reorder text:
//
//   - C0 controls and DEL: \t \n \r, other as \x1b-style
//   - C1 controls (U+0080..U+009F): \u0085-style
//   - bidi embeddings, overrides, isolates and marks, and the line and
//     paragraph separators: \u202e-style
//   - bytes that are not valid UTF-8: \xff-style
//
// Everything else, including backslashes and wide characters, is kept. The
// common case (printable ASCII) returns s without allocating.
func Sanitize(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	if cleanFrom(s, i) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			writeASCII(&b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			writeHexByte(&b, `\x`, c)
		case unsafeRune(r):
			writeRuneEscape(&b, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// cleanFrom reports whether s[i:] needs no escaping, so strings with
// harmless non-ASCII text are returned without a copy.
func cleanFrom(s string, i int) bool {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || unsafeRune(r) {
			return false
		}
		i += n
	}
	return true
}

func writeASCII(b *strings.Builder, c byte) {
	switch {
	case c == '\t':
		b.WriteString(`\t`)
	case c == '\n':
		b.WriteString(`\n`)
	case c == '\r':
		b.WriteString(`\r`)
	case c < 0x20 || c == 0x7f:
		writeHexByte(b, `\x`, c)
	default:
		b.WriteByte(c)
	}
}

// unsafeRune reports runes a terminal interprets or that reorder the text
// around them.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f: // C1 controls, incl. CSI (0x9b) and OSC (0x9d)
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f: // ALM, LRM, RLM
		return true
	case r >= 0x202a && r <= 0x202e: // LRE, RLE, PDF, LRO, RLO
		return true
	case r >= 0x2066 && r <= 0x2069: // LRI, RLI, FSI, PDI
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}

const hexDigits = "0123456789abcdef"

func writeHexByte(b *strings.Builder, prefix string, c byte) {
	b.WriteString(prefix)
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&0xf])
}

func writeRuneEscape(b *strings.Builder, r rune) {
	b.WriteString(`\u`)
	for shift := 12; shift >= 0; shift -= 4 {
		b.WriteByte(hexDigits[(r>>uint(shift))&0xf])
	}
}
