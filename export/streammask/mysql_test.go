package streammask

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"strings"
	"testing"
)

// myPkt frames a MySQL payload.
func myPkt(seq byte, payload string) string {
	n := len(payload)
	return string([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}) + payload
}

const (
	myAuth   = "AuthResp0123456789ab" // the 20-byte scramble of mysql_native_password
	mySwitch = "SwitchRespEd25519SignatureBytes"
	mySQL    = "plantedLiteral99"
)

// myGreeting is a MariaDB greeting: protocol 10, version, connection id,
// scramble, capabilities, plugin name.
func myGreeting() string {
	return myPkt(0, "\x0a10.11.19-MariaDB\x00\x04\x00\x00\x00scrmbl01\x00\xfe\xf7\x2d\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00scrmbl0123456\x00mysql_native_password\x00")
}

// myLogin is a HandshakeResponse41 with PLUGIN_AUTH_LENENC_CLIENT_DATA,
// CONNECT_WITH_DB and PLUGIN_AUTH.
func myLogin() string {
	caps := "\x8c\xa2\x3f\x00" // PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, LENENC data, CONNECT_WITH_DB
	return myPkt(1, caps+"\x00\x00\x00\x01"+"\x2d"+strings.Repeat("\x00", 23)+"app\x00"+"\x14"+myAuth+"shop\x00mysql_native_password\x00")
}

// TestMySQLLoginAtAnySegmentSize: the auth-response and the auth-switch
// response are overwritten however the segments cut them, the SQL
// literal by the raw scan, and the rest (user, schema, queries) kept.
func TestMySQLLoginAtAnySegmentSize(t *testing.T) {
	client := myLogin() + myPkt(3, mySwitch) +
		myPkt(0, "\x03CREATE USER x IDENTIFIED BY '"+mySQL+"'") + myPkt(0, "\x03SELECT 1")
	server := myGreeting() + myPkt(2, "\xfeclient_ed25519\x00nonce0123456789") + myPkt(4, "\x00\x00\x00\x02\x00\x00\x00") +
		myPkt(1, "\x00\x00\x00\x02\x00\x00\x00") + myPkt(1, "\x00\x00\x00\x02\x00\x00\x00")
	for _, serverFirst := range []bool{true, false} {
		for _, mss := range []int{1, 2, 3, 7, 13, 100, 1460} {
			h := newHarness(t)
			h.open()
			if serverFirst {
				h.send(1, []byte(server), mss)
			}
			h.send(0, []byte(client), mss)
			if !serverFirst {
				h.send(1, []byte(server), mss)
			}
			h.close()
			st, _ := h.masked()
			what := fmt.Sprintf("mss %d, server first %v", mss, serverFirst)
			mustHide(t, what, st[0], myAuth, mySwitch, mySQL)
			mustKeep(t, what, st[0], "app\x00\x14", "shop\x00mysql_native_password\x00", "CREATE USER x IDENTIFIED BY '", "\x03SELECT 1")
			mustKeep(t, what, st[1], "10.11.19-MariaDB", "client_ed25519")
			if len(st[0]) != len(client) || len(st[1]) != len(server) {
				t.Fatalf("%s: lengths changed", what)
			}
			if n := strings.Count(string(st[0]), "*"); n < len(myAuth)+len(mySwitch)+len(mySQL) {
				t.Fatalf("%s: %d bytes overwritten", what, n)
			}
		}
	}
}

// TestMySQLSSLRequestLeavesTLS: after an SSL request the client's bytes
// are TLS records, which are not touched even where they happen to look
// like a login packet.
func TestMySQLSSLRequestLeavesTLS(t *testing.T) {
	ssl := myPkt(1, "\x8c\xaa\x3f\x00\x00\x00\x00\x01\x2d"+strings.Repeat("\x00", 23))
	tlsLike := "\x16\x03\x01\x00\x20" + myPkt(2, strings.Repeat("k", 27))
	h := newHarness(t)
	h.open()
	h.send(1, []byte(myGreeting()), 1460)
	h.send(0, []byte(ssl+tlsLike), 1460)
	h.close()
	st, _ := h.masked()
	if string(st[0]) != ssl+tlsLike {
		t.Errorf("the TLS bytes after an SSL request changed: %q", st[0])
	}
}

// myZ frames a compressed-protocol packet holding the given plain
// packets, zlib-compressed.
func myZ(seq byte, plain string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(plain))
	w.Close()
	n, u := b.Len(), len(plain)
	return string([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq, byte(u), byte(u >> 8), byte(u >> 16)}) + b.String()
}

// TestMySQLCompressedReply: after a login that asked for CLIENT_COMPRESS,
// a compressed reply holding a secret value is overwritten with zlib
// that inflates to as many '*', and one without is kept.
func TestMySQLCompressedReply(t *testing.T) {
	key := "AKIAPLANTEDZIP7KEY66"
	login := []byte(myLogin())
	login[4] |= 0x20 // CLIENT_COMPRESS
	q := myPkt(0, "\x03SELECT k FROM t")
	client := string(login) + string([]byte{byte(len(q)), 0, 0, 0, 0, 0, 0}) + q
	rows := myPkt(1, "\x01") + myPkt(2, "\x03def\x00\x01t\x01t\x01k\x01k\x0c\x21\x00\x50\x00\x00\x00\xfd\x00\x00\x00\x00\x00") +
		myPkt(3, "\x14"+key) + myPkt(4, "\xfe\x00\x00\x02\x00\x00\x00")
	clean := myPkt(1, strings.Repeat("\x00", 7)+strings.Repeat("nothing secret here ", 5))
	server := myGreeting() + myPkt(2, "\x00\x00\x00\x02\x00\x00\x00") + myZ(0, rows) + myZ(1, clean)
	for _, mss := range []int{1, 5, 1460} {
		h := newHarness(t)
		h.open()
		h.send(1, []byte(server[:len(myGreeting())]), mss)
		h.send(0, []byte(client), mss)
		h.send(1, []byte(server[len(myGreeting()):]), mss)
		h.close()
		st, _ := h.masked()
		what := fmt.Sprintf("mss %d", mss)
		if len(st[1]) != len(server) {
			t.Fatalf("%s: server stream length changed", what)
		}
		first := myZ(0, rows)
		at := len(server) - len(first) - len(myZ(1, clean))
		r, err := zlib.NewReader(bytes.NewReader(st[1][at+7 : at+len(first)]))
		if err != nil {
			t.Fatalf("%s: masked packet is not zlib: %v", what, err)
		}
		plain, _ := io.ReadAll(r)
		if string(plain) != strings.Repeat("*", len(rows)) {
			t.Errorf("%s: masked packet inflates to %q", what, plain)
		}
		if !strings.HasSuffix(string(st[1]), myZ(1, clean)) {
			t.Errorf("%s: the packet without a secret changed", what)
		}
	}
}

// FuzzMySQLWalker walks fuzzed client and server streams that start like
// a MySQL login (so the MySQL layers take them), cut into segments of
// fuzzed sizes: no panic, and masking never changes a stream's length.
func FuzzMySQLWalker(f *testing.F) {
	login := []byte(myLogin())
	login[4] |= 0x20
	q := myPkt(0, "\x03SELECT 1")
	f.Add(append(login, append([]byte{byte(len(q)), 0, 0, 0, 0, 0, 0}, q...)...),
		[]byte(myPkt(2, "\x00\x00\x00\x02\x00\x00\x00")+myZ(0, myPkt(1, "\x14AKIAPLANTEDZIP7KEY66"))), byte(7))
	f.Add([]byte(myLogin()+myPkt(3, mySwitch)), []byte(myPkt(2, "\xfeclient_ed25519\x00n")), byte(1))
	f.Fuzz(func(t *testing.T, c2s, s2c []byte, mss byte) {
		client := append([]byte(nil), c2s...)
		server := append([]byte(myGreeting()), s2c...)
		h := newHarness(t)
		h.open()
		n := int(mss)%61 + 1
		h.send(1, server[:len(myGreeting())], n)
		h.send(0, client, n)
		h.send(1, server[len(myGreeting()):], n)
		h.close()
		st, _ := h.masked()
		if len(st[0]) != len(client) || len(st[1]) != len(server) {
			t.Fatalf("lengths changed: %d/%d, %d/%d", len(st[0]), len(client), len(st[1]), len(server))
		}
	})
}

// TestMySQLChangeUserAtAnySegmentSize: COM_CHANGE_USER logs in again
// after the login, so its auth data and the auth-switch response that
// follows are overwritten like the login's, however the segments cut
// them; the commands around it are kept. (No client on this machine
// sends COM_CHANGE_USER, so the packets are built here to the protocol's
// layout: command byte, user, length-prefixed auth data, schema,
// character set, plugin.)
func TestMySQLChangeUserAtAnySegmentSize(t *testing.T) {
	const changeAuth = "ChangeUserAuth0123456"
	const changeSwitch = "ChangeUserSwitchResponse"
	client := myLogin() + myPkt(0, "\x03SELECT 1") +
		myPkt(0, "\x11bob\x00\x15"+changeAuth+"shop\x00\x2d\x00mysql_native_password\x00") +
		myPkt(3, changeSwitch) + myPkt(0, "\x03SELECT 2")
	server := myGreeting() + myPkt(2, "\x00\x00\x00\x02\x00\x00\x00") + myPkt(1, "\x00\x00\x00\x02\x00\x00\x00") +
		myPkt(1, "\xfeclient_ed25519\x00nonce0123456789") + myPkt(4, "\x00\x00\x00\x02\x00\x00\x00") + myPkt(1, "\x00\x00\x00\x02\x00\x00\x00")
	for _, mss := range []int{1, 2, 3, 7, 13, 100, 1460} {
		h := newHarness(t)
		h.open()
		h.send(1, []byte(server[:len(myGreeting())]), mss)
		h.send(0, []byte(client), mss)
		h.send(1, []byte(server[len(myGreeting()):]), mss)
		h.close()
		st, _ := h.masked()
		what := fmt.Sprintf("mss %d", mss)
		mustHide(t, what, st[0], myAuth, changeAuth, changeSwitch)
		mustKeep(t, what, st[0], "\x03SELECT 1", "\x11bob\x00\x15", "shop\x00\x2d\x00mysql_native_password\x00", "\x03SELECT 2")
	}
}
