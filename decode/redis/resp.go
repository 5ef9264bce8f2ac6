package redis

import (
	"errors"
	"fmt"
	"strconv"
)

// Bounds of one message, so hostile input cannot grow memory: what is
// kept is capped, what is skipped is only counted.
const (
	// maxLine is the longest line (type line, inline command) accepted;
	// Redis itself refuses inline commands over 64 KB.
	maxLine = 64 << 10
	// maxDepth is the deepest nesting of aggregates accepted (Redis
	// replies nest a few levels; a deeper one is taken for garbage).
	maxDepth = 64
	// maxKept is how many values of one message are kept for rendering;
	// the rest are counted in their parent's declared size only.
	maxKept = 4096
	// maxCount is the largest aggregate or bulk size believed.
	maxCount = 1 << 40
)

// value is one RESP value as far as it was kept.
type value struct {
	// kind is the RESP type byte ('+', '-', ':', '$', '*', '%', '~',
	// '>', '_', '#', ',', '(', '!', '=').
	kind byte
	// inline marks a request sent as an inline command (a line of
	// words), whose elems are its words.
	inline bool
	// null marks "$-1" and "*-1" (RESP2 nulls); '_' is always null.
	null bool
	// str holds the kept bytes of a string or the line of a scalar.
	str []byte
	// size is the full length of a bulk, verbatim or blob error.
	size int64
	// n is the declared number of elements (map: pairs).
	n int64
	// elems are the kept elements; a map's are key, value, key, value.
	elems []*value
	// attr is a RESP3 attribute sent before the value.
	attr *value
	// cut is set when str or elems hold less than the wire carried.
	cut bool
}

// frame is an aggregate still waiting for elements.
type frame struct {
	v    *value
	left int64
	kept bool // v is attached to the message (not past maxKept)
}

// errProtocol wraps every framing error, so callers can tell them from
// nothing.
var errProtocol = errors.New("redis protocol error")

func protoErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errProtocol}, a...)...)
}

// reader parses one direction's RESP messages incrementally: bytes go in
// as they arrive, whole top-level messages come out. Strings are kept up
// to the budget of the message; the rest is skipped, not buffered.
type reader struct {
	// inline accepts inline commands (the request direction).
	inline bool
	budget int // string bytes kept per message

	line     []byte // a line not complete yet
	stack    []frame
	bulk     *value // a bulk string being read
	bulkKept bool
	left     int64 // content bytes of bulk still to come
	crlf     int   // CRLF bytes after the bulk still to come (0-2)
	attr     *value
	root     *value
	kept     int   // values kept in this message
	keptB    int   // string bytes kept in this message
	wire     int64 // bytes of this message so far
	inMsg    bool
}

func newReader(inline bool, budget int) *reader {
	return &reader{inline: inline, budget: budget}
}

// reset forgets any partial message (after a gap or an error).
func (r *reader) reset() {
	*r = reader{inline: r.inline, budget: r.budget}
}

// started reports whether a message is partly read.
func (r *reader) started() bool { return r.inMsg }

// next consumes bytes of b until one message is complete or b is used
// up. It returns the bytes consumed, the message (nil if none finished)
// and its size on the wire. After an error the reader must be reset.
func (r *reader) next(b []byte) (int, *value, int64, error) {
	used := 0
	for used < len(b) {
		if len(r.line) == 0 && r.bulk == nil && !r.inMsg {
			r.inMsg = true
		}
		if r.bulk != nil {
			n, done, err := r.bulkBytes(b[used:])
			used += n
			r.wire += int64(n)
			if err != nil {
				return used, nil, 0, err
			}
			if done {
				v := r.bulk
				r.bulk = nil
				if m := r.complete(v); m != nil {
					return used, m, r.finish(), nil
				}
			}
			continue
		}
		i := indexNL(b[used:])
		if i < 0 {
			if len(r.line)+len(b)-used > maxLine {
				return used, nil, 0, protoErr("a line longer than %d bytes", maxLine)
			}
			r.line = append(r.line, b[used:]...)
			r.wire += int64(len(b) - used)
			return len(b), nil, 0, nil
		}
		var line []byte
		if len(r.line) > 0 {
			if len(r.line)+i > maxLine {
				return used, nil, 0, protoErr("a line longer than %d bytes", maxLine)
			}
			r.line = append(r.line, b[used:used+i]...)
			line = r.line
		} else {
			line = b[used : used+i]
		}
		used += i + 1
		r.wire += int64(i + 1)
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		m, err := r.lineDone(line)
		r.line = r.line[:0]
		if err != nil {
			return used, nil, 0, err
		}
		if m != nil {
			return used, m, r.finish(), nil
		}
	}
	return used, nil, 0, nil
}

func indexNL(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// finish returns the finished message's size and readies the next.
func (r *reader) finish() int64 {
	w := r.wire
	r.wire, r.kept, r.keptB, r.root, r.inMsg = 0, 0, 0, nil, false
	return w
}

// bulkBytes reads the content and CRLF of a bulk string.
func (r *reader) bulkBytes(b []byte) (int, bool, error) {
	n := 0
	if r.left > 0 {
		k := int(min(r.left, int64(len(b))))
		if r.bulkKept {
			room := min(k, r.budget-r.keptB)
			if room > 0 {
				r.bulk.str = append(r.bulk.str, b[:room]...)
				r.keptB += room
			}
			if room < k {
				r.bulk.cut = true
			}
		}
		r.left -= int64(k)
		n = k
	}
	for r.left == 0 && r.crlf > 0 && n < len(b) {
		want := byte('\n')
		if r.crlf == 2 {
			want = '\r'
		}
		if b[n] != want {
			return n, false, protoErr("bulk string not followed by CRLF")
		}
		r.crlf--
		n++
	}
	return n, r.left == 0 && r.crlf == 0, nil
}

// lineDone handles one complete line.
func (r *reader) lineDone(line []byte) (*value, error) {
	if len(r.stack) == 0 && r.inline && (len(line) == 0 || line[0] != '*') {
		if len(line) == 0 {
			// Redis skips empty lines between commands.
			r.finish()
			return nil, nil
		}
		return r.inlineCommand(line)
	}
	if len(line) == 0 {
		return nil, protoErr("an empty line where a type byte was expected")
	}
	v := &value{kind: line[0]}
	if r.attr != nil && line[0] != '|' {
		v.attr, r.attr = r.attr, nil
	}
	rest := line[1:]
	switch v.kind {
	case '+', '-', ':', ',', '(', '#':
		r.keep(v, rest)
		if err := checkScalar(v.kind, rest); err != nil {
			return nil, err
		}
		return r.complete(v), nil
	case '_':
		v.null = true
		return r.complete(v), nil
	case '$', '=', '!':
		n, err := parseCount(rest, v.kind == '$')
		if err != nil {
			return nil, err
		}
		if n < 0 {
			v.null = true
			return r.complete(v), nil
		}
		v.size = n
		r.bulk, r.left, r.crlf = v, n, 2
		r.bulkKept = r.attachable()
		return nil, nil
	case '*', '~', '>', '%', '|':
		n, err := parseCount(rest, v.kind == '*')
		if err != nil {
			return nil, err
		}
		if n < 0 {
			v.null = true
			return r.complete(v), nil
		}
		v.n = n
		elems := n
		if v.kind == '%' || v.kind == '|' {
			elems = 2 * n
		}
		if elems == 0 {
			return r.complete(v), nil
		}
		if len(r.stack) >= maxDepth {
			return nil, protoErr("aggregates nested deeper than %d", maxDepth)
		}
		r.stack = append(r.stack, frame{v: v, left: elems, kept: r.attachable()})
		return nil, nil
	case '?', ';', '.':
		return nil, protoErr("streamed RESP3 aggregates are not decoded")
	}
	return nil, protoErr("unknown type byte %q", v.kind)
}

// attachable says whether the next value will be kept: the message has
// room and every enclosing aggregate is kept.
func (r *reader) attachable() bool {
	if n := len(r.stack); n > 0 && !r.stack[n-1].kept {
		return false
	}
	return r.kept < maxKept
}

// keep stores a scalar's line within the budget.
func (r *reader) keep(v *value, s []byte) {
	room := min(len(s), r.budget-r.keptB)
	if room < 0 {
		room = 0
	}
	v.str = append([]byte(nil), s[:room]...)
	r.keptB += room
	v.cut = room < len(s)
	v.size = int64(len(s))
}

// complete attaches a finished value to its parent and returns the
// message when the value was the top level.
func (r *reader) complete(v *value) *value {
	for {
		if v.kind == '|' {
			// An attribute describes the value that follows it.
			r.attr = v
			return nil
		}
		if len(r.stack) == 0 {
			if r.root == nil {
				r.root = v
			}
			return v
		}
		f := &r.stack[len(r.stack)-1]
		if f.kept && r.kept < maxKept {
			f.v.elems = append(f.v.elems, v)
			r.kept++
		} else {
			f.v.cut = true
		}
		f.left--
		if f.left > 0 {
			return nil
		}
		v = f.v
		r.stack = r.stack[:len(r.stack)-1]
	}
}

// parseCount reads a length or element count; -1 is null where nullOK.
func parseCount(b []byte, nullOK bool) (int64, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	switch {
	case err != nil:
		return 0, protoErr("bad length %q", clip(b))
	case n == -1 && nullOK:
		return -1, nil
	case n < 0 || n > maxCount:
		return 0, protoErr("length %d out of range", n)
	}
	return n, nil
}

// checkScalar rejects scalars whose text cannot be of their type, which
// is how a reader that lost its place finds out.
func checkScalar(kind byte, b []byte) error {
	switch kind {
	case ':', '(':
		if _, ok := parseInteger(b); !ok {
			return protoErr("bad integer %q", clip(b))
		}
	case '#':
		if len(b) != 1 || b[0] != 't' && b[0] != 'f' {
			return protoErr("bad boolean %q", clip(b))
		}
	case ',':
		switch string(b) {
		case "inf", "-inf", "nan":
			return nil
		}
		if _, err := strconv.ParseFloat(string(b), 64); err != nil {
			return protoErr("bad double %q", clip(b))
		}
	}
	return nil
}

// parseInteger accepts an optional minus sign and decimal digits (big
// numbers included, so no overflow check beyond the digits).
func parseInteger(b []byte) (int64, bool) {
	s := b
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if len(s) == 0 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, _ := strconv.ParseInt(string(b), 10, 64)
	return n, true
}

func clip(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "…"
	}
	return string(b)
}

// inlineCommand splits an inline command into words as Redis does:
// spaces separate, "double quotes" take \n \r \t \b \a \\ \" and \xHH
// escapes, 'single quotes' only \'.
func (r *reader) inlineCommand(line []byte) (*value, error) {
	words, ok := splitArgs(line)
	if !ok {
		return nil, protoErr("unbalanced quotes in an inline command")
	}
	v := &value{kind: '*', inline: true, n: int64(len(words))}
	for _, w := range words {
		e := &value{kind: '$', size: int64(len(w))}
		if r.kept < maxKept {
			room := min(len(w), max(r.budget-r.keptB, 0))
			e.str = w[:room]
			e.cut = room < len(w)
			r.keptB += room
			v.elems = append(v.elems, e)
			r.kept++
		} else {
			v.cut = true
		}
	}
	if len(words) == 0 {
		r.finish()
		return nil, nil
	}
	return v, nil
}

func splitArgs(line []byte) ([][]byte, bool) {
	var out [][]byte
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r') {
			i++
		}
		if i >= len(line) {
			return out, true
		}
		var w []byte
		switch line[i] {
		case '"':
			i++
			for {
				if i >= len(line) {
					return nil, false
				}
				c := line[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'b':
						c = '\b'
					case 'a':
						c = '\a'
					case 'x':
						if i+2 < len(line) {
							if h, err := strconv.ParseUint(string(line[i+1:i+3]), 16, 8); err == nil {
								c = byte(h)
								i += 2
								break
							}
						}
						c = 'x'
					default:
						c = line[i]
					}
				}
				w = append(w, c)
				i++
			}
			if i < len(line) && line[i] != ' ' && line[i] != '\t' {
				return nil, false
			}
		case '\'':
			i++
			for {
				if i >= len(line) {
					return nil, false
				}
				c := line[i]
				if c == '\'' {
					i++
					break
				}
				if c == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					i++
					c = '\''
				}
				w = append(w, c)
				i++
			}
			if i < len(line) && line[i] != ' ' && line[i] != '\t' {
				return nil, false
			}
		default:
			j := i
			for j < len(line) && line[j] != ' ' && line[j] != '\t' && line[j] != '\r' {
				j++
			}
			w = append(w, line[i:j]...)
			i = j
		}
		out = append(out, w)
		if len(out) > maxKept*4 {
			return out, true
		}
	}
}
