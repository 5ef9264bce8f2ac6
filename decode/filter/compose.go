package filter

import (
	"strconv"
	"strings"
)

// And joins filters into one expression that matches what every one of
// them matches, for code that narrows a filter the user typed (the UI's
// stats view lists one group's exchanges under the filter it counted).
// Each part is parenthesized; a bare word or a lone string literal,
// which are searches rather than expressions, becomes the CEL it stands
// for, url.lowerAscii().contains("word") (the same search for ASCII
// words; for others the search folds case more widely than lowerAscii).
// Empty parts are skipped. A part that does not compile is kept as
// written, so compiling the result reports its error.
func And(exprs ...string) string {
	var parts []string
	for _, e := range exprs {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if p, err := Compile(e); err == nil {
			if p.all {
				continue
			}
			if p.needle != "" {
				e = "url.lowerAscii().contains(" + Quote(p.needle) + ")"
			}
		}
		parts = append(parts, e)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	for i, p := range parts {
		parts[i] = "(" + p + ")"
	}
	return strings.Join(parts, " && ")
}

// Quote returns s as a CEL string literal that compiles back to s.
// Text that is not valid UTF-8 cannot be a CEL string; its invalid bytes
// come back as U+FFFD.
func Quote(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	// Go's double-quoted escapes (\a \b \f \n \r \t \v \\ \" \xHH for
	// ASCII controls, \uHHHH, \UHHHHHHHH) are all CEL escapes with the
	// same meaning for valid UTF-8 text.
	return strconv.Quote(s)
}
