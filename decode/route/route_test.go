package route

import (
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tapview/tapview/decode"
)

func TestPathTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"/pets/123":                                       "/pets/{id}",
		"/pets/123/toys/9?color=red#top":                  "/pets/{id}/toys/{id}",
		"/u/550e8400-e29b-41d4-a716-446655440000":         "/u/{uuid}",
		"/blob/3f786850e387550fdab836ed7e6dc881de23001b":  "/blob/{hash}",
		"/commit/a1b2c3d4e5f6":                            "/commit/{hash}",
		"/s/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc": "/s/{token}",
		"/t/dGhpcyBpcyBhIHRva2VuIDEyMw":                   "/t/{token}",
		"/release-notes-for-2024-and-beyond":              "/release-notes-for-2024-and-beyond",
		"/api/v1/users":                                   "/api/v1/users",
		"/facade/deadbeef":                                "/facade/deadbeef",    // short hex words stay
		"/abcdefabcdefabcdef":                             "/abcdefabcdefabcdef", // letters only: a word, not a hash
		"http://example.com/pets/7?x=1":                   "/pets/{id}",
		"/":                                               "/",
		"":                                                "",
		"/a//b/":                                          "/a//b/",
	} {
		if got := PathTemplate(in); got != want {
			t.Errorf("PathTemplate(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKeyAndNameTemplates(t *testing.T) {
	for in, want := range map[string]string{
		"user:123": "user:{id}",
		"session:550e8400-e29b-41d4-a716-446655440000:data": "session:{uuid}:data",
		"cache/items.42": "cache/items.{id}",
		"counter":        "counter",
	} {
		if got := KeyTemplate(in); got != want {
			t.Errorf("KeyTemplate(%q) = %q, want %q", in, got, want)
		}
	}
	if got := NameTemplate("10.0.0.1.in-addr.arpa"); got != "{id}.{id}.{id}.{id}.in-addr.arpa" {
		t.Errorf("NameTemplate = %q", got)
	}
	if got := NameTemplate("api.example.com"); got != "api.example.com" {
		t.Errorf("NameTemplate = %q", got)
	}
}

func TestSQL(t *testing.T) {
	for _, c := range []struct {
		in    string
		mysql bool
		want  string
	}{
		{"SELECT * FROM pets WHERE id = 42", false, "SELECT * FROM pets WHERE id = ?"},
		{"select name from t where a='x''y' and b = -3.5e10;", false, "select name from t where a=? and b = -?"},
		{"SELECT * FROM t WHERE id IN (1, 2,3)", false, "SELECT * FROM t WHERE id IN (?)"},
		{"SELECT * FROM t WHERE id in('a','b')", true, "SELECT * FROM t WHERE id in(?)"},
		{"INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", false, "INSERT INTO t (a, b) VALUES (?, ?)"},
		{"SELECT \"Name\" FROM \"Users\" WHERE x = $1", false, "SELECT \"Name\" FROM \"Users\" WHERE x = $1"},
		{"SELECT * FROM t WHERE s = \"str\\\"ing\"", true, "SELECT * FROM t WHERE s = ?"},
		{"SELECT `col` FROM t -- trailing\n  WHERE  a = 0x1F /* c */ AND b = E'\\n'", false, "SELECT `col` FROM t WHERE a = ? AND b = ?"},
		{"SELECT $body$ it's $1 $body$, $$x$$", false, "SELECT ?, ?"},
		{"SELECT col1, t2.x FROM t2", false, "SELECT col1, t2.x FROM t2"},
		{"UPDATE t SET n = n + 1 WHERE id = ? # note", true, "UPDATE t SET n = n + ? WHERE id = ?"},
		{"SELECT 'unterminated", false, "SELECT ?"},
	} {
		if got := SQL(c.in, c.mysql); got != c.want {
			t.Errorf("SQL(%q, mysql=%v) = %q, want %q", c.in, c.mysql, got, c.want)
		}
	}
	long := "SELECT " + string(make([]byte, 0))
	for i := 0; i < 1000; i++ {
		long += "col, "
	}
	if got := SQL(long, false); len(got) > maxTemplate+len("…") {
		t.Errorf("long statement gave a %d-byte template", len(got))
	}
}

func TestRoutePerProtocol(t *testing.T) {
	srv := netip.MustParseAddrPort("10.0.0.9:5432")
	req := func(method, target string) *decode.Message { return &decode.Message{Method: method, Target: target} }
	for _, c := range []struct {
		name string
		e    decode.Exchange
		want string
	}{
		{"http", decode.Exchange{Proto: "http/1.1", Request: &decode.Message{Method: "GET", Target: "/pets/123?x=1", Host: "api.example.com"}}, "api.example.com GET /pets/{id}"},
		{"grpc", decode.Exchange{Proto: "grpc", Request: &decode.Message{Method: "POST", Target: "/helloworld.Greeter/SayHello", Host: "g:50051"},
			GRPC: &decode.GRPCInfo{Service: "helloworld.Greeter", Method: "SayHello"}}, "g:50051 POST helloworld.Greeter/SayHello"},
		{"dns", decode.Exchange{Proto: "dns", Server: netip.MustParseAddrPort("10.96.0.10:53"),
			DNS: &decode.DNSInfo{Name: "ip-10-0-0-1.7.svc", Type: "A"}}, "10.96.0.10 A ip-10-0-0-1.{id}.svc"},
		{"postgres", decode.Exchange{Proto: "postgres", Server: srv, Request: req("SELECT", "SELECT * FROM pets WHERE id = 7"), Query: &decode.QueryInfo{}},
			"10.0.0.9:5432 SELECT * FROM pets WHERE id = ?"},
		{"mysql execute", decode.Exchange{Proto: "mysql", Server: srv, Request: req("EXECUTE", "SELECT * FROM t WHERE id = ?"), Query: &decode.QueryInfo{}},
			"10.0.0.9:5432 EXECUTE SELECT * FROM t WHERE id = ?"},
		{"redis", decode.Exchange{Proto: "redis", Server: srv, Request: req("GET", "user:123"), Query: &decode.QueryInfo{}}, "10.0.0.9:5432 GET user:{id}"},
		{"redis no key", decode.Exchange{Proto: "redis", Server: srv, Request: req("PING", ""), Query: &decode.QueryInfo{}}, "10.0.0.9:5432 PING"},
		{"kafka", decode.Exchange{Proto: "kafka", Server: srv, Request: req("Produce", "orders,payments"), Query: &decode.QueryInfo{}}, "10.0.0.9:5432 Produce orders,payments"},
		{"orphan response", decode.Exchange{Proto: "http/1.1", Server: srv, Response: &decode.Message{Status: 200}}, "10.0.0.9:5432"},
	} {
		if got := Of(&c.e); got != c.want {
			t.Errorf("%s: Of = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestShown checks the text the filter variable route and the stats
// groups share: escapes made visible, cut at MaxLen, and cutting again
// changes nothing (stats clips its group values once more).
func TestShown(t *testing.T) {
	long := "/" + strings.Repeat("é", 150) // 301 bytes, cut inside no rune
	for _, c := range []struct {
		target, want string
	}{
		{"/a\x1b[2J/7", `h GET /a\x1b[2J/{id}`},
		{long, Clip("h GET " + long)},
	} {
		e := &decode.Exchange{Proto: "http/1.1", Request: &decode.Message{Method: "GET", Target: c.target, Host: "h"}}
		got := Shown(e)
		if got != c.want {
			t.Errorf("Shown(%q) = %q, want %q", c.target, got, c.want)
		}
		if len(got) > MaxLen+len("…") || !utf8.ValidString(got) {
			t.Errorf("Shown(%q) = %q: %d bytes or invalid UTF-8", c.target, got, len(got))
		}
		if Clip(got) != got {
			t.Errorf("Clip(Shown(%q)) changed it", c.target)
		}
	}
	if !strings.HasSuffix(Shown(&decode.Exchange{Proto: "http/1.1", Request: &decode.Message{Method: "GET", Target: long, Host: "h"}}), "…") {
		t.Error("a long route is not marked as cut")
	}
}
