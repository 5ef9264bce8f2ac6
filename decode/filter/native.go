package filter

import (
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"time"

	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
)

// node is a filter compiled to Go. The common filters (variables compared
// with literals, string tests with literal arguments, header presence,
// && || !) compile to a tree of these and run without CEL: no boxing, no
// interpreter frame, so a million exchanges filter in tens of
// milliseconds. Every form accepted here is total (it cannot fail at run
// time), so short-circuiting gives exactly CEL's answer; anything else
// makes native return nil and the CEL program runs instead.
type node func(v values) bool

// native compiles a checked expression into a node, or nil when it uses
// anything outside the supported forms.
func native(e celast.Expr) node { return nativeUnder(e, false) }

// nativeUnder compiles e, knowing whether it sits under a negation. A
// comparison with grpc_status is not total (an exchange without a gRPC
// status makes CEL fail, which a filter reads as false); outside a
// negation "false" is exactly CEL's final answer, under one it is not, so
// there the CEL program runs instead.
func nativeUnder(e celast.Expr, negated bool) node {
	switch e.Kind() {
	case celast.LiteralKind:
		if b, ok := e.AsLiteral().(types.Bool); ok {
			r := bool(b)
			return func(values) bool { return r }
		}
		return nil
	case celast.IdentKind:
		// A bool variable on its own: `tls`, `!partial`.
		if k, ok := variable(e); ok && typeOf(k) == tBool {
			return func(v values) bool { return v.flag(k) }
		}
		return nil
	case celast.CallKind:
	default:
		return nil
	}
	call := e.AsCall()
	args := call.Args()
	switch fn := call.FunctionName(); fn {
	case "_&&_", "_||_":
		if len(args) != 2 {
			return nil
		}
		l, r := nativeUnder(args[0], negated), nativeUnder(args[1], negated)
		if l == nil || r == nil {
			return nil
		}
		if fn == "_&&_" {
			return func(v values) bool { return l(v) && r(v) }
		}
		return func(v values) bool { return l(v) || r(v) }
	case "!_":
		if len(args) != 1 {
			return nil
		}
		x := nativeUnder(args[0], !negated)
		if x == nil {
			return nil
		}
		return func(v values) bool { return !x(v) }
	case "_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_":
		if len(args) != 2 {
			return nil
		}
		if negated && (mayBeAbsent(args[0]) || mayBeAbsent(args[1])) {
			return nil
		}
		if n := compare(fn, args[0], args[1]); n != nil {
			return n
		}
		return compare(flip(fn), args[1], args[0])
	case "contains", "startsWith", "endsWith", "matches":
		if !call.IsMemberFunction() || len(args) != 1 {
			return nil
		}
		return stringTest(fn, call.Target(), args[0])
	case "@in":
		if len(args) != 2 {
			return nil
		}
		return member(args[0], args[1])
	}
	return nil
}

// member compiles `literal in variable` for header maps and lists.
func member(elem, coll celast.Expr) node {
	k, ok := variable(coll)
	if !ok {
		return nil
	}
	switch typeOf(k) {
	case tHeaders, tStrList:
		name, ok := stringLiteral(elem)
		if !ok {
			return nil
		}
		if typeOf(k) == tStrList {
			return func(v values) bool { return slices.Contains(v.strs(k), name) }
		}
		return func(v values) bool {
			_, found := v.hdr(k).value(name)
			return found
		}
	case tIntList:
		if elem.Kind() != celast.LiteralKind {
			return nil
		}
		n, ok := elem.AsLiteral().(types.Int)
		if !ok {
			return nil
		}
		return func(v values) bool { return slices.Contains(v.ints(k), int64(n)) }
	}
	return nil
}

// flip mirrors a comparison so the variable can be on the left.
func flip(fn string) string {
	switch fn {
	case "_<_":
		return "_>_"
	case "_<=_":
		return "_>=_"
	case "_>_":
		return "_<_"
	case "_>=_":
		return "_<=_"
	}
	return fn
}

// mayBeAbsent reports whether e is a reference to a variable that can
// be absent (see absentable).
func mayBeAbsent(e celast.Expr) bool {
	k, ok := variable(e)
	return ok && absentable(k)
}

// variable returns the kind of a declared variable reference.
func variable(e celast.Expr) (varKind, bool) {
	if e.Kind() != celast.IdentKind {
		return 0, false
	}
	return lookup(e.AsIdent())
}

func stringLiteral(e celast.Expr) (string, bool) {
	if e.Kind() != celast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

// ordered turns a three-way comparison result into the operator's
// answer.
func ordered(fn string, c int) bool {
	switch fn {
	case "_==_":
		return c == 0
	case "_!=_":
		return c != 0
	case "_<_":
		return c < 0
	case "_<=_":
		return c <= 0
	case "_>_":
		return c > 0
	}
	return c >= 0
}

func cmp[T int64 | float64 | string | time.Duration](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compare compiles `variable OP literal`.
func compare(fn string, lhs, rhs celast.Expr) node {
	k, ok := variable(lhs)
	if !ok {
		return nil
	}
	switch typeOf(k) {
	case tString:
		lit, ok := stringLiteral(rhs)
		if !ok {
			return nil
		}
		return func(v values) bool { return ordered(fn, strings.Compare(v.str(k), lit)) }
	case tInt:
		if rhs.Kind() != celast.LiteralKind {
			return nil
		}
		switch lit := rhs.AsLiteral().(type) {
		case types.Int:
			n := int64(lit)
			if k == vGRPCStatus {
				return func(v values) bool { x := v.num(k); return x >= 0 && ordered(fn, cmp(x, n)) }
			}
			return func(v values) bool { return ordered(fn, cmp(v.num(k), n)) }
		case types.Uint:
			if uint64(lit) > math.MaxInt64 {
				if k == vGRPCStatus {
					return func(v values) bool { return v.num(k) >= 0 && ordered(fn, -1) }
				}
				return func(values) bool { return ordered(fn, -1) }
			}
			n := int64(lit)
			if k == vGRPCStatus {
				return func(v values) bool { x := v.num(k); return x >= 0 && ordered(fn, cmp(x, n)) }
			}
			return func(v values) bool { return ordered(fn, cmp(v.num(k), n)) }
		case types.Double:
			f := float64(lit)
			if math.IsNaN(f) || k == vGRPCStatus {
				return nil
			}
			return func(v values) bool { return ordered(fn, cmp(float64(v.num(k)), f)) }
		}
	case tDuration:
		s, ok := literalCall(rhs, "duration")
		if !ok {
			return nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil
		}
		return func(v values) bool { return ordered(fn, cmp(v.dur(k), d)) }
	case tBool:
		if rhs.Kind() != celast.LiteralKind {
			return nil
		}
		lit, ok := rhs.AsLiteral().(types.Bool)
		if !ok {
			return nil
		}
		b := boolInt(bool(lit))
		return func(v values) bool { return ordered(fn, cmp(boolInt(v.flag(k)), b)) }
	case tTime:
		s, ok := literalCall(rhs, "timestamp")
		if !ok {
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil
		}
		return func(v values) bool {
			x := v.when(k)
			return !x.IsZero() && ordered(fn, x.Compare(t))
		}
	}
	return nil
}

// boolInt orders false before true, as CEL does.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// literalCall returns the string argument of `fn("literal")`.
func literalCall(e celast.Expr, fn string) (string, bool) {
	if e.Kind() != celast.CallKind {
		return "", false
	}
	c := e.AsCall()
	if c.FunctionName() != fn || c.IsMemberFunction() || len(c.Args()) != 1 {
		return "", false
	}
	return stringLiteral(c.Args()[0])
}

// stringTest compiles `variable.fn("literal")`.
func stringTest(fn string, target, arg celast.Expr) node {
	k, ok := variable(target)
	if !ok || typeOf(k) != tString {
		return nil
	}
	lit, ok := stringLiteral(arg)
	if !ok {
		return nil
	}
	switch fn {
	case "contains":
		return func(v values) bool { return strings.Contains(v.str(k), lit) }
	case "startsWith":
		return func(v values) bool { return strings.HasPrefix(v.str(k), lit) }
	case "endsWith":
		return func(v values) bool { return strings.HasSuffix(v.str(k), lit) }
	}
	if f := literalRegex(lit); f != nil {
		return func(v values) bool { return f(v.str(k)) }
	}
	re, err := regexp.Compile(lit)
	if err != nil {
		return nil
	}
	return func(v values) bool { return re.MatchString(v.str(k)) }
}

// literalRegex returns a plain string test for patterns that are an
// ASCII literal, optionally anchored ("^api\.", "json$", "^GET$",
// "error"), which is most of what people type; nil otherwise.
func literalRegex(pattern string) func(string) bool {
	r, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	r = r.Simplify()
	lit := func(x *syntax.Regexp) (string, bool) {
		if x.Op != syntax.OpLiteral || x.Flags&syntax.FoldCase != 0 {
			return "", false
		}
		for _, c := range x.Rune {
			if c >= 0x80 {
				return "", false
			}
		}
		return string(x.Rune), true
	}
	if s, ok := lit(r); ok {
		return func(v string) bool { return strings.Contains(v, s) }
	}
	if r.Op != syntax.OpConcat {
		return nil
	}
	subs := r.Sub
	begin := len(subs) > 0 && subs[0].Op == syntax.OpBeginText
	if begin {
		subs = subs[1:]
	}
	end := len(subs) > 0 && subs[len(subs)-1].Op == syntax.OpEndText
	if end {
		subs = subs[:len(subs)-1]
	}
	if len(subs) != 1 {
		return nil
	}
	s, ok := lit(subs[0])
	switch {
	case !ok:
		return nil
	case begin && end:
		return func(v string) bool { return v == s }
	case begin:
		return func(v string) bool { return strings.HasPrefix(v, s) }
	case end:
		return func(v string) bool { return strings.HasSuffix(v, s) }
	}
	return func(v string) bool { return strings.Contains(v, s) }
}
