package filter

import (
	"maps"
	"slices"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/overloads"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"
)

// cost ranks what reading a variable takes. The UI keeps exchanges in
// memory as summaries (no header lists beyond Content-Type, no bodies,
// parts or trailers) and re-reads the full exchange from disk on demand,
// so a filter has to say what it reads, and the expensive part of it must
// only run on what the cheap part let through.
type cost uint8

const (
	// costCheap variables are fields a summary keeps (content_type
	// included: summaries keep the Content-Type header for it).
	costCheap cost = iota
	// costHeaders variables scan header and trailer lists or count
	// framed parts, which a summary does not have.
	costHeaders
	// costBody variables decode bodies or join parts: the dominant cost
	// even in memory, and a disk read for a summary.
	costBody
)

// varCost says what reading variable k costs. Every variable not listed
// here must give the same value on a summary as on the full exchange;
// TestSummaryKeepsCheapVariables holds the table to that.
func varCost(k varKind) cost {
	switch k {
	case vReqHeaders, vRespHeaders, vReqMessages, vRespMessages:
		return costHeaders
	case vReqBody, vRespBody:
		return costBody
	}
	return costCheap
}

// exprCost is the cost of the dearest variable e mentions. Comprehension
// variables that shadow a declared name are counted as that variable,
// which can only over-estimate.
func exprCost(e celast.Expr) cost {
	c := costCheap
	celast.PreOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) {
		if x.Kind() != celast.IdentKind {
			return
		}
		if k, ok := lookup(x.AsIdent()); ok {
			c = max(c, varCost(k))
		}
	}))
	return c
}

// stage is one step of a filter: a conjunction evaluated natively when
// it can be, else by CEL.
type stage struct {
	prg  cel.Program
	fast node
}

func (s *stage) run(v values) bool {
	if s.fast != nil {
		return s.fast(v)
	}
	return s.eval(v)
}

// eval evaluates with CEL; any error or non-bool result is "no match".
func (s *stage) eval(a interpreter.Activation) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	out, _, err := s.prg.Eval(a)
	if err != nil {
		return false
	}
	b, isBool := out.(types.Bool)
	return isBool && bool(b)
}

// builder derives programs from one checked filter: the cost-ordered
// stages Match runs and the cheap prefilter. New nodes (the && and ||
// that join reordered operands, the ! pushed inwards) are typed and
// referenced here rather than by re-running the checker, because every
// subtree they join was already checked in this environment and they
// only combine booleans. Subtrees are shared between the programs, which
// is safe: planning reads an AST and never changes it.
type builder struct {
	env   *cel.Env
	tree  *celast.AST
	fac   celast.ExprFactory
	next  int64
	types map[int64]*types.Type
	refs  map[int64]*celast.ReferenceInfo
}

func newBuilder(env *cel.Env, tree *celast.AST) *builder {
	return &builder{
		env: env, tree: tree, fac: celast.NewExprFactory(), next: celast.MaxID(tree),
		types: maps.Clone(tree.TypeMap()), refs: maps.Clone(tree.ReferenceMap()),
	}
}

// call makes a new boolean operator node.
func (b *builder) call(fn string, args ...celast.Expr) celast.Expr {
	b.next++
	overload := map[string]string{
		operators.LogicalAnd: overloads.LogicalAnd,
		operators.LogicalOr:  overloads.LogicalOr,
		operators.LogicalNot: overloads.LogicalNot,
	}[fn]
	b.types[b.next] = types.BoolType
	b.refs[b.next] = celast.NewFunctionReference(overload)
	return b.fac.NewCall(b.next, fn, args...)
}

// join combines parts with fn (&& or ||) as a balanced tree, in order:
// a left-deep chain of hundreds of terms would trip the depth limits the
// parser's own balanced trees stay under. It returns nil for no parts.
func (b *builder) join(fn string, parts []celast.Expr) celast.Expr {
	switch len(parts) {
	case 0:
		return nil
	case 1:
		return parts[0]
	}
	mid := len(parts) / 2
	return b.call(fn, b.join(fn, parts[:mid]), b.join(fn, parts[mid:]))
}

// operands flattens a chain of fn (&& or ||), however it was nested or
// parenthesised, into its operands in evaluation order.
func operands(fn string, e celast.Expr) []celast.Expr {
	if e.Kind() != celast.CallKind || e.AsCall().FunctionName() != fn {
		return []celast.Expr{e}
	}
	var out []celast.Expr
	for _, a := range e.AsCall().Args() {
		out = append(out, operands(fn, a)...)
	}
	return out
}

// cheapFirst returns e with the operands of every && and || chain in its
// boolean skeleton sorted by cost, cheapest first, keeping the written
// order among equals. CEL's && and || are commutative, error-absorbing
// operators: the result is false (&&) or true (||) as soon as any operand
// is, whatever the others do, and an error only when no operand decides;
// Match reads an error as false. So the order changes what gets
// evaluated, never the answer, and natively every node is total. e is
// returned as is when nothing moved.
func (b *builder) cheapFirst(e celast.Expr) celast.Expr {
	if e.Kind() != celast.CallKind {
		return e
	}
	call := e.AsCall()
	switch fn := call.FunctionName(); fn {
	case operators.LogicalAnd, operators.LogicalOr:
		parts := operands(fn, e)
		changed := false
		for i, x := range parts {
			if y := b.cheapFirst(x); y != x {
				parts[i], changed = y, true
			}
		}
		byCost := func(x, y celast.Expr) int { return int(exprCost(x)) - int(exprCost(y)) }
		if !slices.IsSortedFunc(parts, byCost) {
			slices.SortStableFunc(parts, byCost)
			changed = true
		}
		if !changed {
			return e
		}
		return b.join(fn, parts)
	case operators.LogicalNot:
		if len(call.Args()) == 1 {
			if x := b.cheapFirst(call.Args()[0]); x != call.Args()[0] {
				return b.call(fn, x)
			}
		}
	}
	return e
}

// stages splits the filter's top-level conjunction into one stage per
// cost, cheapest first, so Match stops at the first stage that fails:
// `resp_body.contains("error") && status >= 500` tests the status of
// every exchange and decodes the bodies of 5xx responses only. Separate
// stages rather than one reordered &&, because CEL's && goes on to the
// next operand when one fails with an error (a grpc_status comparison on
// a non-gRPC exchange), and that operand may be a body. The filter
// matches exactly when every top-level conjunct is true, so testing the
// groups one after the other gives the same answer.
func (b *builder) stages() ([]stage, error) {
	root := b.tree.Expr()
	conjuncts := operands(operators.LogicalAnd, root)
	groups := make([][]celast.Expr, costBody+1)
	for _, c := range conjuncts {
		groups[exprCost(c)] = append(groups[exprCost(c)], c)
	}
	var out []stage
	for _, g := range groups {
		if len(g) == 0 {
			continue
		}
		e := root
		if len(g) != len(conjuncts) {
			e = b.join(operators.LogicalAnd, g)
		}
		s, err := b.stage(b.cheapFirst(e))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// stage plans e, a boolean subtree of the filter or one built from its
// subtrees, as a program of its own.
func (b *builder) stage(e celast.Expr) (stage, error) {
	a := b.tree
	if e != a.Expr() {
		a = celast.NewCheckedAST(celast.NewAST(e, a.SourceInfo()), b.types, b.refs)
	}
	prg, err := b.env.PlanProgram(a, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return stage{}, err
	}
	return stage{prg: prg, fast: native(e)}, nil
}

// implied returns an expression over cheap variables only that is true
// on every exchange or flow where e is true (when negated, where e is
// false), or nil when "true" is the best it can say. Cheap subtrees are
// kept whole; && keeps the operands that have an implied form (each one
// is true when the && is); || needs one from every operand (whichever is
// true implies its own); ! swaps the two by De Morgan. Anything else with
// a costly variable in it (a ternary, a function of a body) implies
// nothing. An operand that fails with an error cannot make e true, so
// dropping it never turns a match into a miss.
func (b *builder) implied(e celast.Expr, negated bool) celast.Expr {
	if exprCost(e) == costCheap {
		if negated {
			return b.call(operators.LogicalNot, e)
		}
		return e
	}
	if e.Kind() != celast.CallKind {
		return nil
	}
	call := e.AsCall()
	fn := call.FunctionName()
	if fn == operators.LogicalNot && len(call.Args()) == 1 {
		return b.implied(call.Args()[0], !negated)
	}
	if fn != operators.LogicalAnd && fn != operators.LogicalOr {
		return nil
	}
	// Under a negation && behaves as || and the other way round.
	all := fn == operators.LogicalAnd != negated
	var kept []celast.Expr
	for _, x := range operands(fn, e) {
		y := b.implied(x, negated)
		switch {
		case y != nil:
			kept = append(kept, y)
		case !all:
			return nil
		}
	}
	if all {
		return b.join(operators.LogicalAnd, kept)
	}
	return b.join(operators.LogicalOr, kept)
}

// prefilter builds the cheap program implied by the filter; the
// match-all program when nothing cheap is implied.
func (b *builder) prefilter(decls []varDecl) *Program {
	e := b.implied(b.tree.Expr(), false)
	if e == nil {
		return &Program{all: true}
	}
	s, err := b.stage(e)
	if err != nil {
		// Cannot happen for subtrees of a planned filter; matching
		// everything is still a correct prefilter.
		return &Program{all: true}
	}
	src, err := cel.ExprToString(e, b.tree.SourceInfo())
	if err != nil {
		src = ""
	}
	return &Program{src: rewriteWord(src, nsInternal, "namespace"), stages: []stage{s}, vars: referenced(e, decls)}
}

// NeedsFull reports whether the filter reads something an exchange
// summary does not hold (header lists other than Content-Type, bodies,
// framed parts), so the caller must load the full exchange before Match.
// Bare words and the empty filter never do.
func (p *Program) NeedsFull() bool { return p != nil && p.cost > costCheap }

// Prefilter returns a filter over cheap variables only that accepts
// every exchange and flow p accepts, and rejects as many of the others as
// p's structure allows: for `a && b && c` the conjunction of the cheap
// conjuncts, for `cheap1 && heavy || cheap2` the disjunction of the cheap
// parts, and match-all when nothing cheap is implied. A store of
// summaries runs it first and loads full exchanges only for what it
// accepts; Match on those gives the final answer. A filter that is
// cheap throughout is its own prefilter. Prefilter().NeedsFull() is
// always false, and its String is a filter that compiles to it.
func (p *Program) Prefilter() *Program {
	if !p.NeedsFull() {
		return p
	}
	return p.pre
}
