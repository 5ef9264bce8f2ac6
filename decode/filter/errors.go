package filter

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
)

// Error is a filter that does not compile. Pos is the 0-based rune offset
// in the expression where the problem is, so the UI can put a caret under
// it; Msg says what is wrong and how to fix it, in words a person can act
// on rather than parser jargon.
type Error struct {
	Pos int
	Msg string
}

// Error renders "column N: message" with a 1-based column, as people
// count.
func (e *Error) Error() string { return fmt.Sprintf("column %d: %s", e.Pos+1, e.Msg) }

// celMessages recognises the CEL messages the translator rewrites. They
// are immutable once compiled.
type celMessages struct {
	mismatched, extraneous, missing, token, undeclared, overload, expected *regexp.Regexp
}

func newCELMessages() celMessages {
	return celMessages{
		mismatched: regexp.MustCompile(`^Syntax error: mismatched input '(.*)' expecting`),
		extraneous: regexp.MustCompile(`^Syntax error: extraneous input '(.*)' expecting`),
		missing:    regexp.MustCompile(`^Syntax error: missing '?(.*?)'? at '(.*)'$`),
		token:      regexp.MustCompile(`^Syntax error: token recognition error at: '(.*)'$`),
		undeclared: regexp.MustCompile(`^undeclared reference to '([^']*)'`),
		overload:   regexp.MustCompile(`^found no matching overload for '([^']*)' applied to '(.*)'$`),
		expected:   regexp.MustCompile(`^expected type '([^']*)' but found '([^']*)'$`),
	}
}

// translator turns CEL issues into Errors about one expression.
type translator struct {
	src   []rune
	decls []varDecl
	re    celMessages
	// parsed is the parsed AST when parsing succeeded, used to find what
	// a checker error refers to.
	parsed *celast.AST
}

// pos converts a CEL location (1-based line, 0-based rune column) into a
// rune offset in the whole expression.
func (t *translator) pos(loc common.Location) int {
	line, col := loc.Line(), loc.Column()
	off := 0
	for l := 1; l < line && off < len(t.src); off++ {
		if t.src[off] == '\n' {
			l++
		}
	}
	off += max(col, 0)
	return min(off, len(t.src))
}

// issue translates the first CEL error (later ones are usually knock-on
// effects of the first).
func (t *translator) issue(iss *cel.Issues) *Error {
	errs := iss.Errors()
	if len(errs) == 0 {
		return &Error{Pos: 0, Msg: strings.TrimSpace(iss.String())}
	}
	e := errs[0]
	p := t.pos(e.Location)
	return &Error{Pos: p, Msg: t.message(e.Message, e.ExprID, p)}
}

func (t *translator) message(msg string, id int64, pos int) string {
	if m := t.re.mismatched.FindStringSubmatch(msg); m != nil {
		return t.unexpected(m[1], pos)
	}
	if m := t.re.extraneous.FindStringSubmatch(msg); m != nil {
		return t.unexpected(m[1], pos)
	}
	if m := t.re.missing.FindStringSubmatch(msg); m != nil {
		if m[1] == ")" {
			if open := t.unclosedParen(pos); open >= 0 {
				return fmt.Sprintf(`missing ")" to close the "(" at column %d`, open+1)
			}
		}
		return fmt.Sprintf("expected %q before %s", m[1], describeToken(m[2]))
	}
	if m := t.re.token.FindStringSubmatch(msg); m != nil {
		return badCharacter(m[1])
	}
	if m := t.re.undeclared.FindStringSubmatch(msg); m != nil {
		return t.undeclared(m[1], id)
	}
	if strings.HasPrefix(msg, "reserved identifier: ") {
		return fmt.Sprintf("%q is a reserved word and cannot be used as a name", strings.TrimPrefix(msg, "reserved identifier: "))
	}
	if m := t.re.overload.FindStringSubmatch(msg); m != nil {
		return t.overload(m[1], m[2], id)
	}
	if m := t.re.expected.FindStringSubmatch(msg); m != nil && m[1] == "bool" {
		return t.notCondition(id, typeWords(m[2]))
	}
	return strings.TrimPrefix(msg, "Syntax error: ")
}

// unexpected explains a token the parser did not expect at pos ("<EOF>"
// when the filter ended too early).
func (t *translator) unexpected(tok string, pos int) string {
	prev := t.tokenBefore(pos)
	if tok == "<EOF>" {
		switch {
		case prev == "":
			return "the filter is empty"
		case isOperator(prev):
			return fmt.Sprintf("expected an operand after %q", prev)
		default:
			return fmt.Sprintf("the filter ends too early after %q", prev)
		}
	}
	switch {
	case tok == ")":
		return `unexpected ")": there is no "(" to close`
	case isOperator(prev) && isOperator(tok):
		return fmt.Sprintf("expected an operand after %q, found %q", prev, tok)
	case prev != "" && !isOperator(prev) && !isOperator(tok):
		hint := fmt.Sprintf("unexpected %s: join conditions with && or ||", describeToken(tok))
		if isWord(prev) && isWord(tok) {
			hint += fmt.Sprintf(`, or search the URL for text with url.contains("%s %s")`, prev, tok)
		}
		return hint
	}
	return "unexpected " + describeToken(tok)
}

// badCharacter explains a character CEL has no token for.
func badCharacter(text string) string {
	if text == "" {
		return "unexpected character"
	}
	switch text[0] {
	case '=':
		return `"=" is not an operator: write "==" to compare`
	case '&':
		return `write "&&" for "and"`
	case '|':
		return `write "||" for "or"`
	case '"', '\'':
		return fmt.Sprintf("the text starting here has no closing %c", text[0])
	}
	r := []rune(text)
	return fmt.Sprintf("unexpected character %q", string(r[0]))
}

// undeclared explains an unknown name: a function when the reference is
// a call, otherwise a variable, with the close matches.
func (t *translator) undeclared(name string, id int64) string {
	if ex := t.find(id); ex != nil && ex.Kind() == celast.CallKind {
		msg := fmt.Sprintf("unknown function %q", name)
		if s := closest(name, functionNames()); len(s) > 0 {
			return msg + fmt.Sprintf("; did you mean %s?", quoteList(s))
		}
		return msg + "; functions include " + strings.Join(functionNames(), ", ")
	}
	names := make([]string, len(t.decls))
	for i, d := range t.decls {
		names[i] = d.Name
	}
	msg := fmt.Sprintf("unknown variable %q", name)
	if hint, ok := jsonOnly(name); ok {
		return msg + " (it is a JSON field without a filter variable); " + hint
	}
	search := fmt.Sprintf(`to search the URL for text write url.contains("%s")`, name)
	if s := closest(name, names); len(s) > 0 {
		return msg + fmt.Sprintf("; did you mean %s? (%s)", quoteList(s), search)
	}
	return msg + "; " + search + "; variables are " + strings.Join(names, ", ")
}

// operatorNames maps CEL's internal function names to what users typed.
func operatorName(fn string) string {
	switch fn {
	case "_==_":
		return "=="
	case "_!=_":
		return "!="
	case "_<_":
		return "<"
	case "_<=_":
		return "<="
	case "_>_":
		return ">"
	case "_>=_":
		return ">="
	case "_+_":
		return "+"
	case "_-_":
		return "-"
	case "_*_":
		return "*"
	case "_/_":
		return "/"
	case "_%_":
		return "%"
	case "_&&_":
		return "&&"
	case "_||_":
		return "||"
	case "!_":
		return "!"
	case "-_":
		return "-"
	case "@in":
		return "in"
	case "_[_]":
		return "[]"
	}
	return ""
}

// overload explains an operator or function applied to the wrong types.
func (t *translator) overload(fn, applied string, id int64) string {
	op := operatorName(fn)
	ex := t.find(id)
	var args []celast.Expr
	if ex != nil && ex.Kind() == celast.CallKind {
		call := ex.AsCall()
		if call.IsMemberFunction() {
			args = append(args, call.Target())
		}
		args = append(args, call.Args()...)
	}
	if op == "" {
		words := make([]string, len(args))
		for i, a := range args {
			words[i] = t.describe(a)
		}
		if len(words) > 1 && strings.Contains(applied, ".(") {
			return fmt.Sprintf("%s() cannot take %s when called on %s", fn, strings.Join(words[1:], ", "), words[0])
		}
		return fmt.Sprintf("%s() cannot take (%s)", fn, strings.Join(words, ", "))
	}
	if len(args) != 2 {
		return fmt.Sprintf("%q cannot be used with %s", op, typeWords(strings.Trim(applied, "()")))
	}
	msg := fmt.Sprintf("%q cannot be used with %s and %s", op, t.describe(args[0]), t.describe(args[1]))
	if isComparison(op) {
		msg = fmt.Sprintf("cannot compare %s with %s", t.describe(args[0]), t.describe(args[1]))
	}
	if fix := t.suggestFix(op, args[0], args[1]); fix != "" {
		return msg + "; write " + fix
	}
	if fix := t.suggestFix(op, args[1], args[0]); fix != "" {
		return msg + "; write " + fix
	}
	return msg
}

// suggestFix proposes a corrected comparison when v is a variable and
// lit a literal of the wrong type that can be rewritten.
func (t *translator) suggestFix(op string, v, lit celast.Expr) string {
	if v.Kind() != celast.IdentKind || lit.Kind() != celast.LiteralKind || !isComparison(op) {
		return ""
	}
	d, ok := t.decl(v.AsIdent())
	if !ok {
		return ""
	}
	val := lit.AsLiteral()
	switch d.Type {
	case "int":
		if f, ok := val.(types.Double); ok && float64(f) == float64(int64(f)) {
			return fmt.Sprintf("%s %s %d", d.Name, op, int64(f))
		}
		if u, ok := val.(types.Uint); ok {
			return fmt.Sprintf("%s %s %d", d.Name, op, uint64(u))
		}
		if s, ok := val.(types.String); ok {
			if n, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 64); err == nil {
				return fmt.Sprintf("%s %s %s", d.Name, op, strconv.FormatFloat(n, 'f', -1, 64))
			}
		}
	case "string":
		return fmt.Sprintf("%s %s %q", d.Name, op, fmt.Sprint(val.Value()))
	case "duration":
		if s, ok := val.(types.String); ok {
			return fmt.Sprintf("%s %s duration(%q)", d.Name, op, string(s))
		}
		return fmt.Sprintf(`%s %s duration("250ms")`, d.Name, op)
	}
	return ""
}

// notCondition explains a non-boolean where a condition is needed.
func (t *translator) notCondition(id int64, what string) string {
	if ex := t.find(id); ex != nil && ex.Kind() == celast.IdentKind {
		if d, ok := t.decl(ex.AsIdent()); ok {
			return fmt.Sprintf("%s is %s, not a condition; compare it, e.g. %s", d.Name, typeWords(d.Type), example(d))
		}
	}
	return fmt.Sprintf("this is %s, not a condition (true or false); compare it with ==, <, > or a function like contains()", what)
}

// example is a condition using d, for hints.
func example(d varDecl) string {
	switch d.Type {
	case "int":
		if d.Name == "status" {
			return "status >= 500"
		}
		return d.Name + " > 0"
	case "duration":
		return d.Name + ` > duration("250ms")`
	case "timestamp":
		return d.Name + ` > timestamp("2026-01-01T00:00:00Z")`
	case "bool":
		return d.Name + " == true"
	case "list(int)":
		return "100 in " + d.Name
	case "list(string)":
		return `"..." in ` + d.Name
	case "map(string, string)":
		return `"authorization" in ` + d.Name
	}
	return d.Name + ` == "..."`
}

// describe names an operand for a message: the variable and its kind, a
// literal as written, or just its kind.
func (t *translator) describe(e celast.Expr) string {
	switch e.Kind() {
	case celast.IdentKind:
		if d, ok := t.decl(e.AsIdent()); ok {
			return fmt.Sprintf("%s (%s)", d.Name, typeWords(d.Type))
		}
		return e.AsIdent()
	case celast.LiteralKind:
		v := e.AsLiteral()
		text := fmt.Sprint(v.Value())
		switch x := v.(type) {
		case types.String:
			text = strconv.Quote(text)
		case types.Uint:
			text += "u"
		case types.Double:
			text = strconv.FormatFloat(float64(x), 'f', -1, 64)
			if !strings.ContainsAny(text, ".eE") {
				text += ".0"
			}
		}
		return fmt.Sprintf("%s (%s)", text, typeWords(v.Type().TypeName()))
	}
	return "an expression"
}

// typeWords names CEL types the way the help text does.
func typeWords(t string) string {
	switch {
	case t == "int":
		return "a number"
	case t == "uint":
		return "an unsigned number"
	case t == "double":
		return "a decimal number"
	case t == "string":
		return "text"
	case t == "bool":
		return "true or false"
	case t == "bytes":
		return "bytes"
	case t == "null_type":
		return "null"
	case strings.Contains(t, "Duration") || t == "duration":
		return "a duration"
	case strings.Contains(t, "Timestamp") || t == "timestamp":
		return "a timestamp"
	case strings.HasPrefix(t, "map"):
		return "a map"
	case strings.HasPrefix(t, "list"):
		return "a list"
	}
	parts := strings.Split(t, ", ")
	if len(parts) > 1 {
		for i, p := range parts {
			parts[i] = typeWords(p)
		}
		return strings.Join(parts, " and ")
	}
	return t
}

func (t *translator) decl(name string) (varDecl, bool) {
	for _, d := range t.decls {
		if d.cel == name {
			return d, true
		}
	}
	return varDecl{}, false
}

// find returns the parsed expression with the given id, or nil.
func (t *translator) find(id int64) celast.Expr {
	if t.parsed == nil || id == 0 {
		return nil
	}
	var found celast.Expr
	celast.PreOrderVisit(t.parsed.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.ID() == id {
			found = e
		}
	}))
	return found
}
