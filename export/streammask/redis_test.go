package streammask

import (
	"fmt"
	"strings"
	"testing"
)

const (
	rPass  = "Rp7vLq2XwZ9kTn4M"
	rPass2 = "Hx3Nw8QzPk5VbR2L"
	rPass3 = "Cf6Tj9WmYs1DgK8E"
)

// resp encodes a command as redis-cli sends it.
func resp(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// TestRedisPasswordsAtAnySegmentSize plants passwords in every command
// that carries one, pipelined with ordinary commands, and checks they
// are overwritten however the stream is cut, while keys, values and
// the framing stay.
func TestRedisPasswordsAtAnySegmentSize(t *testing.T) {
	cmds := resp("AUTH", rPass) + resp("SET", "user:1", "alice") +
		resp("HELLO", "3", "AUTH", "alice", rPass2, "SETNAME", "app") +
		resp("AUTH", "bob", rPass3) + resp("CONFIG", "SET", "requirepass", rPass) +
		resp("ACL", "SETUSER", "carol", "on", ">"+rPass2, "~*") +
		resp("GET", "user:1") + "AUTH " + rPass3 + "\r\n" + "PING\r\n"
	replies := "+OK\r\n+OK\r\n%1\r\n$5\r\nproto\r\n:3\r\n+OK\r\n+OK\r\n+OK\r\n$5\r\nalice\r\n+OK\r\n+PONG\r\n"
	for _, mss := range []int{1, 2, 3, 7, 13, 100, 1460} {
		h := newHarness(t)
		h.open()
		h.send(0, []byte(cmds), mss)
		h.send(1, []byte(replies), mss)
		h.close()
		st, _ := h.masked()
		what := fmt.Sprintf("mss %d", mss)
		mustHide(t, what, st[0], rPass, rPass2, rPass3)
		mustKeep(t, what, st[0], "*2\r\n$4\r\nAUTH\r\n$16\r\n", "$6\r\nuser:1\r\n$5\r\nalice\r\n",
			"$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$16\r\n", "$7\r\nSETNAME\r\n$3\r\napp\r\n",
			"$11\r\nrequirepass\r\n", "$5\r\ncarol\r\n", "$2\r\n~*\r\n", "AUTH ", "PING\r\n")
		if len(st[0]) != len(cmds) || string(st[1]) != replies {
			t.Fatalf("%s: the streams changed beyond the passwords", what)
		}
	}
}

// TestRedisInlineQuotedAuth overwrites the whole argument part of an
// inline AUTH with quotes, since quoting moves word boundaries.
func TestRedisInlineQuotedAuth(t *testing.T) {
	in := "AUTH \"" + rPass + " x\"\r\nGET k\r\n"
	h := newHarness(t)
	h.open()
	h.send(0, []byte(in), 5)
	h.send(1, []byte("+OK\r\n$-1\r\n"), 5)
	h.close()
	st, _ := h.masked()
	mustHide(t, "inline", st[0], rPass)
	mustKeep(t, "inline", st[0], "AUTH ", "\r\nGET k\r\n")
}

// TestRedisStart checks the detection hook against HTTP.
func TestRedisStart(t *testing.T) {
	for in, want := range map[string]int{
		"*2\r\n$4\r\nAUTH": 1, "*2\r": 0, "*": 0, "*2\r\n:1": -1, "AUTH x": 1, "auth": 0, "HELLO 3": 1,
		"GET / HTTP/1.1": -1, "POST /": -1, "PRI * HTTP/2.0": -1, "HTTP/1.1 200": -1,
		"PING\r\n": 1, "ping\r\nAUTH": 1, "GET k\r\n": 1, "GET /x": 0, "PI": 0, "GET /x HTTP/1.1\r\n": -1,
		"COPY /a HTTP/1.1\r\n": -1, "NOSUCH k\r\n": -1, "\x00\x00\x00\x10\x00\x12": -1,
	} {
		if got := redisStart([]byte(in), true); got != want {
			t.Errorf("%q: %d, want %d", in, got, want)
		}
	}
	// A peer that spoke first (a POP3 or FTP greeting) rules inline
	// commands out, except AUTH and HELLO, which are overwritten anyway.
	for in, want := range map[string]int{"QUIT\r\n": -1, "TYPE I\r\n": -1, "AUTH x": 1, "*1\r\n$4": 1} {
		if got := redisStart([]byte(in), false); got != want {
			t.Errorf("peer first: %q: %d, want %d", in, got, want)
		}
	}
}

// TestRedisInlineAfterInline frames inline commands one after another
// from the first byte of a connection, in any mix with RESP arrays and
// at any segment size: an AUTH after other commands is overwritten
// (detection used to take only a connection starting with AUTH or
// HELLO as Redis, so this one was left to the raw scan, which does not
// know AUTH's arguments).
func TestRedisInlineAfterInline(t *testing.T) {
	for _, in := range []string{
		"PING\r\nAUTH alice " + rPass + "\r\n",
		"PING\r\nGET k\r\n" + resp("AUTH", rPass2) + "ECHO x\r\nAUTH " + rPass3 + "\r\nPING\r\n",
		"select 2\r\n" + resp("SET", "k", "v") + "auth alice " + rPass + "\r\n" + resp("AUTH", "bob", rPass2),
	} {
		for _, mss := range []int{1, 2, 5, 9, 1460} {
			h := newHarness(t)
			h.open()
			h.send(0, []byte(in), mss)
			h.send(1, []byte("+PONG\r\n+OK\r\n+OK\r\n"), mss)
			h.close()
			st, _ := h.masked()
			what := fmt.Sprintf("%q mss %d", in[:8], mss)
			mustHide(t, what, st[0], rPass, rPass2, rPass3)
			if len(st[0]) != len(in) {
				t.Fatalf("%s: stream length %d, want %d", what, len(st[0]), len(in))
			}
			want := strings.NewReplacer(rPass, strings.Repeat("*", 16), rPass2, strings.Repeat("*", 16), rPass3, strings.Repeat("*", 16)).Replace(in)
			if string(st[0]) != want {
				t.Errorf("%s: got %q, want %q", what, st[0], want)
			}
		}
	}
}
