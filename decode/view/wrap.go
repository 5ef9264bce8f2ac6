package view

import (
	"strings"

	"github.com/clipperhouse/displaywidth"
)

// Wrap breaks one sanitized line into pieces of at most width display
// cells. Continuation pieces repeat the line's leading indentation (capped
// at half the width) so wrapped JSON values and header lines stay visibly
// attached to their key. Breaks fall between grapheme clusters, never inside
// one. width <= 0 returns the line unchanged.
func Wrap(line string, width int) []string {
	if width <= 0 || fitsASCII(line, width) {
		return []string{line}
	}
	if displaywidth.String(line) <= width {
		return []string{line}
	}
	indent := len(line) - len(strings.TrimLeft(line, " "))
	if indent > width/2 {
		indent = width / 2
	}
	pad := strings.Repeat(" ", indent)

	var out []string
	var cur strings.Builder
	w := 0
	g := displaywidth.StringGraphemes(line)
	for g.Next() {
		gw := g.Width()
		if w+gw > width && w > indentWidth(len(out), indent) {
			out = append(out, cur.String())
			cur.Reset()
			cur.WriteString(pad)
			w = indent
		}
		cur.WriteString(g.Value())
		w += gw
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// indentWidth is the width a piece has before any content: the first piece
// starts empty, continuations start with the indent.
func indentWidth(piece, indent int) int {
	if piece == 0 {
		return 0
	}
	return indent
}

// fitsASCII is the fast path: short lines of printable ASCII never wrap.
func fitsASCII(s string, width int) bool {
	if len(s) > width {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func wrapAll(lines []string, width int) []string {
	if width <= 0 {
		return lines
	}
	wrapped := false
	for _, l := range lines {
		if !fitsASCII(l, width) && displaywidth.String(l) > width {
			wrapped = true
			break
		}
	}
	if !wrapped {
		return lines
	}
	out := make([]string, 0, len(lines)+len(lines)/8)
	for _, l := range lines {
		out = append(out, Wrap(l, width)...)
	}
	return out
}
