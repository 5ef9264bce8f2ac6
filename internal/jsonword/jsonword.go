// Package jsonword holds the word-at-a-time test the JSON encoders
// (export/jsonl, export/har) use to skip runs of bytes that need no
// escaping: most of a header value, URL or JSON body is plain printable
// ASCII, and testing eight bytes per step instead of one is a large
// part of what makes quoting cheap. The encoders differ in what they
// escape beyond that (HAR matches encoding/json byte for byte, JSON
// Lines also escapes C1 controls and bidi overrides), so only the plain
// run test is shared.
package jsonword

import "encoding/binary"

// Load8 reads s[i:i+8] as a little-endian word (the compiler makes this
// one load).
func Load8(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Load8Bytes is Load8 for a byte slice.
func Load8Bytes(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i:]) }

// Plain8 reports whether none of the eight bytes in w needs escaping:
// each is printable ASCII (0x20-0x7e) other than '"' and '\\' (DEL
// counts as not plain, so the byte loops that follow see it). Each test
// is the classic "does any byte ..." bit trick; they are exact (no byte
// that needs care is missed, none is flagged for a neighbour's borrow
// or carry), which TestPlain8 checks against a byte loop.
func Plain8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := (w - 0x20*ones) &^ w & highs // a byte < 0x20
	high := (w | (w + ones)) & highs      // a byte >= 0x7f (0x7f+1 sets the high bit)
	q := w ^ ('"' * ones)
	quote := (q - ones) &^ q & highs // a byte == '"'
	bs := w ^ ('\\' * ones)
	slash := (bs - ones) &^ bs & highs // a byte == '\\'
	return below|high|quote|slash == 0
}
