package redis

import (
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// TestHostileBounds feeds replies built to grow memory: huge arrays,
// deep nesting, a huge bulk string, an endless line. What is kept stays
// within the caps, the exchanges end, and the problems are noted.
func TestHostileBounds(t *testing.T) {
	const limit = 4096
	c := newFakeConn(t)
	c.Lim = decode.Limits{MaxBody: limit}
	h := New().New(c)
	cmd := func(s string) { h.Data(decode.ClientToServer, []byte(s), t0) }
	reply := func(s string) { h.Data(decode.ServerToClient, []byte(s), t0) }

	cmd("*2\r\n$6\r\nLRANGE\r\n$1\r\nk\r\n")
	reply("*20000\r\n")
	for i := 0; i < 20000; i++ {
		reply("$3\r\nabc\r\n")
	}
	cmd("*2\r\n$3\r\nGET\r\n$1\r\nb\r\n")
	reply("$10000000\r\n")
	chunk := strings.Repeat("y", 1<<16)
	for n := 0; n < 10000000; n += len(chunk) {
		reply(chunk[:min(len(chunk), 10000000-n)])
	}
	reply("\r\n")
	h.End(decode.FlowClosed, t0)

	es := c.Exchanges()
	if len(es) != 2 {
		t.Fatalf("%d exchanges, want 2", len(es))
	}
	lr := es[0]
	if lr.State != decode.Complete || lr.Query.Rows != 20000 || len(lr.Response.Body) > limit || !lr.Response.Truncated {
		t.Errorf("LRANGE: %s rows %d body %d truncated %v", lr.State, lr.Query.Rows, len(lr.Response.Body), lr.Response.Truncated)
	}
	get := es[1]
	if get.State != decode.Complete || get.Response.BodySize != int64(10000000+len("$10000000\r\n")+2) || len(get.Response.Body) > limit {
		t.Errorf("GET: %s size %d body %d", get.State, get.Response.BodySize, len(get.Response.Body))
	}

	// Replies that break the framing: the command waiting ends Partial,
	// with a note saying why.
	for name, bad := range map[string]string{
		"nested deeper": strings.Repeat("*1\r\n", maxDepth+5),
		"a line longer": "+" + strings.Repeat("z", maxLine+10),
		"streamed":      "?what\r\n",
		"unknown type":  "@what\r\n",
	} {
		c := newFakeConn(t)
		h := New().New(c)
		h.Data(decode.ClientToServer, []byte("*1\r\n$4\r\nPING\r\n"), t0)
		h.Data(decode.ServerToClient, []byte(bad), t0)
		h.End(decode.FlowClosed, t0)
		es := c.Exchanges()
		if len(es) != 1 || es[0].State != decode.Partial || len(c.Notes) != 1 || !strings.Contains(c.Notes[0], name) {
			t.Errorf("%s: %d exchanges, notes %q", name, len(es), c.Notes)
		}
	}
}

// TestGapInReplies publishes the waiting commands Partial and decodes
// the commands after the gap once the replies resume.
func TestGapInReplies(t *testing.T) {
	c := newFakeConn(t)
	h := New().New(c)
	h.Data(decode.ClientToServer, []byte("*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n"), t0)
	h.Data(decode.ServerToClient, []byte("$3\r\nfo"), t0)
	h.Gap(decode.ServerToClient, 10, t0)
	h.Data(decode.ServerToClient, []byte("o\r\n$-1\r\n"), t0.Add(1))
	later := t0.Add(2)
	h.Data(decode.ClientToServer, []byte("*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"), later)
	h.Data(decode.ServerToClient, []byte(":7\r\n"), later)
	h.End(decode.FlowClosed, later)
	var got []string
	for _, e := range c.Exchanges() {
		got = append(got, e.Method()+" "+e.Path()+" "+string(e.State))
	}
	// The rest of GET b's reply ("$-1" after the gap) looks like a whole
	// reply: it is published as an orphan, not matched to anything.
	want := "GET a partial,GET b partial,  orphan,INCR n complete"
	if strings.Join(got, ",") != want {
		t.Errorf("exchanges %q, want %q", strings.Join(got, ","), want)
	}
}

// TestMessagesAfterLateJoin takes RESP2 pub/sub messages on a
// connection joined after its SUBSCRIBE for pushes, not orphans.
func TestMessagesAfterLateJoin(t *testing.T) {
	c := newFakeConn(t)
	c.FlowInfo.Partial = true
	h := New().New(c)
	h.Data(decode.ServerToClient, []byte("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"), t0)
	h.Data(decode.ServerToClient, []byte("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$3\r\nbye\r\n"), t0)
	h.End(decode.FlowClosed, t0)
	es := c.Exchanges()
	if len(es) != 2 {
		t.Fatalf("%d exchanges, want 2", len(es))
	}
	for _, e := range es {
		if e.Method() != "MESSAGE" || e.Path() != "news" || e.State != decode.Complete || e.Request.HeaderValue("Pushed") != "true" {
			t.Errorf("%s %s %s", e.Method(), e.Path(), e.State)
		}
	}
}
