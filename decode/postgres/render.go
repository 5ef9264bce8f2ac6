package postgres

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// verb returns the statement's first keyword, upper case ("SELECT",
// "INSERT", "WITH"), skipping blanks, comments and opening parentheses;
// "" when the text has none.
func verb(sql string) string {
	i := skipSpace(sql, 0)
	for i < len(sql) && sql[i] == '(' {
		i = skipSpace(sql, i+1)
	}
	j := i
	for j < len(sql) && j-i < 32 && isWordChar(sql[j]) {
		j++
	}
	return strings.ToUpper(sql[i:j])
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || j09(c)
}

func j09(c byte) bool { return c >= '0' && c <= '9' }

// skipSpace skips white space and comments from i.
func skipSpace(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f':
			i++
		case strings.HasPrefix(s[i:], "--"):
			k := strings.IndexByte(s[i:], '\n')
			if k < 0 {
				return len(s)
			}
			i += k + 1
		case strings.HasPrefix(s[i:], "/*"):
			k := strings.Index(s[i+2:], "*/")
			if k < 0 {
				return len(s)
			}
			i += k + 4
		default:
			return i
		}
	}
	return i
}

// maxParts bounds how many statements one Query string is split
// into; the rest stays with the last.
const maxParts = 256

// splitStatements splits a simple Query's text at the semicolons that
// end statements, as the server's parser does: not inside quotes,
// double-quoted names, dollar quotes or comments. Each part keeps its
// semicolon and loses surrounding blanks; blank parts are dropped. A
// CREATE FUNCTION ... BEGIN ATOMIC body holds semicolons of its own;
// parts of such a body are rejoined when the part count does not match
// the results (see handler.statementDone).
func splitStatements(sql string) []string {
	var out []string
	start := 0
	emit := func(end int) {
		if p := strings.TrimSpace(sql[start:end]); p != "" && p != ";" {
			out = append(out, p)
		}
		start = end
	}
	for i := 0; i < len(sql) && len(out) < maxParts-1; {
		c := sql[i]
		switch {
		case c == '\'' || c == '"':
			// E'…' strings take backslash escapes; standard strings do not.
			esc := c == '\'' && i > 0 && (sql[i-1] == 'E' || sql[i-1] == 'e') && (i == 1 || !isWordChar(sql[i-2]))
			i = skipQuoted(sql, i+1, c, esc)
		case c == '-' && strings.HasPrefix(sql[i:], "--"), c == '/' && strings.HasPrefix(sql[i:], "/*"):
			i = skipSpace(sql, i)
		case c == '$' && (i == 0 || !isWordChar(sql[i-1])):
			i = skipDollar(sql, i)
		case c == ';':
			i++
			emit(i)
		default:
			i++
		}
	}
	emit(len(sql))
	return out
}

// skipQuoted returns the index after the closing quote q (doubled, it
// stands for itself; with esc, a backslash escapes the next byte).
func skipQuoted(s string, i int, q byte, esc bool) int {
	for i < len(s) {
		switch {
		case s[i] == q && i+1 < len(s) && s[i+1] == q:
			i += 2
		case s[i] == q:
			return i + 1
		case esc && s[i] == '\\':
			i += 2
		default:
			i++
		}
	}
	return len(s)
}

// skipDollar skips a dollar-quoted string at i ($tag$ ... $tag$), or
// just the '$' of a parameter reference ($1).
func skipDollar(s string, i int) int {
	j := i + 1
	for j < len(s) && (isWordChar(s[j]) && !(j == i+1 && j09(s[j]))) {
		j++
	}
	if j >= len(s) || s[j] != '$' {
		return i + 1
	}
	tag := s[i : j+1]
	if k := strings.Index(s[j+1:], tag); k >= 0 {
		return j + 1 + k + len(tag)
	}
	return len(s)
}

// tagRows returns the row count of a CommandComplete tag ("SELECT 3",
// "INSERT 0 1", "COPY 2"), -1 when the tag carries none.
func tagRows(tag string) int64 {
	k := strings.LastIndexByte(tag, ' ')
	if k < 0 {
		return -1
	}
	switch tag[:strings.IndexByte(tag, ' ')] {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "FETCH", "MOVE":
	default:
		return -1
	}
	n, err := strconv.ParseInt(tag[k+1:], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// errFields parses the fields of an ErrorResponse or NoticeResponse:
// severity (V, or S on old servers), SQLSTATE (C), message (M) and the
// rest.
type errFields struct {
	severity, code, message, detail, hint, position string
}

func parseErr(b []byte) errFields {
	var f errFields
	for len(b) > 0 && b[0] != 0 {
		t := b[0]
		v, rest, _ := cstring(b[1:])
		b = rest
		switch t {
		case 'V':
			f.severity = v
		case 'S':
			if f.severity == "" {
				f.severity = v
			}
		case 'C':
			f.code = v
		case 'M':
			f.message = v
		case 'D':
			f.detail = v
		case 'H':
			f.hint = v
		case 'P':
			f.position = v
		}
	}
	return f
}

// text renders the error as the server's log does: "ERROR: message".
func (f errFields) text() string {
	sev := f.severity
	if sev == "" {
		sev = "ERROR"
	}
	return sev + ": " + f.message
}

// column is one field of a RowDescription.
type column struct {
	name   string
	binary bool
}

// parseRowDesc reads a RowDescription's column names and formats.
func parseRowDesc(b []byte, max int) []column {
	n, b, ok := u16(b)
	if !ok {
		return nil
	}
	cols := make([]column, 0, min(n, max))
	for i := 0; i < n && len(cols) < max; i++ {
		name, rest, ok := cstring(b)
		if !ok || len(rest) < 18 {
			break
		}
		// table oid, column number, type oid, size, modifier, format
		cols = append(cols, column{name: name, binary: rest[16] != 0 || rest[17] != 0})
		b = rest[18:]
	}
	return cols
}

// appendRow renders a DataRow as one line of COPY's text format: values
// separated by tabs, NULL as \N, backslash, tab, newline and carriage
// return escaped; binary-format values (per cols) as \x and hex digits.
func appendRow(out []byte, b []byte, cols []column) []byte {
	n, b, ok := u16(b)
	if !ok {
		return append(out, "(malformed row)\n"...)
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			out = append(out, '\t')
		}
		l, rest, ok := i32(b)
		if !ok {
			return append(out, "(cut)\n"...)
		}
		b = rest
		if l < 0 {
			out = append(out, `\N`...)
			continue
		}
		v := b[:min(int(l), len(b))]
		b = b[len(v):]
		if i < len(cols) && cols[i].binary {
			out = append(out, `\x`...)
			out = hex.AppendEncode(out, v)
		} else {
			out = appendEscaped(out, v)
		}
		if int(l) > len(v) {
			out = append(out, "…(cut)"...)
		}
	}
	return append(out, '\n')
}

// appendEscaped appends v with COPY text-format escapes, and other
// control bytes as \ooo octal.
func appendEscaped(out, v []byte) []byte {
	for _, c := range v {
		switch {
		case c == '\\':
			out = append(out, `\\`...)
		case c == '\t':
			out = append(out, `\t`...)
		case c == '\n':
			out = append(out, `\n`...)
		case c == '\r':
			out = append(out, `\r`...)
		case c < 0x20 || c == 0x7f:
			out = append(out, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
		default:
			out = append(out, c)
		}
	}
	return out
}

// bindParams renders a Bind's parameter values the way the server's log
// does ("$1 = 'bolt', $2 = '10'"): text values quoted with ” doubled,
// NULL, and binary values as '\x…' hex. It also returns the portal and
// statement names and the result-column formats (nil: all text).
func bindParams(b []byte) (portal, stmt, params string, results []bool) {
	portal, b, _ = cstring(b)
	stmt, b, _ = cstring(b)
	nf, b, ok := u16(b)
	if !ok {
		return portal, stmt, "", nil
	}
	formats := make([]int, 0, min(nf, 64))
	for i := 0; i < nf; i++ {
		f, rest, ok := u16(b)
		if !ok {
			return portal, stmt, "", nil
		}
		b = rest
		if len(formats) < 64 {
			formats = append(formats, f)
		}
	}
	np, b, ok := u16(b)
	if !ok {
		return portal, stmt, "", nil
	}
	var sb strings.Builder
	for i := 0; i < np; i++ {
		l, rest, ok := i32(b)
		if !ok {
			break
		}
		b = rest
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("$" + strconv.Itoa(i+1) + " = ")
		if l < 0 {
			sb.WriteString("NULL")
			continue
		}
		v := b[:min(int(l), len(b))]
		b = b[len(v):]
		f := 0
		switch {
		case len(formats) == 1:
			f = formats[0]
		case i < len(formats):
			f = formats[i]
		}
		if f == 1 {
			sb.WriteString(`'\x` + hex.EncodeToString(v) + `'`)
		} else {
			sb.WriteString("'" + strings.ReplaceAll(string(appendEscaped(nil, v)), "'", "''") + "'")
		}
	}
	nr, b, ok := u16(b)
	for i := 0; ok && i < nr && i < maxColumns; i++ {
		var f int
		if f, b, ok = u16(b); ok {
			results = append(results, f == 1)
		}
	}
	return portal, stmt, sb.String(), results
}

// withFormats returns cols with the result formats a Bind asked for
// (one code for all columns, or one per column); a Describe of a
// statement reports every column as text since the format is not
// chosen yet.
func withFormats(cols []column, results []bool) []column {
	if len(results) == 0 {
		return cols
	}
	out := make([]column, len(cols))
	for i, c := range cols {
		c.binary = results[0]
		if len(results) > 1 {
			c.binary = i < len(results) && results[i]
		}
		out[i] = c
	}
	return out
}
