package streammask

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

const (
	pgPass = "Pg5wQz8LmN2vXc7R"
	pgSQL  = "Lt4Hs9KdWq3Zp6Yb"
	pgSalt = "r=nonce,s=Sa1tSa1tSa1t,i=4096"
)

// pgMsg builds a typed PostgreSQL message (typ 0: untyped).
func pgMsg(typ byte, body string) string {
	var b []byte
	if typ != 0 {
		b = append(b, typ)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)+4))
	return string(b) + body
}

func be(v uint32) string { return string(binary.BigEndian.AppendUint32(nil, v)) }

// TestPostgresSecretsAtAnySegmentSize overwrites PasswordMessage, SASL
// and SCRAM payloads and SQL password literals however the stream is
// cut, keeping the framing and the rest.
func TestPostgresSecretsAtAnySegmentSize(t *testing.T) {
	client := pgMsg(0, be(80877103)) +
		pgMsg(0, be(196608)+"user\x00app\x00database\x00db\x00\x00") +
		pgMsg('p', "SCRAM-SHA-256\x00"+be(uint32(len(pgPass)))+pgPass) +
		pgMsg('p', "c=biws,r=nonce,p="+pgPass) +
		pgMsg('Q', "ALTER ROLE app PASSWORD '"+pgSQL+"'\x00") +
		pgMsg('Q', "SELECT 1\x00")
	server := "N" + pgMsg('R', be(10)+"SCRAM-SHA-256\x00\x00") + pgMsg('R', be(11)+pgSalt) +
		pgMsg('R', be(12)+"v="+pgPass) + pgMsg('R', be(0)) + pgMsg('Z', "I") +
		pgMsg('C', "ALTER ROLE\x00") + pgMsg('Z', "I") + pgMsg('C', "SELECT 1\x00") + pgMsg('Z', "I")
	for _, mss := range []int{1, 2, 3, 7, 13, 100, 1460} {
		h := newHarness(t)
		h.open()
		h.send(0, []byte(client), mss)
		h.send(1, []byte(server), mss)
		h.close()
		st, _ := h.masked()
		what := fmt.Sprintf("mss %d", mss)
		mustHide(t, what, st[0], pgPass, pgSQL)
		mustHide(t, what, st[1], pgPass, "Sa1tSa1t")
		mustKeep(t, what, st[0], "user\x00app\x00database\x00db", "ALTER ROLE app PASSWORD '", "SELECT 1\x00", "p\x00\x00\x00")
		mustKeep(t, what, st[1], "SCRAM-SHA-256\x00\x00", "ALTER ROLE\x00", "Z\x00\x00\x00\x05I")
		if len(st[0]) != len(client) || len(st[1]) != len(server) {
			t.Fatalf("%s: lengths changed", what)
		}
		if n := strings.Count(string(st[0]), "*"); n < 2*len(pgPass)+len(pgSQL) {
			t.Fatalf("%s: %d bytes overwritten", what, n)
		}
	}
}

// TestPostgresTLSLeftAlone: after an SSLRequest answered 'S', the TLS
// records are not touched.
func TestPostgresTLSLeftAlone(t *testing.T) {
	hello := "\x16\x03\x01\x00\x30" + strings.Repeat("password 'x' ", 4)
	client := pgMsg(0, be(80877103)) + hello
	server := "S\x16\x03\x03\x00\x10" + strings.Repeat("A", 16)
	h := newHarness(t)
	h.open()
	h.send(0, []byte(client), 5)
	h.send(1, []byte(server), 5)
	h.close()
	st, _ := h.masked()
	if string(st[0]) != client || string(st[1]) != server {
		t.Errorf("TLS bytes changed:\n%q\n%q", st[0], st[1])
	}
}
