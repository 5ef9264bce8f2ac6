package mask

import "bytes"

// SQL password literals. Database clients send passwords inside SQL text
// ("ALTER ROLE app PASSWORD 'x'", "CREATE USER u IDENTIFIED BY 'x'",
// "SET PASSWORD = PASSWORD('x')"), and that text shows up as the target
// and body of PostgreSQL and MySQL exchanges, in logs carried over HTTP
// and in the raw streams a packet export scans. The finder masks the
// literal's contents and keeps the quotes and the statement readable.
//
// Only places where SQL means a password literal count: after the word
// PASSWORD (also ENCRYPTED PASSWORD, OLD_PASSWORD(, "PASSWORD =",
// "PASSWORD FOR user =", PASSWORD('x')), after IDENTIFIED BY, after
// IDENTIFIED WITH/VIA plugin BY/AS/USING, and after MySQL's REPLACE
// 'current' that follows IDENTIFIED BY. A double-quoted string counts
// only after '=' or '(' or BY/AS/USING, where MySQL reads it as a string;
// after a bare PASSWORD it is an identifier (PostgreSQL), and skipping it
// keeps JSON such as {"password": "x"} to the JSON rules.

// findSQLPassword appends the spans of password literals in SQL text.
func findSQLPassword(b []byte, out []span) []span {
	out = findAfterPassword(b, out)
	return findAfterIdentified(b, out)
}

// maxUserSpec bounds how far "PASSWORD FOR user =" is followed to its
// '='; account names are short.
const maxUserSpec = 256

func findAfterPassword(b []byte, out []span) []span {
	for i := 0; ; {
		k := indexFoldPivot(b, i, "password", 4) // 'w'
		if k < 0 {
			return out
		}
		i = k + len("password")
		// A word of its own, though OLD_PASSWORD( and new_password count.
		if k > 0 && isAlnum(b[k-1]) || i < len(b) && isIdentChar(b[i]) {
			continue
		}
		j := skipSQLSpace(b, i)
		sep, double := j > i, false
		if j < len(b) && (b[j] == '=' || b[j] == '(') {
			j, sep, double = skipSQLSpace(b, j+1), true, true
		} else if sep && wordAt(b, j, "for") {
			// SET PASSWORD FOR 'u'@'h' = 'x'
			eq := userSpecEnd(b, j+len("for"))
			if eq < 0 {
				continue
			}
			j, double = skipSQLSpace(b, eq+1), true
		}
		if !sep {
			continue
		}
		if lo, hi, ok := sqlLiteral(b, j, double); ok {
			if hi > lo {
				out = append(out, span{lo, hi})
			}
			i = max(i, hi)
		}
	}
}

// indexFoldPivot is indexFold searching for the term's pivot letter
// (a rare one: 'w' of "password", 'f' of "identified") instead of its
// first, so text full of p's and i's (JSON, prose) costs few compares.
func indexFoldPivot(b []byte, from int, term string, pivot int) int {
	c := term[pivot]
	up := c - 'a' + 'A'
	for i := from + pivot; i < len(b); {
		lo, hi := indexByteFrom(b, i, c), indexByteFrom(b, i, up)
		k := lo
		if k < 0 || hi >= 0 && hi < k {
			k = hi
		}
		if k < 0 {
			return -1
		}
		if s := k - pivot; s >= from && s+len(term) <= len(b) && matchFoldAt(b, s, term) {
			return s
		}
		i = k + 1
	}
	return -1
}

// userSpecEnd returns the index of the '=' that ends a MySQL account
// name ('u'@'h', u@h, CURRENT_USER()) starting at i, or -1.
func userSpecEnd(b []byte, i int) int {
	end := min(len(b), i+maxUserSpec)
	for j := i; j < end; j++ {
		switch c := b[j]; c {
		case '=':
			return j
		case ';', 0:
			return -1
		case '\'', '"', '`':
			k := bytes.IndexByte(b[j+1:end], c)
			if k < 0 {
				return -1
			}
			j += k + 1
		}
	}
	return -1
}

func findAfterIdentified(b []byte, out []span) []span {
	for i := 0; ; {
		k := indexFoldPivot(b, i, "identified", 6) // 'f'
		if k < 0 {
			return out
		}
		i = k + len("identified")
		if k > 0 && isIdentChar(b[k-1]) || i < len(b) && isIdentChar(b[i]) {
			continue
		}
		j := skipSQLSpace(b, i)
		switch {
		case wordAt(b, j, "by"):
			lo, hi, ok := sqlLiteral(b, skipSQLSpace(b, j+len("by")), true)
			if !ok {
				continue
			}
			if hi > lo {
				out = append(out, span{lo, hi})
			}
			i = max(i, hi)
			// MySQL: IDENTIFIED BY 'new' REPLACE 'current'.
			r := skipSQLSpace(b, min(len(b), hi+1))
			if wordAt(b, r, "replace") {
				if lo, hi, ok := sqlLiteral(b, skipSQLSpace(b, r+len("replace")), true); ok && hi > lo {
					out = append(out, span{lo, hi})
					i = max(i, hi)
				}
			}
		case wordAt(b, j, "with"):
			// IDENTIFIED WITH plugin BY|AS 'x'
			out, i = pluginAuth(b, j+len("with"), out, i)
		case wordAt(b, j, "via"):
			// MariaDB: IDENTIFIED VIA plugin USING 'x' OR plugin USING 'y'
			out, i = pluginAuth(b, j+len("via"), out, i)
		}
	}
}

// pluginAuth follows "plugin BY|AS|USING 'x' [OR plugin ...]" from j and
// returns out with the literals and where the outer scan goes on.
func pluginAuth(b []byte, j int, out []span, next int) ([]span, int) {
	for range 8 { // a few OR alternatives at most
		j = skipIdent(b, skipSQLSpace(b, j))
		j = skipSQLSpace(b, j)
		var w int
		switch {
		case wordAt(b, j, "by"), wordAt(b, j, "as"):
			w = 2
		case wordAt(b, j, "using"):
			w = 5
		default:
			return out, next
		}
		lo, hi, ok := sqlLiteral(b, skipSQLSpace(b, j+w), true)
		if !ok {
			return out, next // USING PASSWORD('x'): the PASSWORD scan has it
		}
		if hi > lo {
			out = append(out, span{lo, hi})
		}
		next = max(next, hi)
		j = skipSQLSpace(b, min(len(b), hi+1))
		if !wordAt(b, j, "or") {
			return out, next
		}
		j += len("or")
	}
	return out, next
}

// sqlLiteral reads the string literal starting at i and returns the
// range of its contents. Accepted: '…' (with ” and backslash escapes,
// since MySQL and PostgreSQL E-strings use them), "…" when double is set,
// PostgreSQL's E'…', MySQL's N'…', X'…' and _charset'…' introducers,
// and dollar quoting ($$…$$, $tag$…$tag$). A literal that does not end
// runs to the end of b, or to a NUL byte: no SQL text holds one, and
// PostgreSQL ends its wire strings with one, so an unterminated literal
// never swallows the framing of the next message.
func sqlLiteral(b []byte, i int, double bool) (lo, hi int, ok bool) {
	if i >= len(b) {
		return 0, 0, false
	}
	i = skipIntroducer(b, i)
	if i >= len(b) {
		return 0, 0, false
	}
	q := b[i]
	switch {
	case q == '$':
		return dollarLiteral(b, i)
	case q == '\'', q == '"' && double:
	default:
		return 0, 0, false
	}
	lo = i + 1
	for k := lo; k < len(b); k++ {
		switch b[k] {
		case '\\':
			k++
		case 0:
			return lo, k, true
		case q:
			if k+1 < len(b) && b[k+1] == q {
				k++
				continue
			}
			return lo, k, true
		}
	}
	return lo, len(b), true
}

// skipIntroducer skips a prefix that makes the following quote a
// literal of another kind: E, N, X, B (one letter) or _charset.
func skipIntroducer(b []byte, i int) int {
	if i+1 < len(b) && b[i+1] == '\'' {
		switch lower(b[i]) {
		case 'e', 'n', 'x', 'b':
			return i + 1
		}
		return i
	}
	if b[i] != '_' {
		return i
	}
	j := i + 1
	for j < len(b) && j-i <= 32 && isAlnum(b[j]) {
		j++
	}
	if j > i+1 && j < len(b) && b[j] == '\'' {
		return j
	}
	return i
}

// dollarLiteral reads a PostgreSQL dollar-quoted string at i.
func dollarLiteral(b []byte, i int) (lo, hi int, ok bool) {
	j := i + 1
	for j < len(b) && j-i <= 64 && (isLetter(b[j]) || b[j] == '_' || j > i+1 && isDigit(b[j])) {
		j++
	}
	if j >= len(b) || b[j] != '$' {
		return 0, 0, false
	}
	tag := b[i : j+1]
	lo = j + 1
	hi = len(b)
	if k := bytes.Index(b[lo:], tag); k >= 0 {
		hi = lo + k
	}
	if z := bytes.IndexByte(b[lo:hi], 0); z >= 0 {
		hi = lo + z
	}
	return lo, hi, true
}

// skipSQLSpace skips white space and comments (/* … */ and -- to the
// end of the line) from i.
func skipSQLSpace(b []byte, i int) int {
	for i < len(b) {
		switch c := b[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			k := bytes.Index(b[i+2:], []byte("*/"))
			if k < 0 {
				return len(b)
			}
			i += k + 4
		case c == '-' && i+1 < len(b) && b[i+1] == '-':
			k := bytes.IndexByte(b[i:], '\n')
			if k < 0 {
				return len(b)
			}
			i += k + 1
		default:
			return i
		}
	}
	return i
}

// skipIdent skips a plugin name: an identifier or a quoted name.
func skipIdent(b []byte, i int) int {
	if i < len(b) && (b[i] == '\'' || b[i] == '"' || b[i] == '`') {
		if k := bytes.IndexByte(b[i+1:], b[i]); k >= 0 {
			return i + k + 2
		}
		return len(b)
	}
	for i < len(b) && isIdentChar(b[i]) {
		i++
	}
	return i
}

func isIdentChar(c byte) bool { return isAlnum(c) || c == '_' || c == '$' }

// wordAt reports whether the lower-case word w is at i, whole.
func wordAt(b []byte, i int, w string) bool {
	if i+len(w) > len(b) || !matchFoldAt(b, i, w) {
		return false
	}
	return i+len(w) == len(b) || !isIdentChar(b[i+len(w)])
}
