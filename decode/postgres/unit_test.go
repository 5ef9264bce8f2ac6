package postgres

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// be32 appends v big-endian.
func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// typed builds a typed message.
func typed(t byte, body string) []byte {
	return append(be32([]byte{t}, uint32(len(body)+4)), body...)
}

func startup(params ...string) []byte {
	body := be32(nil, codeV3)
	for _, p := range params {
		body = append(append(body, p...), 0)
	}
	body = append(body, 0)
	return append(be32(nil, uint32(len(body)+4)), body...)
}

func TestDetect(t *testing.T) {
	kafkaMetadataV0 := append(be32(nil, 16), 0, 3, 0, 0, 0, 0, 0, 1, 0, 4, 'a', 'b', 'c', 'd', 0, 0)
	cases := []struct {
		name string
		in   []byte
		want decode.Verdict
	}{
		{"startup", startup("user", "app", "database", "db"), decode.Yes},
		{"startup without user", startup("database", "db"), decode.No},
		{"startup cut", startup("user", "app")[:12], decode.NeedMore},
		{"ssl", be32(be32(nil, 8), codeSSL), decode.Yes},
		{"gssenc", be32(be32(nil, 8), codeGSSENC), decode.Yes},
		{"cancel", be32(be32(be32(be32(nil, 16), codeCancel), 42), 7), decode.Yes},
		{"few bytes", []byte{0, 0}, decode.NeedMore},
		{"kafka metadata v0", kafkaMetadataV0, decode.No},
		{"query", typed('Q', "SELECT 1\x00"), decode.Yes},
		{"query cut", typed('Q', "SELECT 1\x00")[:7], decode.NeedMore},
		{"server mid-stream", append(typed('C', "SELECT 1\x00"), typed('Z', "I")...), decode.Yes},
		{"ready", typed('Z', "I"), decode.Yes},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), decode.No},
		{"http response", []byte("HTTP/1.1 200 OK\r\n"), decode.No},
		{"tls", []byte{0x16, 3, 1, 0, 0xc8, 1, 0, 0}, decode.No},
		{"h2 preface", []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), decode.No},
		{"redis", []byte("*1\r\n$4\r\nPING\r\n"), decode.No},
		{"dns over tcp", []byte{0, 29, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, decode.No},
		{"query with control bytes", typed('Q', "SEL\x01ECT\x00"), decode.No},
	}
	for _, c := range cases {
		if got := detect(c.in); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSplitStatements(t *testing.T) {
	cases := map[string][]string{
		"SELECT 1; SELECT 2":                      {"SELECT 1;", "SELECT 2"},
		"SELECT ';' AS a; SELECT \"x;y\" FROM t;": {"SELECT ';' AS a;", "SELECT \"x;y\" FROM t;"},
		"SELECT $$a;b$$; SELECT $t$;$t$":          {"SELECT $$a;b$$;", "SELECT $t$;$t$"},
		"SELECT 1 -- c;\n; /* ; */ SELECT $1":     {"SELECT 1 -- c;\n;", "/* ; */ SELECT $1"},
		"SELECT E'\\';'; SELECT 'a\\'; SELECT 3":  {"SELECT E'\\';';", "SELECT 'a\\';", "SELECT 3"},
		"  ;; BEGIN ; ":                           {"BEGIN ;"},
		"":                                        nil,
	}
	for in, want := range cases {
		if got := splitStatements(in); !slices.Equal(got, want) {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestVerbAndTag(t *testing.T) {
	for in, want := range map[string]string{"select 1": "SELECT", " /* x */ (SELECT 1)": "SELECT", "-- c\nInsert into t": "INSERT", "": "", "WITH a AS (SELECT 1) SELECT": "WITH"} {
		if got := verb(in); got != want {
			t.Errorf("verb(%q) = %q, want %q", in, got, want)
		}
	}
	for tag, want := range map[string]int64{"SELECT 3": 3, "INSERT 0 1": 1, "UPDATE 0": 0, "COPY 2": 2, "CREATE TABLE": -1, "BEGIN": -1, "SELECT x": -1} {
		if got := tagRows(tag); got != want {
			t.Errorf("tagRows(%q) = %d, want %d", tag, got, want)
		}
	}
}

// TestHandlerRowsCapped checks the body cap and the COPY-style
// rendering of NULL, escapes and binary values.
func TestHandlerRowsCapped(t *testing.T) {
	c := newFakeConn(t)
	c.Lim = decode.Limits{MaxBody: 64}
	h := New().New(c)
	h.Data(decode.ClientToServer, startup("user", "u", "database", "d"), t0)
	h.Data(decode.ServerToClient, append(typed('R', "\x00\x00\x00\x00"), typed('Z', "I")...), t0)
	h.Data(decode.ClientToServer, typed('Q', "SELECT a, b FROM t\x00"), t0)
	desc := "\x00\x02" + "a\x00" + strings.Repeat("\x00", 18) + "b\x00" + strings.Repeat("\x00", 16) + "\x00\x01"
	resp := typed('T', desc)
	row := func(a string, b []byte) []byte {
		body := []byte{0, 2}
		body = append(be32(body, uint32(len(a))), a...)
		if b == nil {
			body = be32(body, 0xffffffff)
		} else {
			body = append(be32(body, uint32(len(b))), b...)
		}
		return typed('D', string(body))
	}
	resp = append(resp, row("x\ty\\", []byte{1, 2})...)
	resp = append(resp, row("z", nil)...)
	for range 20 {
		resp = append(resp, row("filler", []byte{0})...)
	}
	resp = append(resp, typed('C', "SELECT 22\x00")...)
	resp = append(resp, typed('Z', "I")...)
	h.Data(decode.ServerToClient, resp, t0)
	h.End(decode.FlowClosed, t0)
	var sel *decode.Exchange
	for _, e := range c.Finals() {
		if e.Request.Method == "SELECT" {
			sel = e
		}
	}
	if sel == nil {
		t.Fatalf("no SELECT exchange in %d", len(c.Finals()))
	}
	body := string(sel.Response.Body)
	if !strings.HasPrefix(body, "a\tb\nx\\ty\\\\\t\\x0102\nz\t\\N\n") || len(body) > 64 || !sel.Response.Truncated || sel.Query.Rows != 22 {
		t.Errorf("body %q (truncated %v) rows %d", body, sel.Response.Truncated, sel.Query.Rows)
	}
	if sel.Query.User != "u" || sel.Query.Database != "d" {
		t.Errorf("user %q database %q", sel.Query.User, sel.Query.Database)
	}
}

// TestHandlerSSLAnswers: 'N' goes on in plaintext; 'S' hands the
// connection to TLS (here: none available, so decoding stops with a
// note); 'G' stops with a note.
func TestHandlerSSLAnswers(t *testing.T) {
	for _, answer := range []byte{'N', 'S', 'G'} {
		c := newFakeConn(t)
		h := New().New(c)
		h.Data(decode.ClientToServer, be32(be32(nil, 8), codeSSL), t0)
		h.Data(decode.ServerToClient, []byte{answer}, t0)
		h.Data(decode.ClientToServer, startup("user", "u"), t0)
		h.Data(decode.ServerToClient, append(typed('R', "\x00\x00\x00\x00"), typed('Z', "I")...), t0)
		h.End(decode.FlowClosed, t0)
		var methods []string
		for _, e := range c.Finals() {
			methods = append(methods, e.Request.Method)
		}
		switch answer {
		case 'N':
			if !slices.Equal(methods, []string{"SSLREQUEST", "STARTUP"}) || len(c.Notes) != 0 {
				t.Errorf("N: %v, notes %v", methods, c.Notes)
			}
		case 'S':
			if c.HandedOff != "tls" || !slices.Equal(methods, []string{"SSLREQUEST"}) || len(c.Notes) != 1 {
				t.Errorf("S: handoff %q, %v, notes %v", c.HandedOff, methods, c.Notes)
			}
		case 'G':
			if c.HandedOff != "" || !slices.Equal(methods, []string{"SSLREQUEST"}) || len(c.Notes) != 1 {
				t.Errorf("G: %v, notes %v", methods, c.Notes)
			}
		}
	}
}

// TestPasswordsOnlyInHeaders: a cleartext password appears only in the
// Password header.
func TestPasswordsOnlyInHeaders(t *testing.T) {
	c := newFakeConn(t)
	h := New().New(c)
	h.Data(decode.ClientToServer, startup("user", "u"), t0)
	h.Data(decode.ServerToClient, typed('R', "\x00\x00\x00\x03"), t0)
	h.Data(decode.ClientToServer, typed('p', "hunter2-secret\x00"), t0)
	h.Data(decode.ServerToClient, append(typed('R', "\x00\x00\x00\x00"), typed('Z', "I")...), t0)
	h.End(decode.FlowClosed, t0)
	e := c.Finals()[0]
	if e.Request.HeaderValue("Password") != "hunter2-secret" {
		t.Errorf("Password header %q", e.Request.HeaderValue("Password"))
	}
	if strings.Contains(string(e.Request.Body)+e.Request.Target, "hunter2") {
		t.Error("password in Body or Target")
	}
}

// TestServerSideFirstSwaps: on a connection joined mid-stream whose
// first bytes the transport took for the client's are the server's,
// the handler swaps directions and decodes both.
func TestServerSideFirstSwaps(t *testing.T) {
	c := newFakeConn(t)
	c.FlowInfo.Partial = true
	h := New().New(c)
	// The transport believes the server is the client.
	h.Data(decode.ClientToServer, append(typed('C', "SELECT 1\x00"), typed('Z', "I")...), t0)
	if c.Swaps != 1 {
		t.Fatalf("swapped %d times", c.Swaps)
	}
	h.Data(decode.ClientToServer, typed('Q', "SELECT 2\x00"), t0)
	h.Data(decode.ServerToClient, append(typed('C', "SELECT 1\x00"), typed('Z', "I")...), t0)
	h.End(decode.FlowClosed, t0)
	var got []string
	for _, e := range c.Finals() {
		if e.Request != nil {
			got = append(got, e.Request.Method+" "+e.Request.Target+" "+string(e.State))
		} else {
			got = append(got, "orphan "+string(e.State))
		}
	}
	// The first CommandComplete could be a client's Close as well, so
	// the resync starts at the ReadyForQuery after it.
	if !slices.Equal(got, []string{"SELECT SELECT 2 complete"}) {
		t.Errorf("%q", got)
	}
}

// TestHugeMessagesBounded streams a 64 MB DataRow and a 64 MB CopyData
// in 64 KB chunks: the handler keeps at most the body cap of each, and
// the exchange still completes with the right row count.
func TestHugeMessagesBounded(t *testing.T) {
	c := newFakeConn(t)
	c.Lim = decode.Limits{MaxBody: 4096}
	h := New().New(c)
	h.Data(decode.ClientToServer, startup("user", "u"), t0)
	h.Data(decode.ServerToClient, append(typed('R', "\x00\x00\x00\x00"), typed('Z', "I")...), t0)
	h.Data(decode.ClientToServer, typed('Q', "SELECT big\x00"), t0)
	const size = 64 << 20
	hdr := be32([]byte{'D'}, size+4+2+4)
	hdr = append(hdr, 0, 1)
	hdr = be32(hdr, size)
	h.Data(decode.ServerToClient, hdr, t0)
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 'a'
	}
	for sent := 0; sent < size; sent += len(chunk) {
		h.Data(decode.ServerToClient, chunk, t0)
	}
	if r := h.(*handler).rd[1]; cap(r.cur.body) > 2*4096+64 {
		t.Fatalf("reader holds %d bytes", cap(r.cur.body))
	}
	h.Data(decode.ServerToClient, append(typed('C', "SELECT 1\x00"), typed('Z', "I")...), t0)
	h.End(decode.FlowClosed, t0)
	last := c.Finals()[len(c.Finals())-1]
	if last.Request.Method != "SELECT" || last.Query.Rows != 1 || len(last.Response.Body) > 4096 || !last.Response.Truncated ||
		last.Response.BodySize < size {
		t.Errorf("%s rows %d body %d truncated %v size %d", last.Request.Method, last.Query.Rows, len(last.Response.Body), last.Response.Truncated, last.Response.BodySize)
	}
}
