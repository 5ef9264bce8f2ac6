package mask

import (
	"bytes"
	"unicode/utf8"
)

// secretName reports whether a parameter name or JSON key is secret,
// after undoing the encodings a client may legally apply to it: a server
// decodes "api%5Fkey" to "api_key" and "p\u0061ssword" to "password",
// so the rules must see the decoded name, or encoding a name would be
// enough to slip its value past masking. Names without '%' or '\' (all
// ordinary traffic) are matched as they are, without copying.
func (m *Masker) secretName(sc *scratch, name []byte, jsonKey bool) bool {
	// The memo is keyed by the name as written, so a name seen before
	// costs the same whether or not it needed decoding.
	if secret, ok := sc.names.lookup(name, jsonKey); ok {
		return secret
	}
	pct, esc := false, false
	for _, c := range name {
		pct = pct || c == '%'
		esc = esc || c == '\\' && jsonKey
	}
	decoded := name
	if pct || esc {
		sc.key = append(sc.key[:0], name...)
		// Several rounds, because the same text can be encoded more
		// than once (JSON escaped into a JSON string, a form value
		// encoded twice); each round only shrinks the name, so this
		// ends.
		for round := 0; round < 3; round++ {
			n := len(sc.key)
			if esc {
				sc.key = unescapeJSON(sc.key)
			}
			if pct {
				sc.key = unescapePercent(sc.key)
			}
			if len(sc.key) == n {
				break
			}
		}
		decoded = sc.key
	}
	secret := m.matchParam(decoded, jsonKey)
	sc.names.store(name, jsonKey, secret)
	return secret
}

func unhex(c byte) (byte, bool) {
	switch {
	case isDigit(c):
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescapePercent decodes %XX in place; malformed escapes stay as they
// are. '+' is left alone: a space never makes a name secret.
func unescapePercent(b []byte) []byte {
	w := 0
	for r := 0; r < len(b); r++ {
		c := b[r]
		if c == '%' && r+2 < len(b) {
			hi, ok1 := unhex(b[r+1])
			lo, ok2 := unhex(b[r+2])
			if ok1 && ok2 {
				c = hi<<4 | lo
				r += 2
			}
		}
		b[w] = c
		w++
	}
	return b[:w]
}

// unescapeJSON decodes JSON string escapes in place (\uXXXX as UTF-8,
// surrogate halves as U+FFFD); malformed escapes stay as they are.
func unescapeJSON(b []byte) []byte {
	w := 0
	for r := 0; r < len(b); r++ {
		c := b[r]
		if c != '\\' || r+1 >= len(b) {
			b[w] = c
			w++
			continue
		}
		switch e := b[r+1]; e {
		case '"', '\\', '/':
			b[w] = e
			w++
			r++
		case 'b', 'f', 'n', 'r', 't':
			b[w] = ' ' // a control character; only its presence matters
			w++
			r++
		case 'u':
			var v rune
			ok := r+5 < len(b)
			for k := 2; ok && k < 6; k++ {
				d, isHex := unhex(b[r+k])
				v, ok = v<<4|rune(d), isHex
			}
			if !ok {
				b[w] = c
				w++
				continue
			}
			// The UTF-8 form is never longer than the six-byte escape,
			// so writing in place cannot overtake the reader.
			w += utf8.EncodeRune(b[w:], v)
			r += 5
		default:
			b[w] = c
			w++
		}
	}
	return b[:w]
}

// dispositionName returns the field names of a multipart part's
// Content-Disposition line, and whether the part is a file. plain is
// name="x" or name=x (a token, no quotes); ext is the RFC 2231/5987
// extended form name*=UTF-8”x (charset and language dropped; the
// percent-encoding is undone by secretName), with RFC 2231 continuations
// name*0*=..; name*1*=.. joined in order, built in sc.field. Senders may
// give both forms, and either can be the one a server reads.
func dispositionName(sc *scratch, line []byte) (plain, ext []byte, file bool) {
	sc.field = sc.field[:0]
	extFound := false
	for i := bytes.IndexByte(line, ';'); i >= 0 && i < len(line); {
		i++
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		eq := bytes.IndexByte(line[i:], '=')
		if eq < 0 {
			break
		}
		key := bytes.TrimRight(line[i:i+eq], " \t")
		v := i + eq + 1
		for v < len(line) && (line[v] == ' ' || line[v] == '\t') {
			v++
		}
		var val []byte
		if v < len(line) && line[v] == '"' {
			end := v + 1
			for end < len(line) && line[end] != '"' {
				if line[end] == '\\' {
					end++
				}
				end++
			}
			val = line[v+1 : min(end, len(line))]
			i = end + 1
			if k := bytes.IndexByte(line[min(i, len(line)):], ';'); k >= 0 {
				i += k
			} else {
				i = len(line)
			}
		} else {
			end := v
			for end < len(line) && line[end] != ';' && line[end] != '\r' {
				end++
			}
			val = bytes.TrimRight(line[v:end], " \t")
			i = end
		}
		base, star := key, false
		if k := bytes.IndexByte(key, '*'); k >= 0 {
			base, star = key[:k], true
		}
		switch {
		case equalFold(base, "filename"):
			file = true
		case equalFold(base, "name"):
			if star && bytes.HasSuffix(key, []byte("*")) {
				// charset'language'value; only the first section of a
				// continued name carries the prefix.
				if q := bytes.IndexByte(val, '\''); q >= 0 {
					if q2 := bytes.IndexByte(val[q+1:], '\''); q2 >= 0 {
						val = val[q+1+q2+1:]
					}
				}
			}
			if !star {
				plain = val
				continue
			}
			sc.field = append(sc.field, val...)
			extFound = true
		}
	}
	if extFound {
		ext = sc.field
	}
	return plain, ext, file
}
