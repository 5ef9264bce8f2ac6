package view

// maxJSONDepth bounds nesting so a hostile body of a million '[' cannot
// exhaust the stack; deeper documents are shown as text.
const maxJSONDepth = 512

// jsonPrinter reformats JSON token by token. It never decodes into maps,
// so object keys keep their wire order, duplicates survive and numbers keep
// their exact spelling.
type jsonPrinter struct {
	in  []byte
	pos int
	// out holds every line back to back; ends marks where each line
	// stops. One string conversion at the end yields all lines, instead
	// of an allocation per line.
	out  []byte
	ends []int
}

// prettyJSON reformats one JSON value, or several separated by whitespace
// (NDJSON), with two-space indentation. limit > 0 stops after that many
// top-level values (sniffing needs only the first). It reports false when
// the input is not JSON.
func prettyJSON(body []byte, limit int) ([]string, bool) {
	p := &jsonPrinter{in: body, out: make([]byte, 0, len(body)+len(body)/2)}
	n := 0
	for {
		p.skipSpace()
		if p.pos >= len(p.in) {
			break
		}
		if n > 0 {
			p.newline(0)
		}
		if !p.value(0) {
			return nil, false
		}
		n++
		if limit > 0 && n >= limit {
			break
		}
	}
	if n == 0 {
		return nil, false
	}
	p.ends = append(p.ends, len(p.out))
	all := string(p.out)
	lines := make([]string, len(p.ends))
	start := 0
	for i, end := range p.ends {
		lines[i] = Sanitize(all[start:end])
		start = end
	}
	return lines, true
}

func (p *jsonPrinter) writeByte(c byte)     { p.out = append(p.out, c) }
func (p *jsonPrinter) write(b []byte)       { p.out = append(p.out, b...) }
func (p *jsonPrinter) writeString(s string) { p.out = append(p.out, s...) }

func (p *jsonPrinter) skipSpace() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonPrinter) newline(depth int) {
	p.ends = append(p.ends, len(p.out))
	for i := 0; i < depth; i++ {
		p.out = append(p.out, ' ', ' ')
	}
}

func (p *jsonPrinter) value(depth int) bool {
	if depth > maxJSONDepth || p.pos >= len(p.in) {
		return false
	}
	switch c := p.in[p.pos]; {
	case c == '{':
		return p.container(depth, '}', true)
	case c == '[':
		return p.container(depth, ']', false)
	case c == '"':
		return p.str()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return false
}

// container prints an object (keyed) or an array, one member per line;
// empty containers stay on one line.
func (p *jsonPrinter) container(depth int, end byte, keyed bool) bool {
	p.writeByte(p.in[p.pos])
	p.pos++
	p.skipSpace()
	if p.pos < len(p.in) && p.in[p.pos] == end {
		p.writeByte(end)
		p.pos++
		return true
	}
	for {
		p.newline(depth + 1)
		p.skipSpace()
		if keyed {
			if p.pos >= len(p.in) || p.in[p.pos] != '"' || !p.str() {
				return false
			}
			p.skipSpace()
			if p.pos >= len(p.in) || p.in[p.pos] != ':' {
				return false
			}
			p.pos++
			p.writeString(": ")
			p.skipSpace()
		}
		if !p.value(depth + 1) {
			return false
		}
		p.skipSpace()
		if p.pos >= len(p.in) {
			return false
		}
		switch p.in[p.pos] {
		case ',':
			p.writeByte(',')
			p.pos++
		case end:
			p.pos++
			p.newline(depth)
			p.writeByte(end)
			return true
		default:
			return false
		}
	}
}

// str copies a string token verbatim, escapes included, after checking
// that it terminates and its escapes are well formed.
func (p *jsonPrinter) str() bool {
	start := p.pos
	i := p.pos + 1
	for i < len(p.in) {
		switch p.in[i] {
		case '"':
			p.write(p.in[start : i+1])
			p.pos = i + 1
			return true
		case '\\':
			if i+1 >= len(p.in) {
				return false
			}
			switch p.in[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(p.in) || !isHex4(p.in[i+2:i+6]) {
					return false
				}
				i += 6
			default:
				return false
			}
		case '\n':
			return false
		default:
			i++
		}
	}
	return false
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func (p *jsonPrinter) literal(word string) bool {
	if len(p.in)-p.pos < len(word) || string(p.in[p.pos:p.pos+len(word)]) != word {
		return false
	}
	p.writeString(word)
	p.pos += len(word)
	return true
}

// number copies a number token; it checks the character set and that a
// digit is present, which is enough to tell JSON from prose.
func (p *jsonPrinter) number() bool {
	start := p.pos
	digits := false
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c >= '0' && c <= '9' {
			digits = true
		} else if c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		p.pos++
	}
	if !digits {
		return false
	}
	p.write(p.in[start:p.pos])
	return true
}
