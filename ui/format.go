package ui

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/tapview/tapview/decode/view"
)

// fit pads or truncates plain (unstyled, sanitized) text to exactly w
// display cells, marking a cut with an ellipsis. ASCII takes a fast path
// because nearly every cell of a traffic list is ASCII.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if isASCII(s) {
		switch {
		case len(s) == w:
			return s
		case len(s) < w:
			return s + spaces(w-len(s))
		default:
			return s[:w-1] + "…"
		}
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw < w {
		s += spaces(w - sw)
	}
	return s
}

// fitRight is fit with the text aligned to the right, for numbers.
func fitRight(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := len(s)
	if !isASCII(s) {
		sw = ansi.StringWidth(s)
	}
	if sw >= w {
		return fit(s, w)
	}
	return spaces(w-sw) + s
}

// fitMiddle truncates in the middle, keeping both ends: endpoints keep
// their port, paths keep their last segment.
func fitMiddle(s string, w int) string {
	t, ok := cellsOf(s)
	if !ok || t.n <= w || w < 5 {
		return fit(s, w)
	}
	return t.middle(0, t.n, w)
}

// fitURL truncates host+path so the path, which tells requests apart,
// stays readable: the host gives way first (down to a few characters),
// then the path is cut in the middle, keeping its last segment. Masked
// values (bullets) are one cell each like ASCII, so a masked query
// string does not push the path off the row.
func fitURL(s string, w int) string {
	t, ok := cellsOf(s)
	if !ok || t.n <= w || w < 12 {
		return fit(s, w)
	}
	slash := strings.IndexByte(s, '/')
	if slash <= 0 || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return t.middle(0, t.n, w)
	}
	host := t.cell(slash) // the host's cells: the slash's cell number
	path := t.n - host
	const minHost = 6
	if host <= minHost {
		return t.cut(0, host) + t.middle(host, t.n, w-host)
	}
	if path+minHost+1 <= w {
		return t.cut(0, w-path-1) + "…" + t.cut(host, t.n)
	}
	return t.cut(0, minHost) + "…" + t.middle(host, t.n, w-minHost-1)
}

// cells is text in which every rune takes one cell: ASCII, or ASCII with
// the bullets masking writes. at holds each cell's byte offset (and the
// length at the end) when the text is not ASCII.
type cells struct {
	s  string
	n  int
	at []int
}

// cellsOf returns s as cells, or false when a rune of s is not exactly one
// cell wide (such text takes fit's exact, slower path).
func cellsOf(s string) (cells, bool) {
	if isASCII(s) {
		return cells{s: s, n: len(s)}, true
	}
	at := make([]int, 0, len(s)+1)
	for i, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && ansi.StringWidth(string(r)) != 1) {
			return cells{}, false
		}
		at = append(at, i)
	}
	n := len(at)
	return cells{s: s, n: n, at: append(at, len(s))}, true
}

// cut returns cells [a, b).
func (t cells) cut(a, b int) string {
	if t.at == nil {
		return t.s[a:b]
	}
	return t.s[t.at[a]:t.at[b]]
}

// cell returns the cell that starts at byte offset i.
func (t cells) cell(i int) int {
	if t.at == nil {
		return i
	}
	c, _ := slices.BinarySearch(t.at, i)
	return c
}

// middle fits cells [a, b) into w cells, cutting in the middle.
func (t cells) middle(a, b, w int) string {
	if b-a <= w {
		return t.cut(a, b) + spaces(w-(b-a))
	}
	if w < 5 {
		return fit(t.cut(a, b), w)
	}
	head := (w - 1) / 2
	tail := w - 1 - head
	return t.cut(a, a+head) + "…" + t.cut(b-tail, b)
}

// isASCII reports printable ASCII only: one byte is one cell. Styled text
// (escape sequences) and anything else takes the slow, exact path.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

const blanks = "                                                                                                                                "

func spaces(n int) string {
	if n <= 0 {
		return ""
	}
	if n <= len(blanks) {
		return blanks[:n]
	}
	return strings.Repeat(" ", n)
}

// width is the display width of styled or plain text.
func width(s string) int {
	if isASCII(s) {
		return len(s)
	}
	return ansi.StringWidth(s)
}

// truncateStyled cuts styled text to w cells, or pads it to w.
func truncateStyled(s string, w int) string {
	sw := width(s)
	if sw <= w {
		return s + spaces(w-sw)
	}
	return ansi.Truncate(s, w, "…")
}

// humanBytes shows a size in at most five cells: 512B, 1.2k, 34k, 1.2M
// (view.Size, shared with -o table).
func humanBytes(n int64) string { return view.Size(n) }

// longBytes is humanBytes for prose: "1.2 MiB", "340 B".
func longBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	for _, u := range units {
		f /= 1024
		if f < 1024 {
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + u
		}
	}
	return strconv.FormatFloat(f, 'f', 0, 64) + " PiB"
}

// humanDuration shows a latency in at most six cells with three
// significant digits (view.Duration, shared with -o table).
func humanDuration(d time.Duration) string { return view.Duration(d) }

// thousands formats a count with thousands separators, as counts of a
// million rows are unreadable without them.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 || len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// shortType names a media type in a few letters for the list.
func shortType(ct string) string {
	switch ct {
	case "":
		return ""
	case "application/json":
		return "json"
	case "application/x-www-form-urlencoded":
		return "form"
	case "application/octet-stream":
		return "binary"
	case "application/javascript", "text/javascript":
		return "js"
	case "text/plain":
		return "text"
	case "application/grpc", "application/grpc+proto":
		return "grpc"
	}
	_, sub, ok := strings.Cut(ct, "/")
	if !ok {
		return ct
	}
	sub = strings.TrimPrefix(sub, "x-")
	sub = strings.TrimPrefix(sub, "vnd.")
	if i := strings.LastIndexByte(sub, '+'); i >= 0 && i < len(sub)-1 {
		sub = sub[i+1:] // problem+json -> json
	}
	switch sub {
	case "javascript", "ecmascript":
		return "js"
	case "plain":
		return "text"
	case "www-form-urlencoded":
		return "form"
	}
	return sub
}

// short writes a count for a crowded status bar: 950, 12.3k, 1.2M.
func short(n int) string {
	switch {
	case n < 10_000:
		return thousands(n)
	case n < 1_000_000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "k"
	default:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	}
}

// mebibytes writes a memory size in whole MiB ("182M").
func mebibytes(n int64) string {
	return strconv.FormatInt((n+(1<<19))>>20, 10) + "M"
}
