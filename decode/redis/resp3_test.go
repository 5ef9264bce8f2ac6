package redis

import (
	"sort"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// serverReplies parses every reply of the recording's RESP3 connections
// (the server's own bytes), fed in chunks of n bytes.
func serverReplies(t *testing.T, n int) []*value {
	t.Helper()
	var out []*value
	all := streams(t)
	ports := make([]int, 0, len(all))
	for p := range all {
		ports = append(ports, int(p))
	}
	sort.Ints(ports)
	for _, p := range ports {
		b := all[uint16(p)]
		if !strings.Contains(string(b[0]), "HELLO") {
			continue
		}
		r := newReader(false, 1<<20)
		s := b[1]
		for len(s) > 0 {
			k, v, _, err := r.next(s[:min(n, len(s))])
			if err != nil {
				t.Fatalf("server bytes: %v", err)
			}
			s = s[k:]
			if v != nil {
				out = append(out, v)
			}
		}
		if r.started() {
			t.Errorf("a reply left unfinished")
		}
	}
	return out
}

// TestRESP3TypesFromServer checks each RESP3 type on the bytes
// redis-server 7 sent (DEBUG PROTOCOL and real commands), parsed whole
// and one byte at a time, and its rendering.
func TestRESP3TypesFromServer(t *testing.T) {
	whole := serverReplies(t, 1<<20)
	bytewise := serverReplies(t, 1)
	if len(whole) != len(bytewise) || len(whole) < 20 {
		t.Fatalf("%d replies whole, %d byte by byte", len(whole), len(bytewise))
	}
	render := func(v *value) string {
		b, _ := renderReply(v, 1<<20)
		return string(b)
	}
	for i := range whole {
		if render(whole[i]) != render(bytewise[i]) {
			t.Errorf("reply %d: %q whole, %q byte by byte", i, render(whole[i]), render(bytewise[i]))
		}
	}
	cases := []struct {
		name, typ, want string
		rows            int64
	}{
		{"map", "map", "1# (integer) 0 => (false)\n2# (integer) 1 => (true)\n3# (integer) 2 => (false)", 3},
		{"hello map", "map", "1# \"server\" => \"redis\"", 7},
		{"set", "set", "1~ (integer) 0\n2~ (integer) 1\n3~ (integer) 2", 3},
		{"double", "double", "(double) 3.141", -1},
		{"zscore double", "double", "(double) 1.5", -1},
		{"true", "boolean", "(true)", -1},
		{"false", "boolean", "(false)", -1},
		{"null", "null", "(nil)", 0},
		{"verbatim", "verbatim-string", `(verbatim txt) "This is a verbatim\nstring"`, 1},
		{"big number", "big-number", "(big number) 1234567999999999999999999999999999999", -1},
		{"attribute", "bulk-string", "(attribute) 1# \"key-popularity\" => 1) \"key:123\"\n" +
			"       2) (integer) 90\n\"Some real reply following the attribute\"", 1},
		{"push", "push", "1> \"server-cpu-usage\"\n2> (integer) 42", 2},
		{"error", "error", "(error) WRONGTYPE Operation against a key holding the wrong kind of value", -1},
		{"simple string", "simple-string", "PONG", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, v := range whole {
				if typeName(v) == c.typ && strings.HasPrefix(render(v), c.want) {
					if rows(v) != c.rows {
						t.Errorf("rows %d, want %d", rows(v), c.rows)
					}
					return
				}
			}
			var seen []string
			for _, v := range whole {
				if typeName(v) == c.typ {
					seen = append(seen, render(v))
				}
			}
			t.Errorf("no %s reply rendered %q; %s replies: %q", c.typ, c.want, c.typ, seen)
		})
	}
}

// TestDetect checks detection on real first bytes and on the protocols
// it must leave alone.
func TestDetect(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"command", "*2\r\n$4\r\nAUTH\r\n$26\r\nPlanted", "yes"},
		{"command cut", "*2\r\n$4\r\nAU", "yes"},
		{"command count only", "*2\r\n", "more"},
		{"inline", "PING\r\n", "yes"},
		{"inline lower", "set k v\r\n", "yes"},
		{"inline cut", "SET k", "more"},
		{"status", "+OK\r\n", "yes"},
		{"error", "-WRONGTYPE Operation against a key\r\n", "yes"},
		{"integer", ":12\r\n", "yes"},
		{"bulk", "$5\r\nalice\r\n", "yes"},
		{"null bulk", "$-1\r\n", "yes"},
		{"map", "%7\r\n$6\r\nserver\r\n", "yes"},
		{"http get", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "no"},
		{"http cut", "GET /index.html HTTP/1.1", "more"},
		{"http response", "HTTP/1.1 200 OK\r\n", "no"},
		{"tls", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "no"},
		{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "no"},
		{"pop3", "+OK POP3 server ready\r\n", "no"},
		{"smtp", "220 mail.example ESMTP\r\n", "no"},
		{"dns tcp", "\x00\x1d\x12\x34\x01\x00\x00\x01", "no"},
		{"ssh", "SSH-2.0-OpenSSH_9.2\r\n", "no"},
		{"binary", "\x00\x00\x00\x08\x04\xd2\x16\x2f", "no"},
	}
	names := map[int]string{0: "no", 1: "yes", 2: "more"}
	for _, c := range cases {
		if got := names[int(detect([]byte(c.in)))]; got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestDetectInlineAfterGreeting refuses an inline command word when the
// peer spoke first (a POP3 client's AUTH after the server's +OK).
func TestDetectInlineAfterGreeting(t *testing.T) {
	p := New()
	f := &decode.Flow{Transport: "tcp", BytesS2C: 24}
	if v := p.Detect(f, decode.ClientToServer, []byte("AUTH PLAIN\r\n")); v != decode.No {
		t.Errorf("POP3 AUTH after a greeting: %v", v)
	}
	if v := p.Detect(&decode.Flow{Transport: "tcp"}, decode.ClientToServer, []byte("AUTH secret\r\n")); v != decode.Yes {
		t.Errorf("inline AUTH first: %v", v)
	}
	if v := p.Detect(f, decode.ClientToServer, []byte("*1\r\n$4\r\nPING\r\n")); v != decode.Yes {
		t.Errorf("RESP command after server bytes: %v", v)
	}
}
