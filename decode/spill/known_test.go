package spill

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

// TestKnownReturnsItsCase parses known.go and checks every case returns
// the very string it matched, so a copy-paste slip there cannot turn one
// header name into another.
func TestKnownReturnsItsCase(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "known.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		cc, ok := node.(*ast.CaseClause)
		if !ok || len(cc.List) == 0 {
			return true
		}
		if len(cc.List) != 1 || len(cc.Body) != 1 {
			t.Errorf("case at %d: want one string and one return", cc.Pos())
			return false
		}
		ret, ok := cc.Body[0].(*ast.ReturnStmt)
		if !ok || len(ret.Results) != 2 {
			t.Errorf("case at %d: body is not a return of two values", cc.Pos())
			return false
		}
		c, err1 := strconv.Unquote(cc.List[0].(*ast.BasicLit).Value)
		r, err2 := strconv.Unquote(ret.Results[0].(*ast.BasicLit).Value)
		if err1 != nil || err2 != nil || c != r {
			t.Errorf("case %q returns %q", c, r)
		}
		if k, ok := known([]byte(c)); !ok || k != c {
			t.Errorf("known(%q) = %q, %v", c, k, ok)
		}
		n++
		return false
	})
	if n < 50 {
		t.Errorf("found only %d cases in known.go", n)
	}
}
