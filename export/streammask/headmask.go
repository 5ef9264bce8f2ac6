package streammask

import (
	"bytes"
	"slices"

	"github.com/tapview/tapview/decode/mask"
)

// The clean-line memo (internal/cleanmemo): 16Ki slots of 256 bytes
// (4 MiB), so lines of up to 245 bytes are remembered; longer ones
// (cookies, some user agents) are mostly found in the previous head.
const (
	lineMemoSlots  = 1 << 14
	lineMemoStride = 256
	// lineClean is the memo's one kind of entry.
	lineClean byte = 1
	// maxPrevHead is the longest head a direction keeps to compare the
	// next one with.
	maxPrevHead = 1 << 10
)

// Masking a head line by line.
//
// A server's response heads differ from each other in a line or two
// (Date each second, Content-Length and ETag per resource), so a memo
// of whole heads missed for most of them and each miss ran the masker
// over the whole head. maskHead instead remembers clean lines: a head
// all of whose lines are clean on their own, and none of which holds
// what a rule may join across lines, is clean as a whole; anything
// else goes to the masker whole, as before.
//
// That rests on what the built-in rules look at (decode/mask): header
// lines, parameters, bearer tokens, JWTs, key and token shapes, cards,
// e-mail and URL credentials stop at a line break (they read no '\n'
// and, at a line's start or end, see the same as at the text's). What
// may reach across lines is kept out by lineHazard: a JSON member
// whose colon starts or ends a line (key or value on another line), a
// JSON object or array value (masked to its end), multipart parts
// ("Content-Disposition:" to the next boundary), PEM private keys and
// SQL passwords (their literals may span lines). Rules from a rules
// file (regular expressions, literals) may match anything: with any,
// heads are masked whole (Tracker.lineMode). FuzzLineClean checks the
// claim against the masker itself.

// lineModeFor reports whether m has only built-in rules, whose reach
// across lines lineHazard knows.
func lineModeFor(m *mask.Masker) bool {
	builtin := mask.BuiltinNames()
	for _, r := range m.Rules() {
		if !slices.Contains(builtin, r) {
			return false
		}
	}
	return true
}

// maskHead is maskText for a head (or any text of header lines). prev
// is the direction's previous head found clean line by line: lines
// found in it need no lookup.
func (t *Tracker) maskHead(b []byte, prev *prevHead) []byte {
	if !t.lineMode || len(b) < memoMinText || !t.linesClean(b, prev) {
		return t.maskText(b)
	}
	return b
}

// prevHead is a head found clean line by line, and where its lines end.
type prevHead struct {
	b    []byte
	ends []int
	// next holds the ends of the head being checked.
	next []int
}

// find returns the index of the first line of p from line from on that
// equals l, or -1. Heads of one direction mostly repeat each other's
// lines in the same order, with some left out or added.
func (p *prevHead) find(l []byte, from int) int {
	for k := from; k < len(p.ends); k++ {
		lo := 0
		if k > 0 {
			lo = p.ends[k-1]
		}
		if p.ends[k]-lo == len(l) && string(p.b[lo:p.ends[k]]) == string(l) {
			return k
		}
	}
	return -1
}

// nextLine returns b's first line, its '\n' included.
func nextLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1]
	}
	return b
}

// linesClean reports whether each line of b (its '\n' included) is
// clean on its own and holds no hazard, which makes b clean. Each line
// of prev must be so; when b is, it becomes prev.
func (t *Tracker) linesClean(b []byte, prev *prevHead) bool {
	whole := b
	prev.next = prev.next[:0]
	j, at := 0, 0
	for len(b) > 0 {
		l := nextLine(b)
		b = b[len(l):]
		at += len(l)
		prev.next = append(prev.next, at)
		if k := prev.find(l, j); k >= 0 {
			j = k + 1
			continue
		}
		if t.lines.Has(lineClean, l) {
			continue
		}
		if lineHazard(l) {
			return false
		}
		if m := t.m.Bytes(l); len(m) > 0 && &m[0] != &l[0] {
			return false
		}
		if at > len(l) {
			// Not the start line: a request's is mostly new each time
			// (its query), and would only crowd the memo.
			t.lines.Add(lineClean, l)
		}
	}
	if len(whole) <= maxPrevHead {
		prev.b = append(prev.b[:0], whole...)
		prev.ends, prev.next = prev.next, prev.ends
	}
	return true
}

// lineHazard reports whether line l may hold part of a secret whose
// rule reads across lines (see above).
func lineHazard(l []byte) bool {
	colon := false
	for i, c := range l {
		switch c | 0x20 { // ASCII letters in lower case (and a few others moved)
		case '{': // '{' or '['
			return true
		case ':' | 0x20:
			colon = colon || c == ':'
		case 'p':
			if foldAt(l, i, "password") || foldAt(l, i, "private key") {
				return true
			}
		case 'i':
			if foldAt(l, i, "identified") {
				return true
			}
		case 'c':
			if foldAt(l, i, "content-disposition") {
				return true
			}
		}
	}
	if colon {
		// A colon with only blanks before or after it on its line.
		i := 0
		for i < len(l) && isBlank(l[i]) {
			i++
		}
		if i < len(l) && l[i] == ':' {
			return true
		}
		j := len(l)
		for j > 0 && (isBlank(l[j-1]) || l[j-1] == '\n') {
			j--
		}
		if j > 0 && l[j-1] == ':' {
			return true
		}
	}
	return false
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// foldAt reports whether l holds the lower-case ASCII word w at i,
// ignoring ASCII case.
func foldAt(l []byte, i int, w string) bool {
	return i+len(w) <= len(l) && asciiEqualFold(l[i:i+len(w)], w)
}
