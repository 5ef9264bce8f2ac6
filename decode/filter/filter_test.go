package filter

import (
	"bytes"
	"compress/gzip"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// apiExchange is a POST to an API over TLS answered by a gzip-encoded 503.
func apiExchange(t testing.TB) *decode.Exchange {
	respBody := `{"error":"backend unavailable","retry":true}`
	return &decode.Exchange{
		ID: 7, FlowID: 3, Source: "capture.pcapng", Proto: "http/1.1",
		Client: netip.MustParseAddrPort("10.0.0.5:51000"),
		Server: netip.MustParseAddrPort("[::ffff:10.0.0.9]:8443"),
		Start:  t0, End: t0.Add(300 * time.Millisecond),
		TLS: true, SNI: "api.example.com",
		State: decode.Complete, Error: "",
		Pod: "checkout-7d9", Namespace: "shop",
		Request: &decode.Message{
			First: t0, Last: t0.Add(10 * time.Millisecond),
			Method: "POST", Target: "/api/v1/pets?limit=5", Host: "api.example.com", Proto: "HTTP/1.1",
			Headers: []decode.Header{
				{Name: "Host", Value: "api.example.com"},
				{Name: "Authorization", Value: "Bearer abc.def"},
				{Name: "Accept", Value: "application/json"},
				{Name: "accept", Value: "text/plain"},
				{Name: "Content-Type", Value: "application/json"},
			},
			Body: []byte(`{"name":"rex"}`), BodySize: 14, DecodedSize: 14,
		},
		Response: &decode.Message{
			First: t0.Add(200 * time.Millisecond), Last: t0.Add(300 * time.Millisecond),
			Status: 503, Reason: "Service Unavailable", Proto: "HTTP/1.1",
			Headers: []decode.Header{
				{Name: "Content-Type", Value: "Application/JSON; charset=utf-8"},
				{Name: "Content-Encoding", Value: "gzip"},
				{Name: "Set-Cookie", Value: "a=1"},
			},
			Trailers:        []decode.Header{{Name: "X-Checksum", Value: "ff"}},
			Body:            gz(t, respBody),
			BodySize:        int64(len(gz(t, respBody))),
			ContentEncoding: []string{"gzip"},
			DecodedSize:     int64(len(respBody)),
		},
	}
}

func grpcExchange() *decode.Exchange {
	return &decode.Exchange{
		ID: 8, Proto: "grpc", State: decode.Reset, Error: "stream reset by peer", StreamID: 5,
		Client: netip.MustParseAddrPort("10.0.0.5:51001"),
		Server: netip.MustParseAddrPort("10.0.0.10:50051"),
		Request: &decode.Message{
			Method: "POST", Target: "/helloworld.Greeter/SayHello", Host: "greeter:50051", Scheme: "http",
			Parts: []decode.Part{{Kind: "grpc", Data: []byte("\n\x05world")}},
		},
		Response: &decode.Message{
			Status: 200,
			Parts:  []decode.Part{{Kind: "grpc", Data: []byte("\n\x0bhello world")}},
		},
		GRPC: &decode.GRPCInfo{Service: "helloworld.Greeter", Method: "SayHello", Status: 14, Message: "unavailable"},
	}
}

func mustCompile(t testing.TB, expr string) *Program {
	t.Helper()
	p, err := Compile(expr)
	if err != nil {
		t.Fatalf("Compile(%q): %v", expr, err)
	}
	return p
}

// TestVariables checks every variable's value on an exchange, with one
// expression that must match and one that must not.
func TestVariables(t *testing.T) {
	api := apiExchange(t)
	g := grpcExchange()
	pgErr := &decode.Exchange{Proto: "postgres", Request: &decode.Message{Method: "SELECT", Target: "SELECT * FROM pets WHERE id = ?"},
		Query: &decode.QueryInfo{ReplyError: `ERROR: relation "pets" does not exist`, ErrorCode: "42P01", Rows: -1}}
	pgRows := &decode.Exchange{Proto: "postgres", Request: &decode.Message{Method: "SELECT", Target: "SELECT 1"},
		Query: &decode.QueryInfo{Rows: 3, Database: "shop", User: "app"}}
	dns, ws, kafka, fl := dnsExchange(), wsExchange(), kafkaExchange(), fullFlow()
	cases := []struct {
		name    string
		ex      *decode.Exchange
		yes, no string
		flow    *decode.Flow // instead of ex, for flow variables
	}{
		{"proto", api, `proto == "http/1.1"`, `proto == "h2"`, nil},
		{"method", api, `method == "POST"`, `method == "GET"`, nil},
		{"host", api, `host == "api.example.com"`, `host == "example.com"`, nil},
		{"path", api, `path == "/api/v1/pets"`, `path == "/api/v1/pets?limit=5"`, nil},
		{"query", api, `query == "limit=5"`, `query == ""`, nil},
		{"url", api, `url == "https://api.example.com/api/v1/pets?limit=5"`, `url.startsWith("http:")`, nil},
		{"url h2 scheme", g, `url == "http://greeter:50051/helloworld.Greeter/SayHello"`, `url.startsWith("https")`, nil},
		{"status", api, `status == 503`, `status < 500`, nil},
		{"grpc_status none", api, `proto != "grpc"`, `grpc_status == 0 || grpc_status != 0 || grpc_status == -1`, nil},
		{"grpc_status", g, `grpc_status == 14`, `grpc_status == 0`, nil},
		{"grpc_service", g, `grpc_service == "helloworld.Greeter"`, `grpc_service == ""`, nil},
		{"grpc_method", g, `grpc_method == "SayHello"`, `grpc_method == "sayhello"`, nil},
		{"latency", api, `latency == duration("300ms")`, `latency > duration("300ms")`, nil},
		{"req_size", api, `req_size == 14`, `req_size > 14`, nil},
		{"resp_size decoded", api, `resp_size == 44`, `resp_size == ` + strconv.Itoa(len(api.Response.Body)), nil},
		{"req_headers", api, `req_headers["authorization"] == "Bearer abc.def"`, `"cookie" in req_headers`, nil},
		{"req_headers join", api, `req_headers["accept"] == "application/json, text/plain"`, `req_headers["accept"] == "text/plain"`, nil},
		{"req_headers case", api, `"Authorization" in req_headers`, `"Authorisation" in req_headers`, nil},
		{"req_headers size", api, `size(req_headers) == 4`, `size(req_headers) == 5`, nil},
		{"req_headers iterate", api, `req_headers.exists(k, k == "content-type")`, `req_headers.exists(k, k == "Content-Type")`, nil},
		{"resp_headers trailers", api, `resp_headers["x-checksum"] == "ff"`, `resp_headers["x-checksum"] == "00"`, nil},
		{"req_body", api, `req_body == "{\"name\":\"rex\"}"`, `req_body.contains("error")`, nil},
		{"resp_body gzip", api, `resp_body.contains("backend unavailable")`, `resp_body.contains("\x1f\x8b")`, nil},
		{"resp_body parts", g, `resp_body.contains("hello world")`, `resp_body.contains("world\n")`, nil},
		{"content_type", api, `content_type == "application/json"`, `content_type.contains("charset")`, nil},
		{"client_ip", api, `client_ip == "10.0.0.5"`, `client_ip == "10.0.0.9"`, nil},
		{"client_port", api, `client_port == 51000`, `client_port == 8443`, nil},
		{"server_ip unmapped", api, `server_ip == "10.0.0.9"`, `server_ip.contains("ffff")`, nil},
		{"server_port", api, `server_port == 8443`, `server_port == 443`, nil},
		{"sni", api, `sni == "api.example.com"`, `sni == ""`, nil},
		{"source", api, `source == "capture.pcapng"`, `source == ""`, nil},
		{"pod", api, `pod == "checkout-7d9"`, `pod == ""`, nil},
		{"namespace", api, `namespace == "shop"`, `namespace == "default"`, nil},
		{"state", g, `state == "reset"`, `state == "complete"`, nil},
		{"error", g, `error.contains("reset")`, `error == ""`, nil},
		{"direction", &decode.Exchange{Direction: decode.DirOutbound}, `direction == "outbound"`, `direction == "inbound"`, nil},
		{"leg", &decode.Exchange{Leg: decode.LegApp}, `leg == "app"`, `leg == "network"`, nil},
		{"reply_error", pgErr, `reply_error.contains("does not exist")`, `reply_error == ""`, nil},
		{"rows", pgRows, `rows == 3`, `rows == 0`, nil},
		{"rows unknown", pgErr, `rows == 0`, `rows < 0`, nil},
		{"route", api, `route == "api.example.com POST /api/v1/pets"`, `route == "api.example.com POST /api/v1/pets?limit=5"`, nil},
		{"route templates ids and SQL", pgRows, `route == "SELECT ?" && proto == "postgres"`, `route == "SELECT 1"`, nil},
		{"route on a flow", nil, `route == ""`, `route != ""`, fl},
		{"path keeps ?", pgErr, `path == "SELECT * FROM pets WHERE id = ?"`, `query != ""`, nil},
		{"error_code", pgErr, `error_code == "42P01"`, `error_code == ""`, nil},
		{"flow", api, `flow == 3`, `flow == 7`, nil},
		{"start", api, `start == timestamp("2024-05-01T12:00:00Z")`, `start > timestamp("2024-05-01T12:00:00Z")`, nil},
		{"end", api, `end - start == duration("300ms")`, `end < timestamp("2024-05-01T12:00:00Z")`, nil},
		{"client", api, `client == "10.0.0.5:51000"`, `client == "10.0.0.5"`, nil},
		{"server keeps mapped form", api, `server == "[::ffff:10.0.0.9]:8443"`, `server == "10.0.0.9:8443"`, nil},
		{"interim", ws, `101 in interim`, `100 in interim`, nil},
		{"interim empty", api, `size(interim) == 0`, `101 in interim`, nil},
		{"req_body_bytes", api, `req_body_bytes == req_size && req_body_bytes == 14`, `req_body_bytes != 14`, nil},
		{"resp_body_bytes", api, `resp_body_bytes == 44`, `resp_body_bytes == resp_size + 1`, nil},
		{"ws sizes inflated", ws, `resp_body_bytes == 11 && req_size == 5`, `resp_size == 9`, nil},
		{"req_content_type", api, `req_content_type == "application/json"`, `req_content_type == ""`, nil},
		{"resp_content_type", api, `resp_content_type == content_type`, `resp_content_type == ""`, nil},
		{"stream", g, `stream == 5`, `stream == 0`, nil},
		{"tls", api, `tls && tls == true`, `!tls`, nil},
		{"tls off", g, `!tls`, `tls`, nil},
		{"grpc_message", g, `grpc_message == "unavailable"`, `grpc_message == ""`, nil},
		{"req_messages", g, `req_messages == 1 && resp_messages == 1`, `req_messages == 0`, nil},
		{"resp_messages ws", ws, `resp_messages == 1 && req_messages == 2`, `resp_messages == 3`, nil},
		{"dns_name", dns, `dns_name == "shop.example.com" && host == dns_name`, `dns_name == ""`, nil},
		{"dns_type", dns, `dns_type == "A"`, `dns_type == "AAAA"`, nil},
		{"dns_rcode", dns, `dns_rcode == "NOERROR"`, `dns_rcode == "NXDOMAIN"`, nil},
		{"dns_answers", dns, `"10.0.0.7" in dns_answers && size(dns_answers) == 2`, `"10.0.0.9" in dns_answers`, nil},
		{"dns_answers none", api, `size(dns_answers) == 0`, `"10.0.0.7" in dns_answers`, nil},
		{"database", kafka, `database == "" && db_user == "" && client_id == "checkout"`, `client_id == ""`, nil},
		{"db_user", pgRows, `db_user == "app" && database == "shop"`, `db_user == ""`, nil},
		{"client_id", kafka, `client_id.startsWith("check")`, `client_id == "other"`, nil},
		{"batches", kafka, `batches == 2 && record_bytes == 300`, `batches == 0`, nil},
		{"record_bytes", kafka, `record_bytes > 299`, `record_bytes == 0`, nil},
		{"linked", &decode.Exchange{Linked: 12}, `linked == 12`, `linked == 0`, nil},
		{"transport", nil, `transport == "tcp"`, `transport == "udp"`, fl},
		{"orig_dst", nil, `orig_dst == "10.96.0.10:80"`, `orig_dst == ""`, fl},
		{"packets", nil, `packets == 30`, `packets == 10`, fl},
		{"bytes_c2s", nil, `bytes_c2s == 1000 && bytes_s2c == 5000`, `bytes_c2s == 0`, fl},
		{"bytes_s2c", nil, `bytes_s2c > bytes_c2s`, `bytes_s2c == 0`, fl},
		{"partial", nil, `partial`, `!partial`, fl},
		{"tunnel", nil, `tunnel == "vxlan"`, `tunnel == ""`, fl},
		{"tunnel_id", nil, `tunnel_id == 42`, `tunnel_id == 0`, fl},
		{"tunnel_client_node", nil, `tunnel_client_node == "192.168.1.10"`, `tunnel_client_node == ""`, fl},
		{"tunnel_server_node", nil, `tunnel_server_node == "192.168.1.11"`, `tunnel_server_node == ""`, fl},
		{"flow on a flow", nil, `flow == 12 && linked == 13`, `flow == 0`, fl},
		{"flow times", nil, `start < end && end - start == duration("2s")`, `start > end`, fl},
	}
	declared := map[string]bool{}
	for _, v := range Variables() {
		declared[v.Name] = false
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v values = &exchangeVars{e: c.ex}
			if c.flow != nil {
				v = &flowVars{f: c.flow}
			}
			// Both evaluators: the native one where the filter compiles
			// to Go, and CEL.
			for _, cel := range []bool{false, true} {
				run := mustCompile(t, c.yes).run
				if cel {
					run = func(v values) bool { return mustCompile(t, c.yes).eval(v) }
				}
				if !run(v) {
					t.Errorf("%s (CEL %v): want match", c.yes, cel)
				}
				run = mustCompile(t, c.no).run
				if cel {
					run = func(v values) bool { return mustCompile(t, c.no).eval(v) }
				}
				if run(v) {
					t.Errorf("%s (CEL %v): want no match", c.no, cel)
				}
			}
		})
		for _, v := range mustCompile(t, c.yes).Vars() {
			declared[v] = true
		}
	}
	for name, tested := range declared {
		if !tested {
			t.Errorf("variable %s has no test case", name)
		}
	}
}

// TestIssueExamples runs the examples the filter language promises.
func TestIssueExamples(t *testing.T) {
	api := apiExchange(t)
	plain := &decode.Exchange{
		Proto: "http/1.1", State: decode.Complete,
		Request:  &decode.Message{Method: "GET", Target: "/health", Host: "web.internal"},
		Response: &decode.Message{Status: 200, Body: []byte("ok")},
	}
	g := grpcExchange()
	cases := []struct {
		expr string
		want [3]bool // api, plain, grpc
	}{
		{`status >= 500`, [3]bool{true, false, false}},
		{`method == "POST" && path.startsWith("/api")`, [3]bool{true, false, false}},
		{`latency > duration("250ms")`, [3]bool{true, false, false}},
		{`"authorization" in req_headers`, [3]bool{true, false, false}},
		// Without a gRPC status, comparisons on it are false: the
		// example means "failed gRPC calls".
		{`grpc_status != 0`, [3]bool{false, false, true}},
		{`grpc_status > 0`, [3]bool{false, false, true}},
		{`resp_body.contains("error")`, [3]bool{true, false, false}},
		{`host.matches("^api\\.")`, [3]bool{true, false, false}},
		{`pets`, [3]bool{true, false, false}},
		{`PETS`, [3]bool{true, false, false}},
		{`health`, [3]bool{false, true, false}},
		{`SayHello`, [3]bool{false, false, true}},
		{`/api/v1/pets?limit=5`, [3]bool{true, false, false}},
		{`https://api.example`, [3]bool{true, false, false}},
		{`"v1/PETS?limit"`, [3]bool{true, false, false}},
		{``, [3]bool{true, true, true}},
		{`   `, [3]bool{true, true, true}},
		{`""`, [3]bool{true, true, true}},
		{`true`, [3]bool{true, true, true}},
		{`req_headers["x-missing"] == "1"`, [3]bool{false, false, false}},
		{`!(req_headers["x-missing"] == "1")`, [3]bool{false, false, false}},
		{`status > 250.5 && status < 600`, [3]bool{true, false, false}},
		{`host.lowerAscii().endsWith(".internal")`, [3]bool{false, true, false}},
	}
	for _, c := range cases {
		p := mustCompile(t, c.expr)
		for i, ex := range []*decode.Exchange{api, plain, g} {
			if got := p.Match(ex); got != c.want[i] {
				t.Errorf("%q on exchange %d: got %v, want %v", c.expr, i, got, c.want[i])
			}
		}
		if p.String() != c.expr {
			t.Errorf("String() = %q, want %q", p.String(), c.expr)
		}
	}
}

func TestEmptyAndNil(t *testing.T) {
	p := mustCompile(t, "")
	if !p.MatchesAll() || !p.Match(&decode.Exchange{}) || !p.MatchFlow(&decode.Flow{}) {
		t.Fatal("empty filter must match everything")
	}
	var nilProg *Program
	if !nilProg.Match(&decode.Exchange{}) || nilProg.String() != "" {
		t.Fatal("nil program must match everything")
	}
	q := mustCompile(t, "status == 200")
	if q.Match(nil) || q.MatchFlow(nil) {
		t.Fatal("nil exchange/flow must not match")
	}
	// An exchange with nothing set must evaluate every variable without
	// panicking.
	for _, v := range Variables() {
		expr := v.Name + ` == ` + zeroLiteral(v.Type)
		if v.Name == "grpc_status" || v.Type == "timestamp" {
			// Absent: no comparison holds, and none may panic.
			lit := "0"
			if v.Type == "timestamp" {
				lit = `timestamp("2024-01-01T00:00:00Z")`
			}
			for _, op := range []string{"%s == -1", "%s != %s", "!(%s == %s)", "%s < %s", "!(%s >= %s)"} {
				e := strings.ReplaceAll(strings.Replace(op, "%s", v.Name, 1), "%s", lit)
				if v.Type == "timestamp" && strings.Contains(e, "-1") {
					continue
				}
				p := mustCompile(t, e)
				if p.Match(&decode.Exchange{}) || p.MatchFlow(&decode.Flow{}) {
					t.Errorf("%s matched without a value", e)
				}
			}
			continue
		}
		p := mustCompile(t, expr)
		if !p.Match(&decode.Exchange{}) {
			t.Errorf("%s on an empty exchange: want the zero value", expr)
		}
		if !p.MatchFlow(&decode.Flow{}) {
			t.Errorf("%s on an empty flow: want the zero value", expr)
		}
	}
}

func zeroLiteral(typ string) string {
	switch typ {
	case "int":
		return "0"
	case "bool":
		return "false"
	case "list(string)", "list(int)":
		return "[]"
	case "duration":
		return `duration("0s")`
	case "map(string, string)":
		return "{}"
	}
	return `""`
}

func TestMatchFlow(t *testing.T) {
	f := &decode.Flow{
		ID: 3, Source: "agent-1", Transport: "tcp", Proto: "tls",
		Client: netip.MustParseAddrPort("10.0.0.5:51000"),
		Server: netip.MustParseAddrPort("10.0.0.9:443"),
		State:  decode.FlowReset, Error: "connection reset",
		TLS: &decode.TLSInfo{SNI: "Shop.Example.com"},
		Pod: "checkout-7d9", Namespace: "shop",
	}
	udp := &decode.Flow{Transport: "udp", Server: netip.MustParseAddrPort("10.0.0.53:53"), State: decode.FlowClosed}
	cases := []struct {
		expr     string
		tls, dns bool
	}{
		{`proto == "tls"`, true, false},
		{`proto == "udp"`, false, true},
		{`sni == "Shop.Example.com"`, true, false},
		{`host == "Shop.Example.com"`, true, false},
		{`host == "10.0.0.53:53"`, false, true},
		{`url == host`, true, true},
		{`shop.example`, true, false},
		{`10.0.0.53`, false, true},
		{`client_ip == "10.0.0.5" && client_port == 51000`, true, false},
		{`server_ip == "10.0.0.9" && server_port == 443`, true, false},
		{`state == "reset" && error.contains("reset")`, true, false},
		{`source == "agent-1" && pod == "checkout-7d9" && namespace == "shop"`, true, false},
		{`status == 0 && method == "" && latency == duration("0s")`, true, true},
		{`grpc_status != 0`, false, false},
		{`size(resp_headers) == 0 && req_body == ""`, true, true},
		{`status >= 500`, false, false},
	}
	for _, c := range cases {
		p := mustCompile(t, c.expr)
		if got := p.MatchFlow(f); got != c.tls {
			t.Errorf("%q on tls flow: got %v", c.expr, got)
		}
		if got := p.MatchFlow(udp); got != c.dns {
			t.Errorf("%q on udp flow: got %v", c.expr, got)
		}
	}
}

func TestMatchAll(t *testing.T) {
	api, g := apiExchange(t), grpcExchange()
	plain := &decode.Exchange{Request: &decode.Message{Method: "GET", Target: "/x"}, Response: &decode.Message{Status: 200}}
	var exs []*decode.Exchange
	for i := range 10000 {
		switch i % 4 {
		case 0:
			exs = append(exs, api)
		case 1:
			exs = append(exs, g)
		case 2:
			exs = append(exs, plain)
		default:
			exs = append(exs, nil)
		}
	}
	for _, expr := range []string{`status >= 500`, `pets`, `grpc_status > 0 || method == "GET"`, ``, `resp_body.contains("hello")`} {
		p := mustCompile(t, expr)
		var want []int
		for i, e := range exs {
			if e != nil && p.Match(e) || e == nil && p.MatchesAll() {
				want = append(want, i)
			}
		}
		for _, workers := range []int{1, 2, 3, 0} {
			got := p.MatchAll(exs, workers)
			if !equalInts(got, want) {
				t.Errorf("%q with %d workers: %d matches, want %d", expr, workers, len(got), len(want))
			}
		}
	}
	flows := []*decode.Flow{{Proto: "h2"}, {Proto: "tls"}, nil, {Proto: "h2"}}
	if got := mustCompile(t, `proto == "h2"`).MatchFlows(flows, 2); !equalInts(got, []int{0, 3}) {
		t.Errorf("MatchFlows = %v", got)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestVarsAndLaziness(t *testing.T) {
	p := mustCompile(t, `status >= 500 && resp_body.contains("x") || resp_body.contains("y")`)
	if got := strings.Join(p.Vars(), ","); got != "status,resp_body" {
		t.Fatalf("Vars = %q", got)
	}
	// A body that fails to decode must not break matching of the rest.
	e := apiExchange(t)
	bad := *e.Response
	bad.Body = []byte("not gzip at all")
	e.Response = &bad
	if mustCompile(t, `resp_body.contains("error")`).Match(e) {
		t.Fatal("undecodable body must not match its compressed text")
	}
	if !mustCompile(t, `status == 503 || resp_body.contains("error")`).Match(e) {
		t.Fatal("status alone must still match")
	}
}

func TestBareWordDetection(t *testing.T) {
	for s, want := range map[string]bool{
		"pets": true, "/api/v1?limit=5": true, "api.example.com": true, "a-b_c": true, "x=1": true,
		"true": false, "false": false, "!pets": false, "status==500": false, "a!=b": false,
		"pets dogs": false, `"pets"`: false, "f(x)": false, "a&&b": false, "x>1": false,
	} {
		if got := isBareWord(s); got != want {
			t.Errorf("isBareWord(%q) = %v, want %v", s, got, want)
		}
	}
}
