package jsonl

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestQuoteEscapesTerminalControls: C1 controls (CSI U+009B, OSC U+009D),
// bidi overrides and isolates leave quote() as \u escapes, never raw, and
// decode back to the same string.
func TestQuoteEscapesTerminalControls(t *testing.T) {
	cases := map[string]string{
		"a\u009bb":      `"a\u009bb"`,
		"\u009d0;x\a":   `"\u009d0;x\u0007"`,
		"x\u202ey":      `"x\u202ey"`,
		"\u2066\u2069":  `"\u2066\u2069"`,
		"\u200f\u061c":  `"\u200f\u061c"`,
		"\u0085":        `"\u0085"`,
		"\u2028":        `"\u2028"`,
		"é ü 日本 \u00a0": "\"é ü 日本 \u00a0\"",
	}
	for in, want := range cases {
		got := string(quote(nil, in))
		if got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != in {
			t.Errorf("quote(%q) decodes to %q, %v", in, back, err)
		}
		for _, r := range got {
			if (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
				t.Errorf("quote(%q) = %q holds raw U+%04X", in, got, r)
			}
		}
	}
	if strings.ContainsRune(string(quote(nil, "\u009b")), 0x9b) {
		t.Error("raw CSI survives")
	}
}
