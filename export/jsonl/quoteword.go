package jsonl

// load8 reads s[i:i+8] as a little-endian word (the compiler makes
// this one load).
func load8(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plain8 reports whether none of the eight bytes in w needs escaping or
// decoding: each is printable ASCII (0x20-0x7e) other than '"' and '\\'.
// Each test is the classic "does any byte ..." bit trick; they are exact
// (no byte that needs care is missed), which TestQuoteWordsAgree checks
// against the byte loop.
func plain8(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := (w - 0x20*ones) &^ w & highs // a byte < 0x20
	high := (w | (w + ones)) & highs      // a byte >= 0x7f (0x7f+1 sets the high bit)
	q := w ^ ('"' * ones)
	quote := (q - ones) &^ q & highs // a byte == '"'
	bs := w ^ ('\\' * ones)
	slash := (bs - ones) &^ bs & highs // a byte == '\\'
	return below|high|quote|slash == 0
}
