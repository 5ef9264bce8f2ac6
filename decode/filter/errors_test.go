package filter

import (
	"errors"
	"strings"
	"testing"
)

// TestCompileErrors checks that each kind of mistake is reported at the
// right column with a message that says what to do.
func TestCompileErrors(t *testing.T) {
	cases := []struct {
		expr string
		pos  int
		want []string // substrings of Msg
	}{
		{`status >= 500 &&`, 16, []string{`expected an operand after "&&"`}},
		{`method == "POST" && path.startsWith("/api") ||`, 46, []string{`expected an operand after "||"`}},
		{`status >=`, 9, []string{`expected an operand after ">="`}},
		{`stauts >= 500`, 0, []string{`unknown variable "stauts"`, `did you mean "status"`}},
		{`pets && status > 1`, 0, []string{`unknown variable "pets"`, `url.contains("pets")`}},
		{`zzzz || status > 1`, 0, []string{`variables are proto, method`, "namespace"}},
		{`status == "500"`, 7, []string{"status (a number)", `"500" (text)`, "write status == 500"}},
		{`status == 404.0`, 7, []string{"status (a number)", "404.0 (a decimal number)", "write status == 404"}},
		{`req_size != 0u`, 9, []string{"0u (an unsigned number)", "write req_size != 0"}},
		{`method == 5`, 7, []string{"method (text)", `write method == "5"`}},
		{`latency > "250ms"`, 8, []string{"latency (a duration)", `write latency > duration("250ms")`}},
		{`path.startswith("/a")`, 15, []string{`unknown function "startswith"`, `did you mean "startsWith"`}},
		{`method.contains(1)`, 15, []string{"contains() cannot take 1 (a number) when called on method (text)"}},
		{`method = "POST"`, 7, []string{`write "==" to compare`}},
		{`status > 500 & method == "x"`, 13, []string{`write "&&"`}},
		{`status > 500 | method == "x"`, 13, []string{`write "||"`}},
		{`status >= 500 #`, 14, []string{`unexpected character "#"`}},
		{`(status > 1`, 11, []string{`missing ")" to close the "(" at column 1`}},
		{`status > 1)`, 10, []string{`unexpected ")"`}},
		{`method == "abc`, 10, []string{"no closing \""}},
		{`pets dogs`, 5, []string{`unexpected "dogs"`, `url.contains("pets dogs")`}},
		{`method == "GET" status == 200`, 16, []string{`unexpected "status": join conditions with && or ||`}},
		{`status >= 500 && && method == "GET"`, 17, []string{`expected an operand after "&&", found "&&"`}},
		{`status >= 500 && method`, 17, []string{"method is text, not a condition", `method == "..."`}},
		{`req_headers`, 0, nil}, // a bare word: compiles
		{`req_headers && true`, 0, []string{"req_headers is a map", `"authorization" in req_headers`}},
		{`1 + 2`, 0, []string{"must be a condition", "gives a number"}},
		{`latency > duration("250x")`, 19, []string{`"250x" is not a duration`}},
		{`host.matches("(")`, 13, []string{"not a valid regular expression", "missing closing )"}},
		{`matches(host, "[")`, 14, []string{"not a valid regular expression"}},
		{`timestamp("yesterday") < timestamp("2024-01-01T00:00:00Z")`, 10, []string{`"yesterday" is not a timestamp`}},
		{`héllo == 1 &&`, 1, []string{`unexpected character "é"`}},
		{`size(namespace) > 0 && namespace == 3`, 33, []string{"namespace (text)", `namespace == "3"`}},
		{`if == 1`, 0, nil},
	}
	for _, c := range cases {
		_, err := Compile(c.expr)
		if c.want == nil {
			if c.expr == `if == 1` {
				if err == nil {
					t.Errorf("%q: want an error", c.expr)
				}
				continue
			}
			if err != nil {
				t.Errorf("%q: %v", c.expr, err)
			}
			continue
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("%q: error %v (%T), want *Error", c.expr, err, err)
			continue
		}
		if fe.Pos != c.pos {
			t.Errorf("%q: Pos %d, want %d (%s)", c.expr, fe.Pos, c.pos, fe.Msg)
		}
		for _, w := range c.want {
			if !strings.Contains(fe.Msg, w) {
				t.Errorf("%q: message %q lacks %q", c.expr, fe.Msg, w)
			}
		}
		if !strings.HasPrefix(fe.Error(), "column ") || strings.Contains(fe.Msg, "Syntax error") || strings.Contains(fe.Msg, "<EOF>") {
			t.Errorf("%q: message not for people: %q", c.expr, fe.Error())
		}
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Pos: 11, Msg: `expected an operand after "&&"`}
	if got := e.Error(); got != `column 12: expected an operand after "&&"` {
		t.Fatalf("Error() = %q", got)
	}
}

func TestRewriteReserved(t *testing.T) {
	cases := map[string]string{
		`namespace == "namespace"`:         `__ns_var_ == "namespace"`,
		`namespaces == 'a\'namespace'`:     `namespaces == 'a\'namespace'`,
		`r"namespace\" || namespace == ""`: `r"namespace\" || __ns_var_ == ""`,
		`"""namespace""" + namespace`:      `"""namespace""" + __ns_var_`,
		`x_namespace == namespace_x`:       `x_namespace == namespace_x`,
		`"unterminated namespace`:          `"unterminated namespace`,
	}
	for in, want := range cases {
		if got := rewriteReserved(in); got != want {
			t.Errorf("rewriteReserved(%q) = %q, want %q", in, got, want)
		}
		if len(rewriteReserved(in)) != len(in) {
			t.Errorf("rewriteReserved(%q) changed the length", in)
		}
	}
}

func TestClosest(t *testing.T) {
	got := closest("stauts", []string{"status", "state", "path", "sni"})
	if len(got) == 0 || got[0] != "status" {
		t.Fatalf("closest = %v", got)
	}
	if got := closest("zzzz", []string{"status", "state"}); len(got) != 0 {
		t.Fatalf("closest = %v, want none", got)
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{`status >= 500`, `pets`, `"a" in req_headers`, `(`, `namespace == "x"`, `host.matches("^a")`, `r"""x`,
		`!(status < 400.5) || method.endsWith("T") && latency <= duration("1s")`, `grpc_status == -1 && "x-checksum" in resp_headers`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := Compile(expr)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %T, want *Error", err)
			}
			if fe.Pos < 0 || fe.Pos > len([]rune(expr)) {
				t.Fatalf("Pos %d outside %q", fe.Pos, expr)
			}
			return
		}
		if !p.all && p.needle == "" && len(p.stages) == 0 {
			t.Fatalf("%q compiled to a program that cannot run", expr)
		}
		// Whatever compiles natively must agree with CEL.
		for _, v := range fixtures(t) {
			got := p.run(v)
			if p.isNative() && got != p.eval(v) {
				t.Fatalf("%q: native %v disagrees with CEL", expr, got)
			}
		}
		p.MatchFlow(nil)
	})
}
