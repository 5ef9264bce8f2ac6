package view

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain ascii", "plain ascii"},
		{"", ""},
		{"héllo wörld 日本", "héllo wörld 日本"},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"title\x1b]0;pwned\x07", `title\x1b]0;pwned\x07`},
		{"a\tb\nc\rd", `a\tb\nc\rd`},
		{"del\x7f", `del\x7f`},
		{"nul\x00", `nul\x00`},
		{"csi\u009b31m", `csi\u009b31m`},
		{"osc\u009d0;x", `osc\u009d0;x`},
		{"rtl\u202eevil", `rtl\u202eevil`},
		{"iso\u2066x\u2069", `iso\u2066x\u2069`},
		{"mark\u200f", `mark\u200f`},
		{"sep\u2028", `sep\u2028`},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},
		{"cut\xe6\x97", `cut\xe6\x97`},
		{`back\slash`, `back\slash`},
	}
	for _, c := range cases {
		if got := Sanitize(c.in); got != c.want {
			t.Errorf("Sanitize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSanitizeNoCopyWhenClean(t *testing.T) {
	s := strings.Repeat("GET /index.html ", 8)
	if n := testing.AllocsPerRun(100, func() { _ = Sanitize(s) }); n != 0 {
		t.Errorf("clean ASCII allocated %v times", n)
	}
	u := "naïve café"
	if n := testing.AllocsPerRun(100, func() { _ = Sanitize(u) }); n != 0 {
		t.Errorf("clean UTF-8 allocated %v times", n)
	}
}

// safeForTerminal reports whether s could reach a terminal without being
// interpreted: valid UTF-8, no C0/C1 controls, no bidi controls.
func safeForTerminal(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || unsafeRune(r) {
			return false
		}
	}
	return true
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"", "abc", "\x1b[2J", "\xff", "\u202e", "a\u009bb", "日本\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Sanitize(s)
		if !safeForTerminal(out) {
			t.Fatalf("Sanitize(%q) = %q is not terminal-safe", s, out)
		}
		if again := Sanitize(out); again != out {
			t.Fatalf("Sanitize not idempotent: %q -> %q", out, again)
		}
		if safeForTerminal(s) && out != s {
			t.Fatalf("safe input changed: %q -> %q", s, out)
		}
	})
}
