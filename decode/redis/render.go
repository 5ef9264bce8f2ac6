package redis

import (
	"strconv"
	"strings"
)

// textBuf collects a rendering up to a cap; past it, writes are dropped
// and cut is set.
type textBuf struct {
	b   []byte
	cap int
	cut bool
}

func (t *textBuf) str(s string) {
	if t.cut {
		return
	}
	if len(t.b)+len(s) > t.cap {
		t.b = append(t.b, s[:max(t.cap-len(t.b), 0)]...)
		t.cut = true
		return
	}
	t.b = append(t.b, s...)
}

// quote writes b in double quotes the way redis-cli prints strings:
// printable ASCII as is, \" \\ \n \r \t \a \b escaped, other bytes as
// \xHH.
func (t *textBuf) quote(b []byte) {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range b {
		switch c {
		case '"', '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\a':
			sb.WriteString(`\a`)
		case '\b':
			sb.WriteString(`\b`)
		default:
			if c < 0x20 || c >= 0x7f {
				sb.WriteString(`\x`)
				sb.WriteByte("0123456789abcdef"[c>>4])
				sb.WriteByte("0123456789abcdef"[c&15])
			} else {
				sb.WriteByte(c)
			}
		}
	}
	sb.WriteByte('"')
	t.str(sb.String())
}

// renderCommand renders a request: the command word, then each argument
// quoted; secret arguments (see secretArgs) as <password>.
func renderCommand(v *value, secret []int, limit int) ([]byte, bool) {
	t := &textBuf{cap: limit}
	si := 0
	for i, e := range v.elems {
		if i > 0 {
			t.str(" ")
		}
		switch {
		case si < len(secret) && secret[si] == i:
			si++
			t.str("<password>")
		case i == 0:
			t.str(strings.ToUpper(string(e.str)))
		default:
			t.quote(e.str)
			if e.cut {
				t.str("… (" + strconv.FormatInt(e.size, 10) + " bytes)")
			}
		}
	}
	if v.cut {
		t.str(" … (" + strconv.FormatInt(v.n, 10) + " arguments)")
	}
	return t.b, t.cut || v.cut
}

// renderReply renders a reply as redis-cli does, with RESP3 types named:
// status text bare, "(error) …", "(integer) 1", "(double) 1.5",
// "(big number) …", "(true)", "(nil)", strings quoted, aggregates as
// numbered lines (arrays "1)", sets "1~", pushes "1>", maps "1# k => v"),
// an attribute as "(attribute)" lines before its value.
func renderReply(v *value, limit int) ([]byte, bool) {
	t := &textBuf{cap: limit}
	renderValue(t, v, "")
	return t.b, t.cut
}

func renderValue(t *textBuf, v *value, indent string) {
	if v.attr != nil {
		t.str("(attribute) ")
		renderAggregate(t, v.attr, indent+"    ")
		t.str("\n" + indent)
	}
	switch v.kind {
	case '+':
		t.str(string(v.str))
	case '-', '!':
		t.str("(error) ")
		t.str(string(v.str))
	case ':':
		t.str("(integer) " + string(v.str))
	case ',':
		t.str("(double) " + string(v.str))
	case '(':
		t.str("(big number) " + string(v.str))
	case '#':
		if string(v.str) == "t" {
			t.str("(true)")
		} else {
			t.str("(false)")
		}
	case '_':
		t.str("(nil)")
	case '$', '=':
		if v.null {
			t.str("(nil)")
			return
		}
		s := v.str
		if v.kind == '=' {
			if len(s) >= 4 && s[3] == ':' {
				t.str("(verbatim " + string(s[:3]) + ") ")
				s = s[4:]
			} else {
				t.str("(verbatim) ")
			}
		}
		t.quote(s)
		if v.cut {
			t.str("… (" + strconv.FormatInt(v.size, 10) + " bytes)")
		}
	default:
		if v.null {
			t.str("(nil)")
			return
		}
		renderAggregate(t, v, indent)
	}
}

func renderAggregate(t *textBuf, v *value, indent string) {
	name, mark := "array", ")"
	switch v.kind {
	case '~':
		name, mark = "set", "~"
	case '>':
		name, mark = "push", ">"
	case '%', '|':
		name, mark = "map", "#"
	}
	if v.n == 0 {
		t.str("(empty " + name + ")")
		return
	}
	step := 1
	if mark == "#" {
		step = 2
	}
	for i, k := 0, 1; i < len(v.elems); i, k = i+step, k+1 {
		if i > 0 {
			t.str("\n" + indent)
		}
		num := strconv.Itoa(k) + mark + " "
		t.str(num)
		inner := indent + strings.Repeat(" ", len(num))
		renderValue(t, v.elems[i], inner)
		if step == 2 && i+1 < len(v.elems) {
			t.str(" => ")
			renderValue(t, v.elems[i+1], inner)
		}
		if t.cut {
			return
		}
	}
	if v.cut {
		t.str("\n" + indent + "… (" + strconv.FormatInt(v.n, 10) + " " + plural(name) + " in all)")
	}
}

func plural(name string) string {
	if name == "push" {
		return "elements"
	}
	return "elements of the " + name
}

// typeName names a reply's RESP type for the Type header.
func typeName(v *value) string {
	switch v.kind {
	case '+':
		return "simple-string"
	case '-':
		return "error"
	case '!':
		return "blob-error"
	case ':':
		return "integer"
	case '$':
		if v.null {
			return "null-bulk"
		}
		return "bulk-string"
	case '*':
		if v.null {
			return "null-array"
		}
		return "array"
	case '%':
		return "map"
	case '~':
		return "set"
	case '>':
		return "push"
	case '_':
		return "null"
	case '#':
		return "boolean"
	case ',':
		return "double"
	case '(':
		return "big-number"
	case '=':
		return "verbatim-string"
	}
	return "unknown"
}

// rows is what QueryInfo.Rows says of a reply: elements of an
// aggregate (pairs of a map), 1 for a string, 0 for a null, -1 for
// scalars and errors.
func rows(v *value) int64 {
	switch v.kind {
	case '$', '=':
		if v.null {
			return 0
		}
		return 1
	case '*', '~', '>', '%':
		if v.null {
			return 0
		}
		return v.n
	case '_':
		return 0
	}
	return -1
}
