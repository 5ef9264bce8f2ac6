package ui

import "strings"

// column is one column of a list. Fixed columns keep w; flexible ones
// (weight > 0) share what is left. On narrow screens, columns with a drop
// rank are removed, highest rank first, until every flexible column gets
// at least its min cells (minFlex when unset).
type column struct {
	key    int // index of the column's value in a row's values
	title  string
	w      int
	weight int    // > 0: flexible, share of the remaining width
	right  bool   // right-aligned (numbers)
	middle bool   // truncated in the middle (endpoints)
	url    bool   // host+path: the host gives way before the path
	drop   int    // 0: always shown; higher is dropped first
	after  string // separator after the column; one space when empty
	min    int    // flexible columns: fewest cells before others are dropped
	max    int    // flexible columns: most cells (0: no limit), so the eye
	// does not travel across a 250-column screen from a URL to its status
}

const minFlex = 12

func (c column) sep() string {
	if c.after != "" {
		return c.after
	}
	return " "
}

// fitColumns returns the columns shown at total width, with the widths of
// the flexible ones filled in.
func fitColumns(cols []column, total int) []column {
	cols = append([]column(nil), cols...)
	for {
		used, weights, need := 1, 0, 0
		for i, c := range cols {
			if i < len(cols)-1 {
				used += width(c.sep())
			}
			if c.weight > 0 {
				weights += c.weight
				need += max(c.min, minFlex)
			} else {
				used += c.w
			}
		}
		left := total - used - 1 // keep the last cell off the edge
		worst := -1
		for i, c := range cols {
			if c.drop > 0 && (worst < 0 || c.drop > cols[worst].drop) {
				worst = i
			}
		}
		if left >= need || worst < 0 {
			given, last := 0, -1
			for i := range cols {
				if cols[i].weight > 0 {
					cols[i].w = max(left*cols[i].weight/weights, 1)
					given += cols[i].w
					last = i
				}
			}
			if last >= 0 && left > given {
				cols[last].w += left - given
			}
			for i := range cols {
				if cols[i].weight > 0 && cols[i].max > 0 {
					cols[i].w = min(cols[i].w, cols[i].max)
				}
			}
			return cols
		}
		cols = append(cols[:worst], cols[worst+1:]...)
	}
}

// cell lays out one value in its column.
func (c column) cell(v string) string {
	switch {
	case c.right:
		return fitRight(v, c.w)
	case c.middle:
		return fitMiddle(v, c.w)
	case c.url:
		return fitURL(v, c.w)
	}
	return fit(v, c.w)
}

// writeCell writes v laid out in the column to b; the common ASCII case
// writes straight into b without building intermediate strings.
func (c column) writeCell(b *strings.Builder, v string) {
	if !isASCII(v) || (c.middle || c.url) && len(v) > c.w {
		b.WriteString(c.cell(v))
		return
	}
	switch {
	case len(v) > c.w:
		if c.w > 0 {
			b.WriteString(v[:c.w-1])
			b.WriteString("…")
		}
	case c.right:
		b.WriteString(spaces(c.w - len(v)))
		b.WriteString(v)
	default:
		b.WriteString(v)
		b.WriteString(spaces(c.w - len(v)))
	}
}

// titleLine renders the column titles, padded to total.
func titleLine(cols []column, total int) string {
	titles := make([]string, 0, 16)
	for _, c := range cols {
		for len(titles) <= c.key {
			titles = append(titles, "")
		}
		titles[c.key] = c.title
	}
	pre, mid, post := rowParts(cols, titles, -1, total)
	return pre + mid + post
}

// rowParts lays out a row split around the column with key hl, so that
// cell alone can be coloured: before it, the cell, and after it (padded
// to total). vals is indexed by column key.
func rowParts(cols []column, vals []string, hl, total int) (string, string, string) {
	var pre, post strings.Builder
	pre.Grow(total + 8)
	post.Grow(total/2 + 8)
	mid := ""
	cur := &pre
	pre.WriteByte(' ')
	used := 1 // every cell is exactly c.w wide, so no measuring is needed
	for i, c := range cols {
		used += c.w
		if i < len(cols)-1 {
			used += width(c.sep())
		}
		v := ""
		if c.key < len(vals) {
			v = vals[c.key]
		}
		if c.key == hl {
			mid = c.cell(v)
			cur = &post
		} else {
			c.writeCell(cur, v)
		}
		if i < len(cols)-1 {
			cur.WriteString(c.sep())
		}
	}
	if used < total {
		post.WriteString(spaces(total - used))
	}
	return pre.String(), mid, post.String()
}

// sourceLabels shortens source names for a narrow SOURCE column so that
// different sources stay different: the prefix and suffix all names
// share ("http11_", ".pcap") give way first, leaving the part that tells
// them apart ("…keepali…", "…file_cu…").
func sourceLabels(names []string, w int) map[string]string {
	out := make(map[string]string, len(names))
	pre, suf := commonEnds(names)
	for _, n := range names {
		switch {
		case width(n) <= w || !isASCII(n) || w < 4:
			out[n] = n
		case len(names) < 2 || pre+suf >= len(n):
			out[n] = fitMiddle(n, w)
		default:
			mid := n[pre : len(n)-suf]
			lead := ""
			if pre > 0 {
				lead = "…"
			}
			if len(mid)+width(lead) <= w {
				// Room for some of the shared suffix too.
				rest := w - len(mid) - width(lead)
				out[n] = lead + mid + n[len(n)-suf:][:min(rest, suf)]
				continue
			}
			out[n] = lead + mid[:w-width(lead)-1] + "…"
		}
	}
	return out
}

// commonEnds is the length of the prefix and suffix every name shares.
func commonEnds(names []string) (pre, suf int) {
	if len(names) < 2 {
		return 0, 0
	}
	pre, suf = len(names[0]), len(names[0])
	for _, n := range names[1:] {
		p := 0
		for p < min(pre, len(n)) && n[p] == names[0][p] {
			p++
		}
		pre = p
		s := 0
		for s < min(suf, len(n)) && n[len(n)-1-s] == names[0][len(names[0])-1-s] {
			s++
		}
		suf = s
	}
	shortest := len(names[0])
	for _, n := range names {
		shortest = min(shortest, len(n))
	}
	if pre+suf > shortest {
		suf = max(shortest-pre, 0)
	}
	return pre, suf
}
