package mysql

import (
	"testing"

	"github.com/tapview/tapview/decode"
)

// TestDetect: greetings and plausible commands are MySQL; HTTP, TLS, the
// HTTP/2 preface, DNS over TCP, Redis and PostgreSQL startup are not.
func TestDetect(t *testing.T) {
	greeting := pkt(0, append([]byte{10}, "10.11.19-MariaDB\x00\x04\x00\x00\x00abcdefgh\x00\xfe\xf7\x2d\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00"...))
	for _, c := range []struct {
		name string
		b    []byte
		want decode.Verdict
	}{
		{"greeting", greeting, decode.Yes},
		{"greeting start", greeting[:8], decode.NeedMore},
		{"query", pkt(0, append([]byte{comQuery}, "select * from t"...)), decode.Yes},
		{"query with comment", pkt(0, append([]byte{comQuery}, "/* app */ SELECT 1"...)), decode.Yes},
		{"query cut short", pkt(0, append([]byte{comQuery}, "SELECT id, name FROM pets WHERE name = 'x'"...))[:30], decode.Yes},
		{"ping", pkt(0, []byte{comPing}), decode.Yes},
		{"use", pkt(0, append([]byte{comInitDB}, "shop"...)), decode.Yes},
		{"refusal", pkt(0, append([]byte{0xff, 0x10, 0x04}, "Too many connections"...)), decode.Yes},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), decode.No},
		{"tls", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, decode.No},
		{"tls short record", []byte{0x16, 0x03, 0x01, 0x00, 0x03, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, decode.No},
		{"h2", []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), decode.No},
		{"dns", []byte{0, 29, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w'}, decode.No},
		{"dns id 0", []byte{0, 29, 0x12, 0x00, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w'}, decode.No},
		{"redis", []byte("*1\r\n$4\r\nPING\r\n"), decode.No},
		{"postgres startup", []byte{0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f}, decode.No},
		{"query not sql", pkt(0, append([]byte{comQuery}, "hello world, friends"...)), decode.No},
		{"binary after query byte", pkt(0, []byte{comQuery, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x55, 0x66, 0x77, 0x88, 0x99, 0x10}), decode.No},
	} {
		if got := New().Detect(nil, decode.ClientToServer, c.b); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestVerb names statements by their first keyword.
func TestVerb(t *testing.T) {
	for in, want := range map[string]string{
		"select 1":                         "SELECT",
		"  (SELECT 1) UNION (SELECT 2)":    "SELECT",
		"/* x */ insert into t values (1)": "INSERT",
		"-- c\nUPDATE t SET a=1":           "UPDATE",
		"# c\ndelete from t":               "DELETE",
		"/*!40101 SET NAMES utf8 */":       "SET",
		"/* unterminated":                  "",
		"123":                              "",
	} {
		if got := verb(in); got != want {
			t.Errorf("verb(%q) = %q, want %q", in, got, want)
		}
	}
}
