package http1

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

func gz(t testing.TB, s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func one(t *testing.T, xs []*decode.Exchange) *decode.Exchange {
	t.Helper()
	if len(xs) != 1 {
		for _, x := range xs {
			t.Logf("exchange %d: %s %s -> %d (%s) %s", x.ID, x.Method(), x.Path(), x.Status(), x.State, x.Error)
		}
		t.Fatalf("%d exchanges, want 1", len(xs))
	}
	return xs[0]
}

func TestSimpleGet(t *testing.T) {
	c := newFakeConn(t)
	req := "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nX-Dup: a\r\nx-dup: b\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello"
	x := one(t, run(t, c, decode.FlowClosed, step{c2s, req, 0, 1}, step{s2c, resp[:40], 0, 2}, step{s2c, resp[40:], 0, 3}))
	if x.State != decode.Complete || x.Error != "" {
		t.Fatalf("state %s error %q", x.State, x.Error)
	}
	r, p := x.Request, x.Response
	if r.Method != "GET" || r.Target != "/index.html?q=1" || r.Host != "example.com" || r.Proto != "HTTP/1.1" {
		t.Fatalf("request line: %+v", r)
	}
	want := []decode.Header{{Name: "Host", Value: "example.com"}, {Name: "User-Agent", Value: "t"}, {Name: "X-Dup", Value: "a"}, {Name: "x-dup", Value: "b"}}
	if fmt.Sprint(r.Headers) != fmt.Sprint(want) {
		t.Fatalf("headers %v, want %v", r.Headers, want)
	}
	if p.Status != 200 || p.Reason != "OK" || string(p.Body) != "hello" || p.BodySize != 5 || p.DecodedSize != 5 || p.Truncated {
		t.Fatalf("response: %+v", p)
	}
	if p.ContentType() != "text/plain" {
		t.Fatalf("content type %q", p.ContentType())
	}
	if !r.First.Equal(at(1)) || !r.Last.Equal(at(1)) || !p.First.Equal(at(2)) || !p.Last.Equal(at(3)) {
		t.Fatalf("times: req %v..%v resp %v..%v", r.First, r.Last, p.First, p.Last)
	}
	if !x.Start.Equal(at(1)) || !x.End.Equal(at(3)) || x.Proto != "http/1.1" {
		t.Fatalf("exchange start %v end %v proto %s", x.Start, x.End, x.Proto)
	}
	if len(c.protos) != 1 || c.protos[0] != "http/1.1" {
		t.Fatalf("SetProto calls %v", c.protos)
	}
	// Published pending at the request, then (after response headers)
	// pending again, then final.
	if len(c.pubs) < 2 || c.pubs[0].shallow.State != decode.Pending || c.pubs[0].shallow.Response != nil {
		t.Fatalf("first publication should be the pending request, got %d pubs", len(c.pubs))
	}
}

// splitRun feeds each step's bytes in pieces of n bytes.
func splitRun(t *testing.T, n int, end decode.FlowState, steps ...step) []*decode.Exchange {
	t.Helper()
	var out []step
	for _, s := range steps {
		if s.data == "" {
			out = append(out, s)
			continue
		}
		for i := 0; i < len(s.data); i += n {
			out = append(out, step{s.dir, s.data[i:min(i+n, len(s.data))], 0, s.at})
		}
	}
	return run(t, newFakeConn(t), end, out...)
}

// summary renders exchanges for comparison across splittings.
func summary(xs []*decode.Exchange) string {
	var b strings.Builder
	for _, x := range xs {
		fmt.Fprintf(&b, "%s|%s %s %s|", x.State, x.Method(), x.Path(), x.Host())
		for _, m := range x.Interim {
			fmt.Fprintf(&b, "i%d|", m.Status)
		}
		for _, m := range []*decode.Message{x.Request, x.Response} {
			if m == nil {
				b.WriteString("nil|")
				continue
			}
			fmt.Fprintf(&b, "%d %q size=%d dec=%d tr=%v hdr=%v trl=%v|", m.Status, m.Body, m.BodySize, m.DecodedSize, m.Truncated, m.Headers, m.Trailers)
		}
		fmt.Fprintf(&b, "err=%s\n", x.Error)
	}
	return b.String()
}

func TestChunkedTrailersAnySplit(t *testing.T) {
	body := gz(t, strings.Repeat(`{"k":"v"},`, 50))
	chunked := fmt.Sprintf("%x;name=val\r\n%s\r\n%x\r\n%s\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n", 10, body[:10], len(body)-10, body[10:])
	req := "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
	steps := []step{{c2s, req, 0, 1}, {s2c, resp, 0, 2}}
	want := summary(splitRun(t, 1<<20, decode.FlowClosed, steps...))
	x := one(t, splitRun(t, 1<<20, decode.FlowClosed, steps...))
	if x.State != decode.Complete || string(x.Request.Body) != "hello" {
		t.Fatalf("request: %s %q", x.State, x.Request.Body)
	}
	p := x.Response
	if p.BodySize != int64(len(body)) || string(p.Body) != body || p.DecodedSize != 500 {
		t.Fatalf("response body size %d decoded %d (%s)", p.BodySize, p.DecodedSize, p.DecodeError)
	}
	if len(p.Trailers) != 2 || p.Trailers[0] != (decode.Header{Name: "X-Checksum", Value: "abc"}) {
		t.Fatalf("trailers %v", p.Trailers)
	}
	if len(p.ContentEncoding) != 1 || p.ContentEncoding[0] != "gzip" {
		t.Fatalf("content encoding %v", p.ContentEncoding)
	}
	for _, n := range []int{1, 2, 3, 7, 64} {
		if got := summary(splitRun(t, n, decode.FlowClosed, steps...)); got != want {
			t.Fatalf("split %d:\n%s\nwant\n%s", n, got, want)
		}
	}
}

func TestKeepAliveAndPipelining(t *testing.T) {
	var reqs, resps strings.Builder
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&reqs, "GET /r%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
		b := gz(t, fmt.Sprintf(`{"n":%d}`, i))
		fmt.Fprintf(&resps, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
	}
	// All requests in one segment, all responses in one: real pipelining.
	xs := run(t, newFakeConn(t), decode.FlowClosed, step{c2s, reqs.String(), 0, 1}, step{s2c, resps.String(), 0, 2})
	if len(xs) != 5 {
		t.Fatalf("%d exchanges, want 5", len(xs))
	}
	for i, x := range xs {
		if x.State != decode.Complete || x.Path() != fmt.Sprintf("/r%d", i) || x.Response.DecodedSize != int64(len(fmt.Sprintf(`{"n":%d}`, i))) {
			t.Fatalf("exchange %d: %s %s decoded %d", i, x.State, x.Path(), x.Response.DecodedSize)
		}
	}
	// The same bytes in one-byte pieces give the same result.
	if a, b := summary(xs), summary(splitRun(t, 1, decode.FlowClosed, step{c2s, reqs.String(), 0, 1}, step{s2c, resps.String(), 0, 2})); a != b {
		t.Fatalf("byte-wise split differs:\n%s\nvs\n%s", b, a)
	}
}

func TestResponseBeforeRequest(t *testing.T) {
	c := newFakeConn(t)
	xs := run(t, c, decode.FlowClosed,
		step{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 1},
		step{c2s, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n", 0, 1})
	x := one(t, xs)
	if x.State != decode.Complete || x.Path() != "/a" || x.Status() != 200 {
		t.Fatalf("%s %s %d", x.State, x.Path(), x.Status())
	}
	if c.final[x.ID] != 1 {
		t.Fatal("not final")
	}
}

func TestEarlierResponseIsOrphan(t *testing.T) {
	// Joined mid-connection: the first response answers a request sent
	// before the capture started (its bytes are earlier than any request).
	c := newFakeConn(t)
	c.flow.Partial = true
	xs := run(t, c, decode.FlowClosed,
		step{s2c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0, 1},
		step{c2s, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n", 0, 2},
		step{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 3})
	if len(xs) != 2 {
		t.Fatalf("%d exchanges", len(xs))
	}
	if xs[0].State != decode.Orphan || xs[0].Request != nil || xs[0].Status() != 404 {
		t.Fatalf("first: %s req=%v status %d", xs[0].State, xs[0].Request, xs[0].Status())
	}
	if xs[1].State != decode.Complete || xs[1].Path() != "/b" || xs[1].Status() != 200 {
		t.Fatalf("second: %s %s %d", xs[1].State, xs[1].Path(), xs[1].Status())
	}
}

func TestNoBodyResponses(t *testing.T) {
	reqs := "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\nGET /n HTTP/1.1\r\nHost: h\r\n\r\nGET /m HTTP/1.1\r\nHost: h\r\n\r\nGET /last HTTP/1.1\r\nHost: h\r\n\r\n"
	resps := "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Encoding: gzip\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\n\r\n" +
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nend"
	xs := run(t, newFakeConn(t), decode.FlowClosed, step{c2s, reqs, 0, 1}, step{s2c, resps, 0, 2})
	if len(xs) != 4 {
		t.Fatalf("%d exchanges", len(xs))
	}
	for i, st := range []int{200, 204, 304, 200} {
		if xs[i].Status() != st || xs[i].State != decode.Complete {
			t.Fatalf("exchange %d: %d %s", i, xs[i].Status(), xs[i].State)
		}
	}
	if xs[0].Response.BodySize != 0 || xs[0].Response.DecodedSize != 0 || string(xs[3].Response.Body) != "end" {
		t.Fatalf("bodies: HEAD %d, last %q", xs[0].Response.BodySize, xs[3].Response.Body)
	}
}

func TestReadUntilClose(t *testing.T) {
	steps := []step{
		{c2s, "GET / HTTP/1.0\r\n\r\n", 0, 1},
		{s2c, "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>", 0, 2},
		{s2c, "</html>", 0, 3},
	}
	c := newFakeConn(t)
	x := one(t, run(t, c, decode.FlowClosed, steps...))
	if x.State != decode.Complete || string(x.Response.Body) != "<html></html>" || x.Proto != "http/1.0" || !x.Response.Last.Equal(at(3)) {
		t.Fatalf("%s %q %s last %v", x.State, x.Response.Body, x.Proto, x.Response.Last)
	}
	if c.protos[0] != "http/1.0" {
		t.Fatalf("SetProto %v", c.protos)
	}
	x = one(t, run(t, newFakeConn(t), decode.FlowReset, steps...))
	if x.State != decode.Partial || !x.Response.Truncated {
		t.Fatalf("reset during close-delimited body: %s truncated=%v", x.State, x.Response.Truncated)
	}
}

func TestContinueInterim(t *testing.T) {
	c := newFakeConn(t)
	x := one(t, run(t, c, decode.FlowClosed,
		step{c2s, "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 0, 1},
		step{s2c, "HTTP/1.1 100 Continue\r\n\r\n", 0, 2},
		step{c2s, "data", 0, 3},
		step{s2c, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 0, 4}))
	if x.State != decode.Complete || len(x.Interim) != 1 || x.Interim[0].Status != 100 || x.Status() != 201 || string(x.Request.Body) != "data" {
		t.Fatalf("%s interim=%d status=%d body=%q", x.State, len(x.Interim), x.Status(), x.Request.Body)
	}
	if !x.Request.Last.Equal(at(3)) || !x.End.Equal(at(4)) {
		t.Fatalf("request last %v end %v", x.Request.Last, x.End)
	}
}

func TestNotHTTPResponse(t *testing.T) {
	c := newFakeConn(t)
	x := one(t, run(t, c, decode.FlowReset,
		step{c2s, "GET / HTTP/1.1\r\nHost: ssh-server:22\r\n\r\n", 0, 1},
		step{s2c, "SSH-2.0-OpenSSH_5.9p1 Debian-5ubuntu1\r\nProtocol mismatch.\r\n", 0, 2}))
	if x.State != decode.Orphan || x.Response != nil || !strings.Contains(x.Error, "not HTTP") || !strings.Contains(x.Error, "SSH-2.0") {
		t.Fatalf("%s resp=%v err=%q", x.State, x.Response, x.Error)
	}
	if len(c.notes) == 0 {
		t.Fatal("no note on the flow")
	}
}

func TestEndStates(t *testing.T) {
	req := step{c2s, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, 1}
	if x := one(t, run(t, newFakeConn(t), decode.FlowReset, req)); x.State != decode.Reset {
		t.Fatalf("reset without response: %s", x.State)
	}
	if x := one(t, run(t, newFakeConn(t), decode.FlowClosed, req)); x.State != decode.Orphan {
		t.Fatalf("closed without response: %s", x.State)
	}
	x := one(t, run(t, newFakeConn(t), decode.FlowClosed, req, step{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, 2}))
	if x.State != decode.Partial || !x.Response.Truncated || x.Response.BodySize != 3 {
		t.Fatalf("short body: %s truncated=%v size=%d", x.State, x.Response.Truncated, x.Response.BodySize)
	}
	// Headers cut by the end: still a (partial) request message.
	x = one(t, run(t, newFakeConn(t), decode.FlowClosed, step{c2s, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Le", 0, 1}))
	if x.Method() != "POST" || x.Request.Host != "h" || x.State != decode.Orphan {
		t.Fatalf("cut headers: %s %s host %q", x.State, x.Method(), x.Request.Host)
	}
}

func TestGapInsideBodySkipsExactly(t *testing.T) {
	c := newFakeConn(t)
	xs := run(t, c, decode.FlowClosed,
		step{c2s, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0, 1},
		step{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123", 0, 2},
		step{s2c, "", 4, 3},
		step{s2c, "89HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 4})
	if len(xs) != 2 {
		t.Fatalf("%s", summary(xs))
	}
	a, b := xs[0], xs[1]
	if a.State != decode.Partial || a.Response.BodySize != 10 || string(a.Response.Body) != "012389" || !a.Response.Truncated {
		t.Fatalf("gapped: %s size %d body %q", a.State, a.Response.BodySize, a.Response.Body)
	}
	if b.State != decode.Complete || string(b.Response.Body) != "ok" {
		t.Fatalf("after gap: %s %q", b.State, b.Response.Body)
	}
}

func TestGapResyncs(t *testing.T) {
	c := newFakeConn(t)
	xs := run(t, c, decode.FlowClosed,
		step{c2s, "GET /a HTTP/1.1\r\nHost: h\r\nAccept:", 0, 1},
		step{c2s, "", -1, 2},
		step{c2s, "ding: x\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n", 0, 3},
		step{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA", 0, 4},
		step{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB", 0, 5})
	if len(xs) != 2 {
		t.Fatalf("%s", summary(xs))
	}
	if xs[0].State != decode.Partial || xs[0].Path() != "/a" || string(xs[0].Response.Body) != "A" {
		t.Fatalf("first: %s", summary(xs[:1]))
	}
	if xs[1].State != decode.Complete || xs[1].Path() != "/b" || string(xs[1].Response.Body) != "B" {
		t.Fatalf("second: %s", summary(xs[1:]))
	}
}

func TestMidStreamJoinAndSwap(t *testing.T) {
	c := newFakeConn(t)
	c.flow.Partial = true
	// The transport guessed wrong: the "client" direction carries
	// responses. Both start mid-message.
	xs := run(t, c, decode.FlowClosed,
		step{s2c, "ody of an earlier request\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n", 0, 1},
		step{c2s, "tail of a body\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 0, 2})
	x := one(t, xs)
	if c.swaps != 1 || x.State != decode.Complete || x.Path() != "/next" || string(x.Response.Body) != "hi" {
		t.Fatalf("swaps %d: %s", c.swaps, summary(xs))
	}
	if x.Client.Port() != 80 {
		t.Fatalf("exchange client %v: created before the swap", x.Client)
	}
}

func TestHeaderLimit(t *testing.T) {
	c := newFakeConn(t)
	c.lim.MaxHeaderBytes = 200
	big := "GET /big HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 40)+"\r\n", 20) + "\r\n"
	xs := run(t, c, decode.FlowClosed,
		step{c2s, big, 0, 1},
		step{c2s, "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n", 0, 2},
		step{s2c, "HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 3})
	if len(xs) != 2 || !strings.Contains(xs[0].Error, "over 200 bytes") || xs[0].State != decode.Partial || xs[1].Path() != "/ok" || xs[1].Status() != 200 {
		t.Fatalf("%s", summary(xs))
	}
}

func TestObsFoldAndAbsoluteTarget(t *testing.T) {
	x := one(t, run(t, newFakeConn(t), decode.FlowClosed,
		step{c2s, "GET http://proxy.example:8080/p?q HTTP/1.1\r\nHost: other\r\nX-Long: first\r\n  second\r\n\r\n", 0, 1},
		step{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 2}))
	if x.Request.Host != "proxy.example:8080" || x.Path() != "http://proxy.example:8080/p?q" {
		t.Fatalf("host %q target %q", x.Request.Host, x.Path())
	}
	if v := x.Request.HeaderValue("x-long"); v != "first second" {
		t.Fatalf("folded value %q", v)
	}
}

func TestBodyCapAndDecodeErrors(t *testing.T) {
	c := newFakeConn(t)
	c.lim.MaxBody = 10
	big := gz(t, strings.Repeat("a", 1000)+fmt.Sprint(12345678))
	xs := run(t, c, decode.FlowClosed,
		step{c2s, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0, 1},
		step{s2c, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", len(big), big), 0, 2},
		step{s2c, "HTTP/1.1 200 OK\r\nContent-Encoding: br, snappy\r\nContent-Length: 3\r\n\r\nxyz", 0, 3})
	if len(xs) != 2 {
		t.Fatalf("%s", summary(xs))
	}
	p := xs[0].Response
	if len(p.Body) != 10 || p.BodySize != int64(len(big)) || !p.Truncated || p.DecodedSize != -1 || p.DecodeError == "" {
		t.Fatalf("capped: kept %d size %d truncated %v decoded %d %q", len(p.Body), p.BodySize, p.Truncated, p.DecodedSize, p.DecodeError)
	}
	if xs[0].State != decode.Complete {
		t.Fatalf("a capped body is still a complete exchange: %s", xs[0].State)
	}
	q := xs[1].Response
	if q.DecodedSize != -1 || !strings.Contains(q.DecodeError, "snappy") {
		t.Fatalf("unknown coding: %d %q", q.DecodedSize, q.DecodeError)
	}
}

func TestDetect(t *testing.T) {
	p := New()
	cases := []struct {
		in      string
		partial bool
		want    decode.Verdict
	}{
		{"GET / HTTP/1.1\r\n", false, decode.Yes},
		{"GET ", false, decode.Yes},
		{"GE", false, decode.NeedMore},
		{"PROPFIND /dav HTTP/1.1\r\n", false, decode.Yes},
		{"M-SEARCH * HTTP/1.1\r\n", false, decode.Yes},
		{"HTTP/1.1 200 OK\r\n", false, decode.Yes},
		{"HTTP/1.0 ", false, decode.Yes},
		{"HTT", false, decode.NeedMore},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", false, decode.No},
		{"PRI * HTTP/2.0", false, decode.No},
		{"FOO /x HTTP/1.1\r\n", false, decode.Yes},
		{"\x16\x03\x01\x02\x00\x01", false, decode.No},
		{"SSH-2.0-OpenSSH_8.9\r\n", false, decode.No},
		{"220 mail ESMTP ready\r\n", false, decode.No},
		{"HTTP/2.0 200 OK\r\n", false, decode.No},
		{"", false, decode.NeedMore},
		{"junk body bytes\r\nGET /x HTTP/1.1\r\n", true, decode.Yes},
		{"junk body bytes\r\nGET /x HTTP/1.1\r\n", false, decode.No},
		{"\x00\x01binary\nHTTP/1.1 304 Not Modified\r\n", true, decode.Yes},
	}
	for _, c := range cases {
		f := &decode.Flow{Partial: c.partial}
		if got := p.Detect(f, c2s, []byte(c.in)); got != c.want {
			t.Errorf("Detect(%q, partial=%v) = %v, want %v", c.in, c.partial, got, c.want)
		}
	}
	if p.Name() != "http/1" {
		t.Fatal(p.Name())
	}
}

func TestEarlyResponseOrphanedBeforeEnd(t *testing.T) {
	// One-sided view: the client direction only shows the tail of a body,
	// so a response captured earlier can never be paired; it should not
	// wait for End to be shown.
	c := newFakeConn(t)
	c.flow.Partial = true
	h := New().New(c)
	h.Data(s2c, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), at(1))
	h.Data(c2s, []byte("tail of an upload"), at(2))
	if len(c.order) != 1 || c.final[c.order[0]] != 1 || c.latest[c.order[0]].State != decode.Orphan {
		t.Fatalf("early response not orphaned after later client bytes: %v", c.exchanges())
	}
	h.End(decode.FlowClosed, at(3))
	c.check()
}

func TestPendingPublicationsKeepTheirBytes(t *testing.T) {
	c := newFakeConn(t)
	run(t, c, decode.FlowClosed,
		step{c2s, "POST /p HTTP/1.1\r\nContent-Length: 4\r\n\r\nab", 0, 1},
		step{c2s, "cd", 0, 2},
		step{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nwx", 0, 3},
		step{s2c, "yz", 0, 4})
	if len(c.pubs) < 3 {
		t.Fatalf("%d publications; want pending request, pending response, final", len(c.pubs))
	}
	if first := c.pubs[0].shallow; first.State != decode.Pending || first.Request == nil || first.Request.Method != "POST" {
		t.Fatalf("first publication: %+v", first)
	}
	// The pending publication's request must still show the 2 body bytes
	// it had, although the parser went on appending (checked by check()).
	if got := string(c.pubs[0].shallow.Request.Body); got != "ab" {
		t.Fatalf("pending request body %q", got)
	}
}

func TestGzipTrailerSizesOption(t *testing.T) {
	js := strings.Repeat(`{"a":1},`, 100)
	b := gz(t, js)
	steps := []step{
		{c2s, "GET / HTTP/1.1\r\n\r\n", 0, 1},
		{s2c, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", len(b), b), 0, 2},
	}
	for _, p := range []*Parser{New(), NewWithOptions(Options{GzipTrailerSizes: true})} {
		c := newFakeConn(t)
		h := p.New(c)
		for _, s := range steps {
			h.Data(s.dir, []byte(s.data), at(s.at))
		}
		h.End(decode.FlowClosed, at(3))
		x := one(t, c.exchanges())
		if x.Response.DecodedSize != int64(len(js)) {
			t.Fatalf("options %+v: decoded %d, want %d (%s)", p.opts, x.Response.DecodedSize, len(js), x.Response.DecodeError)
		}
	}
}

func TestEarlyHeadResponse(t *testing.T) {
	// The HEAD request's start line is buffered (its headers are not
	// complete) when its response arrives: the response has no body even
	// though it carries Content-Length.
	xs := run(t, newFakeConn(t), decode.FlowClosed,
		step{c2s, "HEAD /h HTTP/1.1\r\nHost:", 0, 1},
		step{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 1},
		step{c2s, " h\r\n\r\nGET /g HTTP/1.1\r\nHost: h\r\n\r\n", 0, 1})
	if len(xs) != 2 || xs[0].Method() != "HEAD" || xs[0].Response.BodySize != 0 || string(xs[1].Response.Body) != "ok" || xs[1].State != decode.Complete {
		t.Fatalf("%s", summary(xs))
	}
}

func TestTransferEncodingWinsOverLength(t *testing.T) {
	x := one(t, run(t, newFakeConn(t), decode.FlowClosed,
		step{c2s, "POST /s HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 0, 1},
		step{s2c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 2}))
	if string(x.Request.Body) != "hello" || !strings.Contains(x.Error, "both Transfer-Encoding and Content-Length") || x.State != decode.Complete {
		t.Fatalf("%q %q %s", x.Request.Body, x.Error, x.State)
	}
}
