package route

import "strings"

// SQL returns a statement with what differs between executions of one
// query collapsed, so they group together:
//
//   - string literals ('…', E'…', $tag$…$tag$; "…" too for MySQL, where it
//     is a string unless ANSI_QUOTES is set) and numbers become ?;
//   - IN lists of literals become IN (?), and the repeated rows of a
//     multi-row VALUES become one;
//   - comments are dropped and white space runs become one space;
//   - identifiers, keywords, placeholders ($1, ?) and PostgreSQL's
//     "quoted identifiers" stay as written.
//
// Only the start of a long statement is read: the result is cut at the
// template cap (maxTemplate) anyway.
func SQL(text string, mysql bool) string {
	limit := 4 * maxTemplate
	var b strings.Builder
	space := false
	emit := func(s string) {
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteString(s)
	}
	for i := 0; i < len(text) && b.Len() < limit; {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			space = true
			i++
		case c == '-' && strings.HasPrefix(text[i:], "--"), mysql && c == '#':
			i = skipLine(text, i)
			space = true
		case c == '/' && strings.HasPrefix(text[i:], "/*"):
			if j := strings.Index(text[i+2:], "*/"); j >= 0 {
				i += 2 + j + 2
			} else {
				i = len(text)
			}
			space = true
		case c == '\'' || c == '"' && mysql:
			dropStringPrefix(&b)
			i = skipQuoted(text, i, mysql)
			emit("?")
		case c == '"' || c == '`':
			j := skipQuoted(text, i, false)
			emit(text[i:j])
			i = j
		case c == '$' && dollarTag(text, i) > 0:
			i = skipDollar(text, i, dollarTag(text, i))
			emit("?")
		case c >= '0' && c <= '9', c == '.' && i+1 < len(text) && text[i+1] >= '0' && text[i+1] <= '9':
			j := i
			for j < len(text) && (isWordByte(text[j]) || text[j] == '.' ||
				(text[j] == '+' || text[j] == '-') && j > i && (text[j-1] == 'e' || text[j-1] == 'E')) {
				j++
			}
			emit("?")
			i = j
		case isWordByte(c) || c == '$' || c >= 0x80:
			j := i
			for j < len(text) && (isWordByte(text[j]) || text[j] == '$' || text[j] >= 0x80) {
				j++
			}
			emit(text[i:j])
			i = j
		default:
			emit(text[i : i+1])
			i++
		}
	}
	out := strings.TrimRight(collapseLists(b.String()), "; ")
	return clipTemplate(out)
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func skipLine(s string, i int) int {
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(s)
}

// dropStringPrefix removes the E, B, X or N that makes '…' an escape,
// bit, hex or national string, so E'a' and 'a' give the same template.
func dropStringPrefix(b *strings.Builder) {
	s := b.String()
	n := len(s)
	if n == 0 || !strings.ContainsRune("EeBbXxNn", rune(s[n-1])) || n > 1 && isWordByte(s[n-2]) {
		return
	}
	rest := s[:n-1]
	b.Reset()
	b.WriteString(rest)
}

// skipQuoted returns the offset after the quoted text starting at i; a
// doubled quote is part of the text, and so is a backslash escape when
// backslash is set (MySQL strings).
func skipQuoted(s string, i int, backslash bool) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case backslash && s[j] == '\\':
			j++
		case s[j] == q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// dollarTag returns the length of the PostgreSQL dollar-quote opener at
// i ($$ or $tag$), or 0 when there is none ($1 is a parameter).
func dollarTag(s string, i int) int {
	if i > 0 && isWordByte(s[i-1]) {
		return 0
	}
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '$':
			return j - i + 1
		case c >= '0' && c <= '9' && j == i+1:
			return 0
		case !isWordByte(c):
			return 0
		}
	}
	return 0
}

func skipDollar(s string, i, n int) int {
	tag := s[i : i+n]
	if j := strings.Index(s[i+n:], tag); j >= 0 {
		return i + n + j + n
	}
	return len(s)
}

// collapseLists turns "IN (?, ?, ?)" into "IN (?)" and drops the rows
// after the first of "(?, ?), (?, ?)".
func collapseLists(s string) string {
	if !strings.Contains(s, "?") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '(' {
			b.WriteByte(s[i])
			i++
			continue
		}
		end, ok := literalTuple(s, i)
		if !ok {
			b.WriteByte(s[i])
			i++
			continue
		}
		if precededByIN(s[:i]) {
			b.WriteString("(?)")
		} else {
			b.WriteString(s[i:end])
		}
		i = end
		for { // further rows of a VALUES list
			j := i
			for j < len(s) && s[j] == ' ' {
				j++
			}
			if j >= len(s) || s[j] != ',' {
				break
			}
			j++
			for j < len(s) && s[j] == ' ' {
				j++
			}
			next, ok := literalTuple(s, j)
			if !ok || j >= len(s) {
				break
			}
			i = next
		}
	}
	return b.String()
}

// literalTuple reports whether s[i:] starts with "(?, ?, …)" and where
// it ends.
func literalTuple(s string, i int) (int, bool) {
	if i >= len(s) || s[i] != '(' {
		return 0, false
	}
	j := i + 1
	want := true // a ? is expected next
	for ; j < len(s); j++ {
		switch c := s[j]; {
		case c == ' ':
		case c == '?' && want:
			want = false
		case c == ',' && !want:
			want = true
		case c == ')' && !want:
			return j + 1, true
		default:
			return 0, false
		}
	}
	return 0, false
}

func precededByIN(s string) bool {
	s = strings.TrimRight(s, " ")
	if len(s) < 2 || !strings.EqualFold(s[len(s)-2:], "in") {
		return false
	}
	return len(s) == 2 || !isWordByte(s[len(s)-3])
}
