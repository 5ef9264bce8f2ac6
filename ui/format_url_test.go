package ui

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFitURLKeepsThePath(t *testing.T) {
	cases := []struct {
		in, keep string // keep: a part that must stay visible
		w        int
	}{
		{"petstore.demo.internal:8080/api/pets/999", "/api/pets/999", 28},
		{"petstore.demo.internal:8080/api/pets/search?species=cat&api_key=x", "&api_key=x", 28},
		{"petstore.demo.internal:8080/api/pets/search?species=cat&api_key=x", "petsto", 28},
		{"short.host/x", "short.host/x", 28},
		{"ab/" + strings.Repeat("p", 40), "ab/ppp", 20},
		{"http://proxy.example/abs", "http://", 20},
		// Masking writes bullets: one cell each, so the path still shows
		// (it used to be cut from the end: "petstore.demo.internal:8…").
		{"petstore.demo.internal:8080/api/pets/search?species=cat&api_key=••••••••", "/api/pets/", 28},
		{"petstore.demo.internal:8080/api/pets/search?species=cat&api_key=••••••••", "••••", 28},
		{"h/" + strings.Repeat("•", 30) + "/end", "/end", 20},
	}
	for _, c := range cases {
		got := fitURL(c.in, c.w)
		if width(got) != c.w {
			t.Errorf("fitURL(%q, %d) = %q is %d cells, want %d", c.in, c.w, got, width(got), c.w)
		}
		if !strings.Contains(got, c.keep) {
			t.Errorf("fitURL(%q, %d) = %q lost %q", c.in, c.w, got, c.keep)
		}
	}
}

func FuzzFitURL(f *testing.F) {
	f.Add("petstore.demo.internal:8080/api/pets/999", 20)
	f.Add("a/b", 12)
	f.Fuzz(func(t *testing.T, s string, w int) {
		// The list sanitizes wire strings before laying them out.
		if w <= 0 || w > 300 || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return
		}
		if got := fitURL(s, w); width(got) > w {
			t.Fatalf("fitURL(%q, %d) = %q is %d cells wide", s, w, got, width(got))
		}
	})
}
