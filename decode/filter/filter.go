// Package filter is tapview's one filter language, used by the UI filter
// bar, --filter on every command and export. Filters are CEL expressions
// (github.com/google/cel-go) over the variables listed by Variables,
// compiled once and evaluated per exchange or flow:
//
//	status >= 500
//	method == "POST" && path.startsWith("/api")
//	latency > duration("250ms")
//	"authorization" in req_headers
//	resp_body.contains("error")
//
// A bare word without operators (pets, /api/v1?limit=5,
// api.example.com) is a case-insensitive substring search on the URL, and
// so is a lone quoted string ("pets dogs"); an empty filter matches
// everything. A true-or-false variable on its own (tls, partial) is that
// variable, not a word to search for.
//
// The variables carry the names of the JSON output's fields
// (export/jsonl) with the same meaning, so a line of `-o json` says how
// to filter for it; jsonOnly lists the few fields without one. Compile
// errors are *Error values that say where the problem is and what to
// write instead.
//
// Filters run cheapest part first: the top-level conjuncts are grouped
// into stages by what their variables cost (fields, then header lists,
// then bodies), so a body is decoded only for exchanges the cheap
// conjuncts let through. For stores that keep exchange summaries in
// memory, NeedsFull says whether a filter reads more than a summary
// holds, and Prefilter gives the cheap filter to run on summaries before
// loading full exchanges.
package filter

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"

	"github.com/tapview/tapview/decode"
)

// Program is a compiled filter. It is immutable and safe for concurrent
// use, so one Program can filter the UI list while an export runs.
type Program struct {
	src string
	// all is set for the empty filter.
	all bool
	// needle is the lower-cased text of a bare-word filter; stages is
	// empty then.
	needle string
	// stages are the filter's top-level conjuncts grouped by cost and
	// ordered cheapest first (see builder.stages); the filter matches
	// when every stage does.
	stages []stage
	vars   []string
	// cost is that of the dearest variable read; pre is the prefilter
	// when that is more than cheap.
	cost cost
	pre  *Program
}

// Compile parses and type-checks expr. Errors are *Error.
func Compile(expr string) (*Program, error) { return compile(expr, true) }

// compile is Compile; staged false keeps the filter as written in one
// stage, the reference the tests hold the cost-ordered stages to.
func compile(expr string, staged bool) (*Program, error) {
	trimmed := strings.TrimSpace(expr)
	if trimmed == "" {
		return &Program{src: expr, all: true}, nil
	}
	if isBareWord(trimmed) && !isBoolVariable(trimmed) {
		return &Program{src: expr, needle: strings.ToLower(trimmed), vars: []string{"url"}}, nil
	}
	decls := declarations()
	env, err := newEnv(decls)
	if err != nil {
		return nil, err
	}
	tr := &translator{src: []rune(expr), decls: decls, re: newCELMessages()}
	parsed, iss := env.Parse(rewriteReserved(expr))
	if iss != nil && iss.Err() != nil {
		return nil, tr.issue(iss)
	}
	tr.parsed = parsed.NativeRep()
	if lit := tr.parsed.Expr(); lit.Kind() == celast.LiteralKind {
		if s, ok := lit.AsLiteral().(types.String); ok {
			if s == "" {
				return &Program{src: expr, all: true}, nil
			}
			return &Program{src: expr, needle: strings.ToLower(string(s)), vars: []string{"url"}}, nil
		}
	}
	checked, iss := env.Check(parsed)
	if iss != nil && iss.Err() != nil {
		return nil, tr.issue(iss)
	}
	if out := checked.OutputType(); !out.IsExactType(cel.BoolType) {
		return nil, tr.nonBool(out)
	}
	tree := checked.NativeRep()
	if e := tr.literals(tree); e != nil {
		return nil, e
	}
	b := newBuilder(env, tree)
	var stages []stage
	if staged {
		stages, err = b.stages()
	} else {
		var s stage
		s, err = b.stage(tree.Expr())
		stages = []stage{s}
	}
	if err != nil {
		return nil, &Error{Pos: 0, Msg: fmt.Sprintf("cannot prepare the filter: %v", err)}
	}
	p := &Program{src: expr, stages: stages, vars: referenced(tree.Expr(), decls), cost: exprCost(tree.Expr())}
	if p.cost > costCheap {
		p.pre = b.prefilter(decls)
	}
	return p, nil
}

// nonBool explains a filter whose result is not true or false.
func (t *translator) nonBool(out *cel.Type) *Error {
	if ex := t.parsed.Expr(); ex.Kind() == celast.IdentKind {
		if d, ok := t.decl(ex.AsIdent()); ok {
			return &Error{Pos: 0, Msg: fmt.Sprintf("the filter must be a condition (true or false), but %s is %s; compare it, e.g. %s",
				d.Name, typeWords(d.Type), example(d))}
		}
	}
	return &Error{Pos: 0, Msg: fmt.Sprintf("the filter must be a condition (true or false), but it gives %s; compare it with ==, <, > or a function like contains()",
		typeWords(typeName(out)))}
}

// literals checks constant arguments CEL would only reject when the
// filter runs (and then silently match nothing): durations, timestamps
// and regular expressions.
func (t *translator) literals(a *celast.AST) *Error {
	var bad *Error
	info := a.SourceInfo()
	celast.PreOrderVisit(a.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if bad != nil || e.Kind() != celast.CallKind {
			return
		}
		call := e.AsCall()
		args := call.Args()
		var lit celast.Expr
		switch fn := call.FunctionName(); {
		case (fn == "duration" || fn == "timestamp") && len(args) == 1:
			lit = args[0]
		case fn == "matches" && call.IsMemberFunction() && len(args) == 1:
			lit = args[0]
		case fn == "matches" && len(args) == 2:
			lit = args[1]
		default:
			return
		}
		if lit.Kind() != celast.LiteralKind {
			return
		}
		s, ok := lit.AsLiteral().(types.String)
		if !ok {
			return
		}
		pos := t.pos(info.GetStartLocation(lit.ID()))
		switch call.FunctionName() {
		case "duration":
			if _, err := time.ParseDuration(string(s)); err != nil {
				bad = &Error{Pos: pos, Msg: fmt.Sprintf(`%q is not a duration; write it like "250ms", "1.5s", "2m" or "1h"`, string(s))}
			}
		case "timestamp":
			if _, err := time.Parse(time.RFC3339Nano, string(s)); err != nil {
				bad = &Error{Pos: pos, Msg: fmt.Sprintf(`%q is not a timestamp; write it like "2024-05-01T12:00:00Z"`, string(s))}
			}
		case "matches":
			if _, err := regexp.Compile(string(s)); err != nil {
				msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
				bad = &Error{Pos: pos, Msg: "the pattern for matches() is not a valid regular expression: " + msg}
			}
		}
	}))
	return bad
}

// referenced lists the declared variables expression e reads.
func referenced(e celast.Expr, decls []varDecl) []string {
	seen := make(map[string]bool)
	celast.PreOrderVisit(e, celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.IdentKind {
			seen[e.AsIdent()] = true
		}
	}))
	var out []string
	for _, d := range decls {
		if seen[d.cel] {
			out = append(out, d.Name)
		}
	}
	return out
}

// isBareWord reports whether a trimmed filter is one word to search for
// rather than an expression: no spaces, no comparison, logic, grouping
// or quote characters, and not a CEL keyword. URL punctuation such as
// "/", ".", "?", "=" and "-" is allowed so paths and hosts work as typed.
func isBareWord(s string) bool {
	if s == "true" || s == "false" || s == "null" || strings.HasPrefix(s, "!") {
		return false
	}
	if strings.ContainsAny(s, " \t\r\n<>()[]{}\"'`,|&") {
		return false
	}
	return !strings.Contains(s, "==") && !strings.Contains(s, "!=")
}

// isBoolVariable reports whether a word is a true-or-false variable
// (tls, partial), which is a complete filter on its own rather than a
// word to search for.
func isBoolVariable(word string) bool {
	k, ok := lookup(word)
	return ok && typeOf(k) == tBool
}

// String returns the filter as written.
func (p *Program) String() string {
	if p == nil {
		return ""
	}
	return p.src
}

// MatchesAll reports whether the filter is empty, so callers can skip
// filtering altogether.
func (p *Program) MatchesAll() bool { return p == nil || p.all }

// Vars lists the variables the filter reads (url for a bare word), so a
// view can tell whether bodies have to be loaded for it.
func (p *Program) Vars() []string {
	if p == nil {
		return nil
	}
	return append([]string(nil), p.vars...)
}

// Match reports whether e passes the filter. An evaluation error (a
// missing header, a failed conversion) is "no match", never a panic. A
// nil Program matches everything.
func (p *Program) Match(e *decode.Exchange) bool {
	if p == nil || p.all {
		return true
	}
	if e == nil {
		return false
	}
	if p.needle != "" {
		return p.urlHas(e)
	}
	return p.run(&exchangeVars{e: e})
}

// urlHas is the bare-word fast path: the URL is assembled in a stack
// buffer and searched without CEL.
func (p *Program) urlHas(e *decode.Exchange) bool {
	var buf [256]byte
	return containsFold(appendURL(buf[:0], e), p.needle)
}

// MatchFlow reports whether f passes the filter; exchange-only
// variables have zero values, and a bare word searches the flow's host.
func (p *Program) MatchFlow(f *decode.Flow) bool {
	if p == nil || p.all {
		return true
	}
	if f == nil {
		return false
	}
	if p.needle != "" {
		var buf [128]byte
		return containsFold(append(buf[:0], flowHost(f)...), p.needle)
	}
	return p.run(&flowVars{f: f})
}

// run evaluates the stages in order, each natively when it compiled to
// Go, else with CEL, and stops at the first that does not match.
func (p *Program) run(v values) bool {
	for i := range p.stages {
		if !p.stages[i].run(v) {
			return false
		}
	}
	return true
}

// eval is run with CEL only, so tests can hold the native path to it.
func (p *Program) eval(a interpreter.Activation) bool {
	for i := range p.stages {
		if !p.stages[i].eval(a) {
			return false
		}
	}
	return true
}

// isNative reports whether every stage runs without CEL.
func (p *Program) isNative() bool {
	for _, s := range p.stages {
		if s.fast == nil {
			return false
		}
	}
	return len(p.stages) > 0
}

// chunk is how many items a worker claims at a time: large enough that
// claiming is rare, small enough that workers finish together.
const chunk = 2048

// MatchAll returns the indexes of the exchanges that match, in order,
// evaluating in parallel on up to workers goroutines (GOMAXPROCS when
// workers <= 0). Each worker reuses one activation, so a batch allocates
// only what the referenced variables need.
func (p *Program) MatchAll(exs []*decode.Exchange, workers int) []int {
	if p.MatchesAll() {
		return allIndexes(len(exs))
	}
	return parallel(len(exs), workers, func(lo, hi int, out []bool) {
		if p.needle != "" {
			for i := lo; i < hi; i++ {
				out[i] = exs[i] != nil && p.urlHas(exs[i])
			}
			return
		}
		var a exchangeVars
		for i := lo; i < hi; i++ {
			if exs[i] == nil {
				continue
			}
			a.reset(exs[i])
			out[i] = p.run(&a)
		}
	})
}

// MatchFlows is MatchAll for flows.
func (p *Program) MatchFlows(flows []*decode.Flow, workers int) []int {
	if p.MatchesAll() {
		return allIndexes(len(flows))
	}
	return parallel(len(flows), workers, func(lo, hi int, out []bool) {
		for i := lo; i < hi; i++ {
			out[i] = p.MatchFlow(flows[i])
		}
	})
}

func allIndexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// parallel runs fn over [0, n) in chunks claimed by workers and collects
// the indexes fn marked. Workers write disjoint ranges of one []bool, so
// they need no locks.
func parallel(n, workers int, fn func(lo, hi int, out []bool)) []int {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	marks := make([]bool, n)
	if workers == 1 || n <= chunk {
		fn(0, n, marks)
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(workers, (n+chunk-1)/chunk) {
			wg.Go(func() {
				for {
					lo := int(next.Add(chunk)) - chunk
					if lo >= n {
						return
					}
					fn(lo, min(lo+chunk, n), marks)
				}
			})
		}
		wg.Wait()
	}
	count := 0
	for _, m := range marks {
		if m {
			count++
		}
	}
	out := make([]int, 0, count)
	for i, m := range marks {
		if m {
			out = append(out, i)
		}
	}
	return out
}
