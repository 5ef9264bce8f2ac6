package filter

import (
	"testing"

	"github.com/tapview/tapview/decode"
)

func TestAnd(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"", `route == "a"`}, `route == "a"`},
		{[]string{"  ", `status == 200`, ""}, `status == 200`},
		{[]string{"Pets", `status == 200`}, `(url.lowerAscii().contains("pets")) && (status == 200)`},
		{[]string{`"Pet Shop"`, `status == 200`}, `(url.lowerAscii().contains("pet shop")) && (status == 200)`},
		{[]string{`status >= 500 || tls`, `method == "GET"`}, `(status >= 500 || tls) && (method == "GET")`},
	} {
		if got := And(c.in...); got != c.want {
			t.Errorf("And(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// The joined form matches like the parts together: || inside a
	// part stays inside it.
	p, err := Compile(And(`status >= 500 || tls`, `method == "POST"`))
	if err != nil {
		t.Fatal(err)
	}
	get := &decode.Exchange{Proto: "http/1.1", TLS: true, Request: &decode.Message{Method: "GET", Target: "/"}}
	if p.Match(get) {
		t.Error("a GET matched method == \"POST\" after And")
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"plain", `back\slash "quoted"`, "ctl\x1b[2J\t\n", "é ü 日本", "bidi\u202e", "nul\x00"} {
		p, err := Compile("path == " + Quote(s))
		if err != nil {
			t.Fatalf("Quote(%q) = %s: %v", s, Quote(s), err)
		}
		e := &decode.Exchange{Proto: "http/1.1", Request: &decode.Message{Method: "GET", Target: s}}
		if !p.Match(e) {
			t.Errorf("path == %s does not match the path %q", Quote(s), s)
		}
	}
}
