package view

import "strings"

// maxMarkupIndent caps indentation so deeply nested documents stay
// readable (and bounded) instead of drifting off screen.
const maxMarkupIndent = 40

// markupInline is the longest text kept on one line with its tags, as in
// <name>value</name>.
const markupInline = 80

type tokKind int

const (
	tokText tokKind = iota
	tokOpen
	tokClose
	tokSelf
	tokOther // comment, CDATA, doctype, processing instruction
)

type mtok struct {
	kind tokKind
	text string
	name string // lower-cased element name for tags
}

// htmlVoid reports HTML elements that never have content or a closing tag.
func htmlVoid(name string) bool {
	switch name {
	case "area", "base", "br", "col", "embed", "hr", "img", "input", "link",
		"meta", "param", "source", "track", "wbr":
		return true
	}
	return false
}

// markupLines indents XML or HTML one element per line. It is a tolerant
// tokenizer, not a parser: unclosed tags, stray closing tags, unquoted
// attributes and a '<' in text are all shown rather than rejected.
func markupLines(body []byte, html bool) []string {
	toks := tokenizeMarkup(string(body), html)
	var out []string
	var stack []string
	emit := func(s string) {
		d := min(len(stack), maxMarkupIndent)
		out = append(out, strings.Repeat("  ", d)+Sanitize(s))
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t.kind {
		case tokOpen:
			if html && htmlVoid(t.name) {
				emit(t.text)
				continue
			}
			if n, ok := inlineElement(toks, i); ok {
				emit(joinTexts(toks[i : i+n]))
				i += n - 1
				continue
			}
			emit(t.text)
			stack = append(stack, t.name)
		case tokClose:
			for j := len(stack) - 1; j >= 0; j-- {
				if stack[j] == t.name {
					stack = stack[:j]
					break
				}
			}
			emit(t.text)
		case tokText:
			for _, l := range strings.Split(t.text, "\n") {
				if l = strings.TrimSpace(expandTabs(l)); l != "" {
					emit(l)
				}
			}
		default:
			for _, l := range strings.Split(t.text, "\n") {
				if l = strings.TrimRight(expandTabs(l), " \r"); strings.TrimSpace(l) != "" {
					emit(l)
				}
			}
		}
	}
	return out
}

// inlineElement reports whether toks[i] opens an element whose whole
// content is short text (or nothing), and how many tokens it spans.
func inlineElement(toks []mtok, i int) (int, bool) {
	if i+1 < len(toks) && toks[i+1].kind == tokClose && toks[i+1].name == toks[i].name {
		return 2, true
	}
	if i+2 < len(toks) && toks[i+1].kind == tokText && toks[i+2].kind == tokClose && toks[i+2].name == toks[i].name {
		txt := strings.TrimSpace(toks[i+1].text)
		if len(txt) <= markupInline && !strings.ContainsAny(txt, "\n\r") {
			return 3, true
		}
	}
	return 0, false
}

func joinTexts(toks []mtok) string {
	var b strings.Builder
	for _, t := range toks {
		if t.kind == tokText {
			b.WriteString(strings.TrimSpace(t.text))
		} else {
			b.WriteString(t.text)
		}
	}
	return b.String()
}

func tokenizeMarkup(s string, html bool) []mtok {
	var toks []mtok
	for len(s) > 0 {
		lt := strings.IndexByte(s, '<')
		if lt != 0 {
			if lt < 0 {
				lt = len(s)
			}
			if n := len(toks); n > 0 && toks[n-1].kind == tokText {
				toks[n-1].text += s[:lt]
			} else {
				toks = append(toks, mtok{kind: tokText, text: s[:lt]})
			}
			s = s[lt:]
			continue
		}
		t, rest := nextTag(s)
		if n := len(toks); t.kind == tokText && n > 0 && toks[n-1].kind == tokText {
			toks[n-1].text += t.text
		} else {
			toks = append(toks, t)
		}
		s = rest
		if html && t.kind == tokOpen && (t.name == "script" || t.name == "style") {
			end := indexFold(s, "</"+t.name)
			if end < 0 {
				end = len(s)
			}
			if end > 0 {
				toks = append(toks, mtok{kind: tokOther, text: s[:end]})
			}
			s = s[end:]
		}
	}
	return toks
}

// nextTag reads the construct starting at s[0] == '<'.
func nextTag(s string) (mtok, string) {
	switch {
	case strings.HasPrefix(s, "<!--"):
		return cutAfter(s, "-->", tokOther)
	case strings.HasPrefix(s, "<![CDATA["):
		return cutAfter(s, "]]>", tokOther)
	case strings.HasPrefix(s, "<!") || strings.HasPrefix(s, "<?"):
		return cutAfter(s, ">", tokOther)
	case strings.HasPrefix(s, "</"):
		t, rest := cutAfter(s, ">", tokClose)
		if !strings.HasSuffix(t.text, ">") {
			t.kind = tokText
		}
		t.name = tagName(t.text[2:])
		return t, rest
	}
	if len(s) < 2 || !isNameStart(s[1]) {
		// A lone '<' in text: keep it as text up to the next '<'.
		next := strings.IndexByte(s[1:], '<')
		if next < 0 {
			return mtok{kind: tokText, text: s}, ""
		}
		return mtok{kind: tokText, text: s[:next+1]}, s[next+1:]
	}
	end := tagEnd(s)
	if end < 0 {
		return mtok{kind: tokText, text: s}, ""
	}
	text := collapseSpace(s[:end+1])
	t := mtok{kind: tokOpen, text: text, name: tagName(s[1:])}
	if strings.HasSuffix(text, "/>") {
		t.kind = tokSelf
	}
	return t, s[end+1:]
}

// tagEnd finds the '>' closing a start tag, skipping quoted attribute
// values; when a quote never closes it settles for the first '>'.
func tagEnd(s string) int {
	var quote byte
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		}
	}
	return strings.IndexByte(s, '>')
}

func cutAfter(s, end string, kind tokKind) (mtok, string) {
	i := strings.Index(s, end)
	if i < 0 {
		return mtok{kind: kind, text: s}, ""
	}
	i += len(end)
	return mtok{kind: kind, text: s[:i]}, s[i:]
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || c >= 0x80
}

func tagName(s string) string {
	i := 0
	for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '/' && s[i] != '>' {
		i++
	}
	return strings.ToLower(s[:i])
}

func collapseSpace(s string) string {
	if !strings.ContainsAny(s, "\n\r\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

func indexFold(s, sub string) int {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], sub) {
			return i
		}
	}
	return -1
}
