package filter

import (
	"sort"
	"strconv"
	"strings"
)

// This file holds the lexical helpers the error translator uses to talk
// about what the user typed: the token before a position, unclosed
// parentheses, and close matches for misspelt names.

// tokenBefore returns the last token ending at or before pos.
func (t *translator) tokenBefore(pos int) string {
	i := min(pos, len(t.src))
	for i > 0 && isSpace(t.src[i-1]) {
		i--
	}
	if i == 0 {
		return ""
	}
	end := i
	c := t.src[i-1]
	switch {
	case isWordRune(c):
		for i > 0 && isWordRune(t.src[i-1]) {
			i--
		}
	case c == '"' || c == '\'':
		i--
		for i > 0 && t.src[i-1] != c {
			i--
		}
		if i > 0 {
			i--
		}
	case strings.ContainsRune("=!<>&|", c):
		for i > 0 && end-i < 2 && strings.ContainsRune("=!<>&|", t.src[i-1]) {
			i--
		}
	default:
		i--
	}
	return string(t.src[i:end])
}

// unclosedParen returns the offset of the last "(" not closed before
// pos, skipping quoted text, or -1.
func (t *translator) unclosedParen(pos int) int {
	var stack []int
	var quote rune
	for i := 0; i < pos && i < len(t.src); i++ {
		c := t.src[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(':
			stack = append(stack, i)
		case c == ')' && len(stack) > 0:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) == 0 {
		return -1
	}
	return stack[len(stack)-1]
}

func isOperator(tok string) bool {
	switch tok {
	case "&&", "||", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "!", "(", "[", ",", "?", ":", "in", ".":
		return true
	}
	return false
}

func isComparison(op string) bool {
	switch op {
	case "==", "!=", "<", "<=", ">", ">=":
		return true
	}
	return false
}

func isWord(tok string) bool {
	if tok == "" || tok == "in" {
		return false
	}
	for _, r := range tok {
		if !isWordRune(r) {
			return false
		}
	}
	return true
}

func isWordRune(r rune) bool {
	return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.'
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// describeToken quotes a token from a parser message for people.
func describeToken(tok string) string {
	if tok == "<EOF>" {
		return "the end of the filter"
	}
	return strconv.Quote(tok)
}

// functionNames lists the functions filters commonly use, for
// suggestions.
func functionNames() []string {
	return []string{"contains", "startsWith", "endsWith", "matches", "size", "duration", "timestamp",
		"int", "string", "double", "has", "exists", "all", "lowerAscii", "upperAscii", "trim", "split", "indexOf", "replace"}
}

// closest returns candidates within a small edit distance of name
// (ignoring case), best first.
func closest(name string, candidates []string) []string {
	type scored struct {
		s string
		d int
	}
	var out []scored
	ln := strings.ToLower(name)
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := editDistance(ln, lc)
		limit := 2
		if len(ln) <= 3 {
			limit = 1
		}
		if d <= limit || len(ln) >= 3 && (strings.HasPrefix(lc, ln) || strings.Contains(lc, ln)) {
			out = append(out, scored{c, d})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].d < out[j].d })
	res := make([]string, 0, min(len(out), 3))
	for i := 0; i < len(out) && i < 3; i++ {
		res = append(res, out[i].s)
	}
	return res
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
