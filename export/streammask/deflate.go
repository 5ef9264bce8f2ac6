package streammask

import (
	"encoding/binary"
	"hash/adler32"
	"hash/crc32"
)

// Compressed units that held a secret are overwritten whole. Where the
// compression is DEFLATE (gzip, zlib, permessage-deflate) the filler is
// itself valid DEFLATE of exactly the unit's length that inflates to as
// many '*' as the unit held: Wireshark shows the body or message as
// asterisks, and on a permessage-deflate stream with context takeover
// the window stays the right length, so later messages still inflate
// (what they copied from the overwritten one reads '*').

// maxStarFill bounds the units given DEFLATE filler; longer ones get
// plain '*'.
const maxStarFill = 1 << 20

// bitWriter packs bits the DEFLATE way: least significant bit first.
type bitWriter struct {
	out  []byte
	acc  uint32
	nacc uint
}

func (w *bitWriter) bits(v uint32, n uint) {
	for i := uint(0); i < n; i++ {
		w.acc |= (v >> i & 1) << w.nacc
		w.nacc++
		if w.nacc == 8 {
			w.out = append(w.out, byte(w.acc))
			w.acc, w.nacc = 0, 0
		}
	}
}

// code writes a Huffman code, most significant bit first.
func (w *bitWriter) code(c uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.bits(c>>uint(i)&1, 1)
	}
}

func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc, w.nacc = 0, 0
	}
	return w.out
}

// Length codes of DEFLATE (RFC 1951 3.2.5): symbol, base length and
// extra bits, for the fixed Huffman code.
var lengthCodes = []struct {
	sym   uint32
	base  int
	extra uint
}{
	{257, 3, 0}, {258, 4, 0}, {259, 5, 0}, {260, 6, 0}, {261, 7, 0}, {262, 8, 0}, {263, 9, 0}, {264, 10, 0},
	{265, 11, 1}, {266, 13, 1}, {267, 15, 1}, {268, 17, 1}, {269, 19, 2}, {270, 23, 2}, {271, 27, 2}, {272, 31, 2},
	{273, 35, 3}, {274, 43, 3}, {275, 51, 3}, {276, 59, 3}, {277, 67, 4}, {278, 83, 4}, {279, 99, 4}, {280, 115, 4},
	{281, 131, 5}, {282, 163, 5}, {283, 195, 5}, {284, 227, 5}, {285, 258, 0},
}

// lengthCode returns the code entry for a match length (3..258).
func lengthCode(l int) (sym uint32, extra uint, ev uint32) {
	if l == 258 {
		return 285, 0, 0
	}
	for i := len(lengthCodes) - 2; i >= 0; i-- {
		if c := lengthCodes[i]; l >= c.base {
			return c.sym, c.extra, uint32(l - c.base)
		}
	}
	return 257, 0, 0
}

// symBits is the fixed-code length of a literal/length symbol.
func symBits(sym uint32) uint {
	switch {
	case sym < 144:
		return 8
	case sym < 256:
		return 9
	case sym < 280:
		return 7
	}
	return 8
}

func symCode(w *bitWriter, sym uint32) {
	switch {
	case sym < 144:
		w.code(0x30+sym, 8)
	case sym < 256:
		w.code(0x190+sym-144, 9)
	case sym < 280:
		w.code(sym-256, 7)
	default:
		w.code(0xc0+sym-280, 8)
	}
}

// matchBits is what a match of length l at distance 1 costs.
func matchBits(l int) int {
	sym, extra, _ := lengthCode(l)
	return int(symBits(sym)+extra) + 5
}

// matchesBits is the cheapest cost of r bytes as distance-1 matches
// (with a literal or two for a remainder under 3).
func matchesBits(r int) int {
	k, rem := r/258, r%258
	c := 13 * k
	switch {
	case rem == 0:
	case rem < 3:
		c += 8 * rem
	default:
		c += matchBits(rem)
	}
	return c
}

// starDeflate returns exactly m bytes of DEFLATE data that inflate to n
// asterisks: with final, one stream ending in a final block (gzip,
// zlib); otherwise a permessage-deflate message (it ends with the empty
// stored block of a sync flush whose last four bytes RFC 7692 drops).
func starDeflate(m, n int, final bool) ([]byte, bool) {
	if m <= 0 || n < 0 {
		return nil, false
	}
	tail := 0
	if !final {
		tail = 3
	}
	hi, lo := 8*m, 8*m-7
	// Total bits with b empty blocks ahead of the main one and j of the
	// n-1 asterisks after the first sent as literals, the rest as
	// distance-1 matches.
	total := func(b, j int) int {
		t := 3 + 7 + tail + 10*b
		if n > 0 {
			t += 8 + 8*j + matchesBits(n-1-j)
		}
		return t
	}
	r := max(n-1, 0)
	// For each count of literals, empty blocks (10 bits each) fill up
	// to the window of the last byte's 8 bits; literals move the total
	// by about 8 bits, so some count lands in it.
	blocks := func(j int) (int, bool) {
		t := total(0, j)
		b := 0
		if t < lo {
			b = (lo - t + 9) / 10
		}
		t += 10 * b
		return b, t >= lo && t <= hi
	}
	var cands []int
	if r <= 4096 {
		for j := 0; j <= r; j++ {
			cands = append(cands, j)
		}
	} else {
		j0 := max(0, (lo-total(0, 0))/8)
		for j := max(0, j0-512); j <= min(r, j0+512); j++ {
			cands = append(cands, j)
		}
		for j := 0; j <= 512; j++ {
			cands = append(cands, j, r-j)
		}
	}
	for _, j := range cands {
		if j < 0 || j > r {
			continue
		}
		if b, ok := blocks(j); ok {
			return emitStars(b, j, n, final, m), true
		}
	}
	return nil, false
}

func emitStars(b, j, n int, final bool, m int) []byte {
	w := &bitWriter{}
	for i := 0; i < b; i++ {
		w.bits(0, 1) // not final
		w.bits(1, 2) // fixed Huffman
		symCode(w, 256)
	}
	if final {
		w.bits(1, 1)
	} else {
		w.bits(0, 1)
	}
	w.bits(1, 2)
	if n > 0 {
		symCode(w, '*')
		for i := 0; i < j; i++ {
			symCode(w, '*')
		}
		r := n - 1 - j
		for r > 0 {
			l := min(r, 258)
			if l < 3 {
				for ; l > 0; l-- {
					symCode(w, '*')
					r--
				}
				break
			}
			sym, extra, ev := lengthCode(l)
			symCode(w, sym)
			w.bits(ev, extra)
			w.code(0, 5) // distance 1
			r -= l
		}
	}
	symCode(w, 256)
	if !final {
		w.bits(0, 3) // stored block header; LEN/NLEN are dropped
	}
	out := w.flush()
	for len(out) < m {
		out = append(out, 0) // cannot happen: the bit count was exact
	}
	return out[:m]
}

func stars(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = '*'
	}
	return b
}

// gzipStars returns an m-byte gzip member that decompresses to n '*'.
func gzipStars(m, n int) ([]byte, bool) {
	if m < 18+1 {
		return nil, false
	}
	d, ok := starDeflate(m-18, n, true)
	if !ok {
		return nil, false
	}
	out := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, d...)
	out = binary.LittleEndian.AppendUint32(out, crc32.ChecksumIEEE(stars(n)))
	return binary.LittleEndian.AppendUint32(out, uint32(n)), true
}

// zlibStars returns an m-byte zlib stream that inflates to n '*'.
func zlibStars(m, n int) ([]byte, bool) {
	if m < 6+1 {
		return nil, false
	}
	d, ok := starDeflate(m-6, n, true)
	if !ok {
		return nil, false
	}
	out := append([]byte{0x78, 0x9c}, d...)
	return binary.BigEndian.AppendUint32(out, adler32.Checksum(stars(n))), true
}

// isZlib reports whether b starts with a zlib header (RFC 1950).
func isZlib(b []byte) bool {
	return len(b) >= 2 && b[0]&0x0f == 8 && b[0]>>4 <= 7 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
}

// bodyFiller returns the filler for a compressed HTTP body or gRPC
// message of the given codings whose bytes were orig and which
// decompressed to n bytes: DEFLATE-based where the coding is one gzip
// or deflate, else nil (plain '*').
func bodyFiller(codings []string, orig []byte, n int) []byte {
	if len(codings) != 1 || len(orig) > maxStarFill {
		return nil
	}
	var out []byte
	var ok bool
	switch codings[0] {
	case "gzip", "x-gzip":
		out, ok = gzipStars(len(orig), n)
	case "deflate":
		if isZlib(orig) {
			out, ok = zlibStars(len(orig), n)
		} else {
			out, ok = starDeflate(len(orig), n, true)
		}
	}
	if !ok {
		return nil
	}
	return out
}
