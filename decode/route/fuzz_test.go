package route

import (
	"testing"
	"unicode/utf8"
)

// FuzzTemplates feeds hostile statements, paths and keys to the
// templating: no panic, bounded output, valid UTF-8 kept valid.
func FuzzTemplates(f *testing.F) {
	for _, s := range []string{"SELECT 'a''b' FROM t WHERE x IN (1,2)", "$tag$ x $tag$", "/pets/123?x", "user:550e8400-e29b-41d4-a716-446655440000", "E'", "(?,", "$$", "--", "/*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{SQL(s, false), SQL(s, true), PathTemplate(s), KeyTemplate(s), NameTemplate(s)} {
			if len(out) > maxTemplate+len("…") {
				t.Fatalf("template of %d bytes", len(out))
			}
			if utf8.ValidString(s) && !utf8.ValidString(out) {
				t.Fatalf("valid input gave invalid UTF-8 %q", out)
			}
		}
	})
}
