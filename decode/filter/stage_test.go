package filter

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// summarize returns what the memory-bounded store keeps of e: messages
// with at most their Content-Type header and no body, parts or
// trailers.
func summarize(e *decode.Exchange) *decode.Exchange {
	s := *e
	s.Request, s.Response, s.Interim = slim(e.Request), slim(e.Response), nil
	for _, m := range e.Interim {
		s.Interim = append(s.Interim, slim(m)) // decode/store keeps their statuses
	}
	return &s
}

func slim(m *decode.Message) *decode.Message {
	if m == nil {
		return nil
	}
	c := *m
	c.Headers, c.Body, c.Parts, c.Trailers = nil, nil, nil, nil
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, "content-type") {
			c.Headers = []decode.Header{h}
			break
		}
	}
	return &c
}

// subjects builds varied exchanges (with and without responses, gRPC,
// headers, plain and gzip bodies, numeric and other queries) and flows,
// so every atom of randomFilter is true on some and false or failing on
// others.
func subjects(t testing.TB, n int) ([]*decode.Exchange, []*decode.Flow) {
	r := rand.New(rand.NewPCG(7, 15))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	bodies := []string{``, `{"ok":true}`, `{"error":"backend down","retry": true}`, `{"items":[1,2,3],"note":"no error here"}`, `42`}
	zipped := make([][]byte, len(bodies))
	for i, b := range bodies {
		zipped[i] = gz(t, b)
	}
	var exs []*decode.Exchange
	for i := range n {
		start := t0.Add(time.Duration(i) * time.Second)
		e := &decode.Exchange{
			ID: uint64(i), Proto: pick("http/1.1", "h2", "grpc"), State: decode.ExchangeState(pick("complete", "reset")),
			Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), uint16(40000+i)),
			Server: netip.MustParseAddrPort("10.0.0.9:8080"), Namespace: pick("shop", ""), Pod: pick("web-1", ""),
			Request: &decode.Message{
				First: start, Method: pick("GET", "POST"), Host: pick("api.example.com", "web"),
				Target: pick("/api/v1/pets", "/health", "/api/items?5", "/search?q=a"),
			},
		}
		req := e.Request
		for _, h := range []decode.Header{{Name: "Authorization", Value: "Bearer x"}, {Name: "X-Id", Value: pick("7", "8")},
			{Name: "Content-Type", Value: "application/json"}} {
			if r.IntN(2) == 0 {
				req.Headers = append(req.Headers, h)
			}
		}
		if req.Method == "POST" {
			req.Body = []byte(pick(`{"q":"error"}`, `{"q":"x"}`))
			req.BodySize, req.DecodedSize = int64(len(req.Body)), int64(len(req.Body))
		}
		if e.Proto == "grpc" {
			e.GRPC = &decode.GRPCInfo{Service: "helloworld.Greeter", Method: "SayHello", Status: []int{0, 2, -1}[r.IntN(3)]}
			req.Parts = []decode.Part{{Kind: "grpc", Data: []byte(pick("world", "error"))}}
		}
		if r.IntN(6) > 0 {
			resp := &decode.Message{Status: []int{200, 204, 404, 500, 503}[r.IntN(5)], Last: start.Add(time.Duration(r.IntN(400)) * time.Millisecond)}
			if r.IntN(4) > 0 {
				resp.Headers = append(resp.Headers, decode.Header{Name: "Content-Type", Value: pick("application/json; charset=utf-8", "text/plain")})
			}
			if r.IntN(2) == 0 {
				resp.Headers = append(resp.Headers, decode.Header{Name: "X-Id", Value: pick("7", "8")})
			}
			if r.IntN(3) == 0 {
				resp.Trailers = []decode.Header{{Name: "X-Checksum", Value: "ff"}}
			}
			k := r.IntN(len(bodies))
			resp.Body, resp.DecodedSize = []byte(bodies[k]), int64(len(bodies[k]))
			if r.IntN(2) == 0 {
				resp.Body, resp.ContentEncoding = zipped[k], []string{"gzip"}
				resp.Headers = append(resp.Headers, decode.Header{Name: "Content-Encoding", Value: "gzip"})
			}
			resp.BodySize = int64(len(resp.Body)) + int64(r.IntN(2)*100) // sometimes truncated
			e.Response = resp
		}
		exs = append(exs, e)
	}
	exs = append(exs, &decode.Exchange{}, apiExchange(t), grpcExchange())
	flows := []*decode.Flow{
		{Proto: "h2", SNI: "api.example.com", Server: netip.MustParseAddrPort("10.0.0.9:443"), Namespace: "shop"},
		{Transport: "tcp", State: "open"}, {},
	}
	return exs, flows
}

// Atoms of randomFilter. Several fail with an error on some subjects
// (grpc_status without gRPC, a missing header key, int() of a non-number),
// which is where reordering and dropping conjuncts could go wrong.
var (
	cheapAtoms = []string{
		`status >= 500`, `status == 404`, `status == 0`, `method == "POST"`, `path.startsWith("/api")`,
		`grpc_status == 2`, `grpc_status != 0`, `grpc_status in [0, 2]`, `content_type == "application/json"`,
		`content_type.contains("text")`, `latency > duration("100ms")`, `resp_size > 100`, `req_size == 0`,
		`namespace == "shop"`, `int(query) > 3`, `size(path) > 7`, `url.contains("api")`, `proto == "grpc"`,
		`state == "complete"`, `host.matches("^api")`, `true`, `false`, `method == "GET" ? status < 400 : status >= 400`,
	}
	heavyAtoms = []string{
		`"authorization" in req_headers`, `req_headers["x-id"] == "7"`, `resp_headers["x-id"] != "7"`,
		`size(resp_headers) > 2`, `resp_headers.exists(k, k.startsWith("x-"))`, `"x-checksum" in resp_headers`,
		`resp_body.contains("error")`, `req_body.contains("error")`, `size(resp_body) > 20`, `resp_body == ""`,
		`resp_body.matches("\"retry\":\\s*true")`, `req_body.startsWith("{")`, `int(resp_body) > 0`,
		`status >= 500 ? resp_body.contains("error") : req_headers["x-id"] == "7"`, `resp_body.contains(method)`,
		`"content-type" in resp_headers`,
	}
)

// randomFilter combines atoms with &&, ||, ! and ternaries in
// parentheses, and says whether it mentions a costly variable.
func randomFilter(r *rand.Rand, depth int) (string, bool) {
	if depth == 0 || r.IntN(4) == 0 {
		if r.IntN(3) == 0 {
			return heavyAtoms[r.IntN(len(heavyAtoms))], true
		}
		return cheapAtoms[r.IntN(len(cheapAtoms))], false
	}
	switch r.IntN(6) {
	case 0, 1, 2:
		op := " && "
		if r.IntN(3) == 0 {
			op = " || "
		}
		var parts []string
		heavy := false
		for range 2 + r.IntN(3) {
			s, h := randomFilter(r, depth-1)
			parts, heavy = append(parts, "("+s+")"), heavy || h
		}
		return strings.Join(parts, op), heavy
	case 3:
		s, h := randomFilter(r, depth-1)
		return "!(" + s + ")", h
	case 4:
		c, h1 := randomFilter(r, depth-1)
		a, h2 := randomFilter(r, depth-1)
		b, h3 := randomFilter(r, depth-1)
		return fmt.Sprintf("(%s) ? (%s) : (%s)", c, a, b), h1 || h2 || h3
	}
	a, h1 := randomFilter(r, depth-1)
	b, h2 := randomFilter(r, depth-1)
	return fmt.Sprintf("(%s) && ((%s) || %s)", a, b, cheapAtoms[r.IntN(len(cheapAtoms))]), h1 || h2
}

// TestStagesAndPrefilterProperties checks, for random filters over
// random exchanges and flows: the prefilter never rejects what the
// filter accepts, on the full exchange or on its summary; the
// cost-ordered stages answer exactly as the filter as written, natively
// and through CEL; NeedsFull is true exactly for filters that mention a
// costly variable, and where it is false the summary gives the full
// answer; the prefilter is cheap, and its text compiles back to it.
func TestStagesAndPrefilterProperties(t *testing.T) {
	exs, flows := subjects(t, 60)
	var full, slimmed []values
	for _, e := range exs {
		full, slimmed = append(full, &exchangeVars{e: e}), append(slimmed, &exchangeVars{e: summarize(e)})
	}
	for _, f := range flows {
		full, slimmed = append(full, &flowVars{f: f}), append(slimmed, &flowVars{f: f})
	}
	r := rand.New(rand.NewPCG(3, 4))
	n := 400
	if testing.Short() {
		n = 150
	}
	var matched, narrowed, staged int
	for range n {
		expr, heavy := randomFilter(r, 3)
		p := mustCompile(t, expr)
		ref, err := compile(expr, false)
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		if p.NeedsFull() != heavy {
			t.Errorf("%q: NeedsFull %v, want %v", expr, p.NeedsFull(), heavy)
		}
		pre := p.Prefilter()
		if pre.NeedsFull() {
			t.Errorf("%q: prefilter %q needs full exchanges", expr, pre)
		}
		if !heavy && pre != p {
			t.Errorf("%q: a cheap filter is not its own prefilter", expr)
		}
		if len(p.stages) > 1 {
			staged++
		}
		var again *Program
		if !pre.MatchesAll() {
			again = mustCompile(t, pre.String())
		}
		for i, v := range full {
			want := ref.eval(v)
			if got := p.eval(v); got != want {
				t.Errorf("%q on subject %d: staged CEL %v, as written %v", expr, i, got, want)
			}
			if got := p.run(v); got != want {
				t.Errorf("%q on subject %d: staged native %v, as written %v", expr, i, got, want)
			}
			if got := ref.run(v); got != want {
				t.Errorf("%q on subject %d: native %v, CEL %v", expr, i, got, want)
			}
			preFull, preSlim := pre.MatchesAll() || pre.run(v), pre.MatchesAll() || pre.run(slimmed[i])
			if preFull != preSlim {
				t.Errorf("%q on subject %d: prefilter %q says %v on the full form, %v on the summary", expr, i, pre, preFull, preSlim)
			}
			if want && !preSlim {
				t.Errorf("%q on subject %d: prefilter %q rejects a match", expr, i, pre)
			}
			if !p.NeedsFull() && p.run(slimmed[i]) != want {
				t.Errorf("%q on subject %d: cheap filter answers differently on the summary", expr, i)
			}
			if again != nil && again.run(v) != preFull {
				t.Errorf("%q on subject %d: prefilter text %q does not compile back to the prefilter", expr, i, pre)
			}
			if want {
				matched++
			}
			if !preFull {
				narrowed++
			}
		}
	}
	// The properties are vacuous unless filters match, prefilters reject
	// and filters split into stages often enough.
	t.Logf("sample: %d matches, %d prefilter rejections, %d staged filters", matched, narrowed, staged)
	if matched < n || narrowed < n || staged < n/10 {
		t.Errorf("weak sample: %d matches, %d prefilter rejections, %d staged filters", matched, narrowed, staged)
	}
}

// TestPrefilterShape pins how selective the prefilter is for the shapes
// the UI sees: the cheap conjuncts of a conjunction however nested, the
// cheap parts of each alternative of an ||, De Morgan under !, and
// match-all where nothing cheap is implied.
func TestPrefilterShape(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{`resp_body.contains("error") && status >= 500`, `status >= 500`},
		{`resp_body.contains("error") && (method == "POST" && ("x-id" in req_headers && status >= 500))`, `method == "POST" && status >= 500`},
		{`(namespace == "shop" && size(resp_body) > 3) && grpc_status == 2`, `namespace == "shop" && grpc_status == 2`},
		{`status >= 500 || resp_body.contains("x")`, ``},
		{`!resp_body.contains("x")`, ``},
		{`status >= 500 ? resp_body.contains("x") : false`, ``},
		{`req_headers["x-id"] == "7" && resp_body.contains("x")`, ``},
		{`(status >= 500 && resp_body.contains("a")) || (status == 404 && req_body == "")`, `status >= 500 || status == 404`},
		{`!(resp_body.contains("x") || status == 200)`, `!(status == 200)`},
		{`!(resp_body.contains("x") && status == 200)`, ``},
		{`content_type == "application/json" && "authorization" in req_headers`, `content_type == "application/json"`},
	} {
		p := mustCompile(t, c.expr)
		if !p.NeedsFull() {
			t.Errorf("%q: NeedsFull false", c.expr)
		}
		pre := p.Prefilter()
		if got := pre.String(); got != c.want || pre.MatchesAll() != (c.want == "") {
			t.Errorf("%q: prefilter %q (matches all: %v), want %q", c.expr, got, pre.MatchesAll(), c.want)
		}
	}
	for _, expr := range []string{`status >= 500`, `content_type == "text/plain"`, `pets`, ``, `resp_size > 1e6 && req_size < 10`} {
		p := mustCompile(t, expr)
		if p.NeedsFull() || p.Prefilter() != p {
			t.Errorf("%q: cheap filter reported as needing full exchanges, or with a prefilter other than itself", expr)
		}
	}
	var nilProgram *Program
	if nilProgram.NeedsFull() || nilProgram.Prefilter() != nil {
		t.Error("nil program: NeedsFull true or a prefilter")
	}
}

// TestSummaryKeepsCheapVariables holds varCost to what a summary keeps:
// every cheap variable reads the same on an exchange and its summary,
// and every costly one differs on some exchange, so the table is neither
// missing a costly variable nor calling a cheap one costly.
func TestSummaryKeepsCheapVariables(t *testing.T) {
	exs, _ := subjects(t, 60)
	// and the JSON schema's representatives, which set the newer fields
	exs = append(exs, meshExchange(t), dnsExchange(), wsExchange(), kafkaExchange(), pgExchange(), filledExchange())
	for _, d := range declarations() {
		differs := false
		for i, e := range exs {
			a, b := &exchangeVars{e: e}, &exchangeVars{e: summarize(e)}
			var x, y string
			switch typeOf(d.kind) {
			case tInt:
				x, y = fmt.Sprint(a.num(d.kind)), fmt.Sprint(b.num(d.kind))
			case tDuration:
				x, y = a.dur(d.kind).String(), b.dur(d.kind).String()
			case tHeaders:
				x, y = fmt.Sprint(a.hdr(d.kind).materialize()), fmt.Sprint(b.hdr(d.kind).materialize())
			case tBool:
				x, y = fmt.Sprint(a.flag(d.kind)), fmt.Sprint(b.flag(d.kind))
			case tTime:
				x, y = a.when(d.kind).String(), b.when(d.kind).String()
			case tStrList:
				x, y = fmt.Sprint(a.strs(d.kind)), fmt.Sprint(b.strs(d.kind))
			case tIntList:
				x, y = fmt.Sprint(a.ints(d.kind)), fmt.Sprint(b.ints(d.kind))
			default:
				x, y = a.str(d.kind), b.str(d.kind)
			}
			if x != y {
				differs = true
				if varCost(d.kind) == costCheap {
					t.Errorf("%s is cheap but reads %q on exchange %d and %q on its summary", d.Name, x, i, y)
				}
			}
		}
		if varCost(d.kind) > costCheap && !differs {
			t.Errorf("%s is costly but reads the same on every summary", d.Name)
		}
	}
}

// TestCheapStagesRunFirst shows that a body is decoded only for
// exchanges the cheaper conjuncts let through, whatever order the filter
// was written in, on the native path and through CEL (size() and
// grpc_status in [...] are CEL only), including a cheap conjunct that
// fails with an error, which CEL's own && would get past, and a cheap
// operand of an || that settles it.
func TestCheapStagesRunFirst(t *testing.T) {
	ok, failed := apiExchange(t), apiExchange(t)
	ok.Response.Status = 200
	for _, c := range []struct {
		expr   string
		native bool
	}{
		{`resp_body.contains("error") && status >= 500`, true},
		{`resp_body.contains("error") && size(resp_body) > 3 && status >= 500`, false},
		{`(resp_body.contains("error") || status == 201) && method == "POST" && status >= 500`, true},
		{`resp_body.contains("error") && "x-missing" in resp_headers`, true},
		{`resp_body.contains("error") && resp_headers["x-missing"] == "1"`, false},
		{`resp_body.contains("error") && grpc_status in [0, 2]`, false},
		{`resp_body.contains("error") && grpc_status == 2`, true},
		// Inside an ||, the cheap operand that decides goes first too.
		{`method == "POST" && (resp_body.contains("error") || status == 200)`, true},
		{`method == "POST" && (size(resp_body) > 3 || status == 200)`, false},
	} {
		p := mustCompile(t, c.expr)
		if p.isNative() != c.native {
			t.Errorf("%q: native %v, want %v", c.expr, p.isNative(), c.native)
		}
		for _, cel := range []bool{false, true} {
			a := &exchangeVars{e: ok}
			if cel {
				p.eval(a)
			} else {
				p.run(a)
			}
			if a.haveResp {
				t.Errorf("%q (CEL %v): decoded the body of an exchange a cheaper conjunct rejects", c.expr, cel)
			}
		}
	}
	p := mustCompile(t, `resp_body.contains("error") && status >= 500`)
	a := &exchangeVars{e: failed}
	if !p.run(a) || !a.haveResp {
		t.Error("the body of a 503 was not read, or the filter did not match it")
	}
}
