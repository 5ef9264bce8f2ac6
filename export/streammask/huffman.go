package streammask

import (
	"strings"

	"golang.org/x/net/http2/hpack"
)

// HPACK's Huffman code (RFC 7541 appendix B), read back from the hpack
// package: the code of each byte and its length in bits.
var (
	huffCode [256]uint32
	huffLen  [256]uint8
	// huffFiller is, per code length, the byte written in place of a
	// secret byte with a code of that length, so a masked string has the
	// same coded length and decodes to as many bytes as before (the
	// dynamic table's accounting stays exact): '*' for 8 bits, a
	// printable byte where one has that length.
	huffFiller [31]byte
	huffHas    [31]bool
)

func init() {
	for c := 0; c < 256; c++ {
		s := string([]byte{byte(c)})
		// Eight copies take exactly as many bytes as the code has bits.
		n := hpack.HuffmanEncodeLength(strings.Repeat(s, 8))
		code := hpack.AppendHuffmanString(nil, s)
		var v uint64
		for _, b := range code {
			v = v<<8 | uint64(b)
		}
		v >>= uint(len(code)*8) - uint(n)
		huffCode[c], huffLen[c] = uint32(v), uint8(n)
	}
	// Preference: '*' first, then printable characters that look like
	// filler, then any printable, then anything.
	pref := "*0Xx#-_~!$%&+/<>?@^|" + "123456789abcdefghijklmnopqrstuvwyzABCDEFGHIJKLMNOPQRSTUVWYZ"
	for i := 0; i < len(pref); i++ {
		c := pref[i]
		if l := huffLen[c]; !huffHas[l] {
			huffFiller[l], huffHas[l] = c, true
		}
	}
	for c := 0x20; c < 0x7f; c++ {
		if l := huffLen[c]; !huffHas[l] {
			huffFiller[l], huffHas[l] = byte(c), true
		}
	}
	for c := 0; c < 256; c++ {
		if l := huffLen[c]; !huffHas[l] {
			huffFiller[l], huffHas[l] = byte(c), true
		}
	}
}

// huffmanMask re-encodes the Huffman-coded string code, whose decoded
// bytes are value, with every run of bytes where hide is set replaced by
// filler of exactly the same coded length: mostly '*', never more bytes
// than the run had (a dynamic table entry may shrink, which leaves every
// index a decoder resolves as it was, but must not grow, which could
// evict an entry the encoder still refers to). The result has len(code)
// bytes; ok is false when code is not the canonical encoding of value
// (then the caller fills it whole).
func huffmanMask(code []byte, value string, hide []bool) (out []byte, ok bool) {
	out = make([]byte, 0, len(code))
	var acc uint64
	var nbits uint
	put := func(c byte) {
		l := huffLen[c]
		acc = acc<<l | uint64(huffCode[c])
		nbits += uint(l)
		for nbits >= 8 {
			nbits -= 8
			out = append(out, byte(acc>>nbits))
		}
		acc &= 1<<nbits - 1
	}
	for i := 0; i < len(value); {
		if !hide[i] {
			put(value[i])
			i++
			continue
		}
		j, bits := i, 0
		for j < len(value) && hide[j] {
			bits += int(huffLen[value[j]])
			j++
		}
		if fill, ok := starFill(bits, j-i); ok {
			for _, c := range fill {
				put(c)
			}
		} else {
			for k := i; k < j; k++ {
				put(huffFiller[huffLen[value[k]]])
			}
		}
		i = j
	}
	if nbits > 0 {
		pad := 8 - nbits
		out = append(out, byte(acc<<pad|(1<<pad-1)))
	}
	if len(out) != len(code) {
		return nil, false
	}
	return out, true
}

// starFill returns at most n filler bytes whose codes add up to exactly
// bits bits, asterisks (8 bits) but for one or two bytes that take up
// the rest.
func starFill(bits, n int) ([]byte, bool) {
	q, r := bits/8, bits%8
	var tail []byte
	switch r {
	case 0:
	case 5, 6, 7:
		tail = []byte{huffFiller[r]}
	case 1: // 9 = 17 - 8: a 10-bit and a 7-bit filler for two asterisks
		q -= 2
		tail = []byte{huffFiller[10], huffFiller[7]}
	default: // 2, 3, 4: a 10-, 11- or 12-bit filler for one asterisk
		q--
		tail = []byte{huffFiller[8+r]}
	}
	if q < 0 || q+len(tail) > n {
		return nil, false
	}
	out := make([]byte, 0, q+len(tail))
	for k := 0; k < q; k++ {
		out = append(out, '*')
	}
	return append(out, tail...), true
}

// huffmanStars is a Huffman-coded string of n bytes that decodes to n
// asterisks (the code of '*' is 8 bits).
func huffmanStars(n int) []byte {
	b := make([]byte, n)
	code := byte(huffCode['*'])
	for i := range b {
		b[i] = code
	}
	return b
}
