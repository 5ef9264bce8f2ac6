package ui

import (
	"strings"
	"testing"
	"time"

	"charm.land/lipgloss/v2"
)

func TestFit(t *testing.T) {
	cases := []struct {
		in   string
		w    int
		want string
	}{
		{"abc", 5, "abc  "},
		{"abcdef", 4, "abc…"},
		{"abcd", 4, "abcd"},
		{"日本語テキスト", 7, "日本語…"},
		{"", 3, "   "},
		{"x", 0, ""},
	}
	for _, c := range cases {
		got := fit(c.in, c.w)
		if got != c.want || width(got) != c.w {
			t.Errorf("fit(%q, %d) = %q (width %d), want %q", c.in, c.w, got, width(got), c.want)
		}
	}
	if got := fitRight("42", 5); got != "   42" {
		t.Errorf("fitRight = %q", got)
	}
	if got := fitMiddle("10.1.0.7:51234", 9); got != "10.1…1234" {
		t.Errorf("fitMiddle = %q", got)
	}
	if got := fitMiddle("key=••••••••••", 9); got != "key=…••••" {
		t.Errorf("fitMiddle of masked text = %q", got)
	}
	if got := fitMiddle("名前=••••••••••", 9); width(got) != 9 {
		t.Errorf("fitMiddle of wide text = %q, %d cells", got, width(got))
	}
}

func TestHumanUnits(t *testing.T) {
	bytes := map[int64]string{0: "0B", 999: "999B", 1000: "1.0k", 1536: "1.5k", 47 * 1024: "47k", 5 << 20: "5.0M", 3 << 30: "3.0G", -1: "?"}
	for n, want := range bytes {
		if got := humanBytes(n); got != want || len(got) > 5 {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	durs := map[time.Duration]string{
		850 * time.Microsecond: "850µs", 12300 * time.Microsecond: "12.3ms", 1234 * time.Millisecond: "1.23s",
		123 * time.Second: "2m03s", 3*time.Hour + 5*time.Minute: "3h05m", 0: "0",
	}
	for d, want := range durs {
		if got := humanDuration(d); got != want || width(got) > 6 {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q", n, got)
		}
	}
	for ct, want := range map[string]string{"application/json": "json", "application/problem+json": "json",
		"application/vnd.api+json": "json", "image/png": "png", "application/x-protobuf": "protobuf"} {
		if got := shortType(ct); got != want {
			t.Errorf("shortType(%q) = %q, want %q", ct, got, want)
		}
	}
}

func TestPaintMatchesLipgloss(t *testing.T) {
	st := newStyles()
	for name, s := range map[string]lipgloss.Style{"cursor": st.cursor, "ok": st.ok, "errRow": st.errRow, "pending": st.pending} {
		if got, want := newPaint(s).wrap("row text"), s.Render("row text"); got != want {
			t.Errorf("%s: paint %q, lipgloss %q", name, got, want)
		}
	}
}

func TestFitColumnsDropsOptionalFirst(t *testing.T) {
	cols := []column{
		{key: 0, title: "A", w: 10, drop: 1},
		{key: 1, title: "URL", weight: 1},
		{key: 2, title: "B", w: 10, drop: 2},
		{key: 3, title: "C", w: 6},
	}
	got := fitColumns(cols, 40)
	var titles []string
	total := 1
	for i, c := range got {
		titles = append(titles, c.title)
		total += c.w
		if i < len(got)-1 {
			total++
		}
	}
	if strings.Join(titles, ",") != "A,URL,C" {
		t.Errorf("columns at 40 = %v, want B dropped first", titles)
	}
	if total != 39 {
		t.Errorf("columns fill %d cells, want 39 (one spare)", total)
	}
}
