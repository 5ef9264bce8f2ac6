package filter

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// TestNativeCoversExamples makes sure the documented examples take the
// native path (the benchmark target depends on it) and that filters
// outside it still work through CEL.
func TestNativeCoversExamples(t *testing.T) {
	for _, expr := range []string{
		`status >= 500`,
		`method == "POST" && path.startsWith("/api")`,
		`latency > duration("250ms")`,
		`"authorization" in req_headers`,
		`grpc_status != 0`,
		`resp_body.contains("error")`,
		`host.matches("^api\\.")`,
		`500 <= status && !(method == "GET") || false`,
		`status < 404.0 || req_size > 10u`,
		`tls`,
		`!partial && tls == true`,
		`start > timestamp("2026-01-01T00:00:00Z")`,
		`"1.2.3.4" in dns_answers`,
		`100 in interim`,
		`dns_name == "shop.example.com" && bytes_c2s > 1000`,
	} {
		if !mustCompile(t, expr).isNative() {
			t.Errorf("%q does not compile natively", expr)
		}
	}
	for _, expr := range []string{
		`size(req_headers) > 2`,
		`req_headers["accept"] == "x"`,
		`host.lowerAscii() == "a"`,
		`status in [500, 503]`,
		`method == path`,
		`!(start > timestamp("2026-01-01T00:00:00Z"))`,
		`dns_answers == ["1.2.3.4"]`,
	} {
		if mustCompile(t, expr).isNative() {
			t.Errorf("%q compiled natively, want CEL", expr)
		}
	}
}

// fixtures are the subjects the differential test evaluates on.
func fixtures(t *testing.T) []values {
	api := apiExchange(t)
	slow := *api
	slow.Request = &decode.Message{Method: "GET", Target: "/health", Host: "web", First: t0}
	slow.Response = &decode.Message{Status: 200, Last: t0.Add(2e9)}
	return []values{
		&exchangeVars{e: api},
		&exchangeVars{e: grpcExchange()},
		&exchangeVars{e: &slow},
		&exchangeVars{e: &decode.Exchange{}},
		&flowVars{f: &decode.Flow{Proto: "h2", SNI: "api.example.com", Server: netip.MustParseAddrPort("10.0.0.9:443")}},
		&flowVars{f: &decode.Flow{}},
		&exchangeVars{e: dnsExchange()},
		&exchangeVars{e: wsExchange()},
		&exchangeVars{e: kafkaExchange()},
		&exchangeVars{e: meshExchange(t)},
		&flowVars{f: fullFlow()},
		&flowVars{f: greFlow()},
	}
}

// randomExpr builds a filter from the natively supported forms, with
// literals chosen to hit and miss the fixtures.
func randomExpr(r *rand.Rand, depth int) string {
	if depth > 0 && r.IntN(3) == 0 {
		ops := []string{"&&", "||"}
		return fmt.Sprintf("(%s %s %s)", randomExpr(r, depth-1), ops[r.IntN(2)], randomExpr(r, depth-1))
	}
	if depth > 0 && r.IntN(6) == 0 {
		return "!(" + randomExpr(r, depth-1) + ")"
	}
	cmps := []string{"==", "!=", "<", "<=", ">", ">="}
	op := cmps[r.IntN(len(cmps))]
	strVars := []string{"proto", "method", "host", "path", "query", "url", "grpc_service", "grpc_method", "req_body",
		"resp_body", "content_type", "client_ip", "server_ip", "sni", "source", "pod", "namespace", "state", "error",
		"dns_name", "dns_rcode", "grpc_message", "client", "transport", "tunnel", "orig_dst", "client_id", "req_content_type"}
	strLits := []string{`""`, `"POST"`, `"GET"`, `"api.example.com"`, `"/api/v1/pets"`, `"grpc"`, `"h2"`, `"reset"`, `"shop"`, `"a"`, `"zzz"`}
	numVars := []string{"status", "grpc_status", "req_size", "resp_size", "client_port", "server_port",
		"flow", "stream", "linked", "req_messages", "resp_messages", "packets", "bytes_c2s", "tunnel_id", "batches", "resp_body_bytes"}
	numLits := []string{"0", "-1", "14", "200", "500", "503", "8443", "44"}
	if op != "==" && op != "!=" {
		numLits = append(numLits, "499.5", "503.0", "0u", "9223372036854775808u")
	}
	switch r.IntN(9) {
	case 6:
		v := []string{"tls", "partial"}[r.IntN(2)]
		if r.IntN(2) == 0 {
			return v
		}
		return fmt.Sprintf("%s %s %s", v, op, []string{"true", "false"}[r.IntN(2)])
	case 7:
		ts := []string{"2024-05-01T12:00:00Z", "2024-05-01T12:00:00.3Z", "2024-05-01T12:00:02Z", "2020-01-01T00:00:00Z"}
		v := []string{"start", "end"}[r.IntN(2)]
		return fmt.Sprintf(`%s %s timestamp("%s")`, v, op, ts[r.IntN(len(ts))])
	case 8:
		if r.IntN(2) == 0 {
			return fmt.Sprintf("%s in interim", []string{"100", "101", "200"}[r.IntN(3)])
		}
		return fmt.Sprintf("%s in dns_answers", []string{`"10.0.0.7"`, `"10.0.0.9"`, `""`}[r.IntN(3)])
	case 0:
		v, l := strVars[r.IntN(len(strVars))], strLits[r.IntN(len(strLits))]
		if r.IntN(2) == 0 {
			return fmt.Sprintf("%s %s %s", l, op, v)
		}
		return fmt.Sprintf("%s %s %s", v, op, l)
	case 1:
		v, l := numVars[r.IntN(len(numVars))], numLits[r.IntN(len(numLits))]
		if r.IntN(2) == 0 {
			return fmt.Sprintf("%s %s %s", l, op, v)
		}
		return fmt.Sprintf("%s %s %s", v, op, l)
	case 2:
		ds := []string{"0s", "300ms", "1s", "2s", "299ms"}
		return fmt.Sprintf(`latency %s duration("%s")`, op, ds[r.IntN(len(ds))])
	case 3:
		fns := []string{"contains", "startsWith", "endsWith", "matches"}
		args := []string{`""`, `"api"`, `"/"`, `"error"`, `"^api\\."`, `"[0-9]+$"`, `"(?i)POST"`, `"hello"`,
			`"^/api"`, `"json$"`, `"^POST$"`, `"^$"`, `"^"`, `"(?i)^api"`, `"^a.b"`, `"\\.com$"`, `"é"`}
		return fmt.Sprintf("%s.%s(%s)", strVars[r.IntN(len(strVars))], fns[r.IntN(len(fns))], args[r.IntN(len(args))])
	case 4:
		names := []string{`"authorization"`, `"Authorization"`, `"x-checksum"`, `"cookie"`, `"set-cookie"`, `""`}
		vars := []string{"req_headers", "resp_headers"}
		return fmt.Sprintf("%s in %s", names[r.IntN(len(names))], vars[r.IntN(2)])
	}
	return []string{"true", "false"}[r.IntN(2)]
}

// TestNativeAgreesWithCEL evaluates random filters both ways on every
// fixture; the native path must give CEL's answer every time.
func TestNativeAgreesWithCEL(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	subjects := fixtures(t)
	n := 1500
	if testing.Short() {
		n = 200
	}
	for range n {
		expr := randomExpr(r, 3)
		p := mustCompile(t, expr)
		if !p.isNative() {
			// grpc_status and the times are partial (absent without a
			// value): under a negation, or against a fraction, CEL runs.
			if !strings.Contains(expr, "grpc_status") && !strings.Contains(expr, "timestamp(") {
				t.Errorf("%q: not native", expr)
			}
			continue
		}
		for i, v := range subjects {
			if got, want := p.run(v), p.eval(v); got != want {
				t.Errorf("%q on subject %d: native %v, CEL %v", expr, i, got, want)
			}
		}
	}
}
