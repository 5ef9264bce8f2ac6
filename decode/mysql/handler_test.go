package mysql

import (
	"bytes"
	"compress/zlib"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// greetingPayload is a MySQL 8 greeting offering caching_sha2_password
// (CLIENT_MYSQL set: no MariaDB extended capabilities).
func greetingPayload() []byte {
	return append([]byte{10}, "8.0.36\x00\x08\x00\x00\x00abcdefgh\x00\xff\xff\xff\x02\x00\xff\xdf\x15\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00ijklmnopqrst\x00caching_sha2_password\x00"...)
}

// loginPayload is a HandshakeResponse41 with the given capabilities and
// a 32-byte auth-response.
func loginPayload(caps uint32, auth string) []byte {
	b := []byte{byte(caps), byte(caps >> 8), byte(caps >> 16), byte(caps >> 24), 0, 0, 0, 1, 0x2d}
	b = append(b, make([]byte, 23)...)
	b = append(b, "bob\x00"...)
	b = append(b, byte(len(auth)))
	b = append(b, auth...)
	b = append(b, "inventory\x00caching_sha2_password\x00"...)
	return b
}

const sha2Caps = capProtocol41 | capSecureConnection | capPluginAuth | capPluginAuthLenenc | capConnectWithDB | capLongPassword | capDeprecateEOF

// TestCachingSha2FullAuth: a caching_sha2_password login that needs full
// authentication (server 0x01 0x04, the client's cleartext password over
// TLS or RSA) keeps both the scramble and the password in Password
// headers only, and the session goes on with the schema and user.
func TestCachingSha2FullAuth(t *testing.T) {
	c := newFakeConn(t)
	h := New().New(c)
	scramble := strings.Repeat("S", 32)
	h.Data(decode.ServerToClient, pkt(0, greetingPayload()), t0)
	h.Data(decode.ClientToServer, pkt(1, loginPayload(sha2Caps, scramble)), t0)
	h.Data(decode.ServerToClient, pkt(2, []byte{0x01, 0x04}), t0)
	h.Data(decode.ClientToServer, pkt(3, []byte("cleartextSecret\x00")), t0)
	h.Data(decode.ServerToClient, pkt(4, []byte{0x00, 0, 0, 2, 0, 0, 0}), t0)
	h.Data(decode.ClientToServer, pkt(0, append([]byte{comQuery}, "select 1"...)), t0)
	// Deprecated EOF: column count, definition, row, OK terminator.
	col := []byte("\x03def\x00\x00\x00\x011\x00\x0c\x3f\x00\x01\x00\x00\x00\x08\x81\x00\x00\x00\x00")
	h.Data(decode.ServerToClient, append(append(append(pkt(1, []byte{1}), pkt(2, col)...), pkt(3, []byte("\x011"))...), pkt(4, []byte{0xfe, 0, 0, 2, 0, 0, 0})...), t0)
	h.End(decode.FlowClosed, t0)
	xs := c.Exchanges()
	if len(xs) != 2 || c.Swaps != 0 {
		t.Fatalf("%d exchanges (swapped %d), want 2", len(xs), c.Swaps)
	}
	login := xs[0]
	if login.Method() != "CONNECT" || login.Query.User != "bob" || login.Query.Database != "inventory" || login.State != decode.Complete {
		t.Errorf("login: %s user %q db %q %s", login.Method(), login.Query.User, login.Query.Database, login.State)
	}
	if login.Request.HeaderValue("Password") != hexString([]byte(scramble)) || login.Request.HeaderValue("Auth-Password") != hexString([]byte("cleartextSecret\x00")) {
		t.Errorf("secrets not in the Password headers: %v", login.Request.Headers)
	}
	for _, m := range []*decode.Message{login.Request, login.Response} {
		if bytes.Contains(m.Body, []byte("cleartext")) || bytes.Contains(m.Body, []byte(scramble)) || m.Target != "" && m.Target != "inventory" {
			t.Errorf("a secret outside the Password headers: %q %q", m.Target, m.Body)
		}
	}
	if login.Response.HeaderValue("Auth-More-Data") != "full auth required" {
		t.Errorf("auth more data: %v", login.Response.Headers)
	}
	sel := xs[1]
	if sel.Method() != "SELECT" || sel.Query.Rows != 1 || string(sel.Response.Body) != "1\n1\n" || sel.Query.Database != "inventory" {
		t.Errorf("select: %s rows %d body %q db %q", sel.Method(), sel.Query.Rows, sel.Response.Body, sel.Query.Database)
	}
}

// TestGreetingFromTheOtherSide: a greeting in the direction the
// transport took for the client swaps the directions.
func TestGreetingFromTheOtherSide(t *testing.T) {
	c := newFakeConn(t)
	h := New().New(c)
	h.Data(decode.ClientToServer, pkt(0, greetingPayload()), t0)
	// After the swap the transport delivers the client's login as c2s.
	h.Data(decode.ClientToServer, pkt(1, loginPayload(sha2Caps, "x")), t0)
	h.Data(decode.ServerToClient, pkt(2, []byte{0x00, 0, 0, 2, 0, 0, 0}), t0)
	h.End(decode.FlowClosed, t0)
	if xs := c.Exchanges(); c.Swaps != 1 || len(xs) != 1 || xs[0].Query.User != "bob" || xs[0].State != decode.Complete {
		t.Fatalf("swapped %d, exchanges %+v", c.Swaps, xs)
	}
}

// TestHostileBounds: a 16 MB packet, a flood of replies without
// commands and a compressed packet claiming a huge size stay within the
// limits, with notes.
func TestHostileBounds(t *testing.T) {
	c := newFakeConn(t)
	c.FlowInfo.Partial = true
	c.Lim = decode.Limits{MaxBody: 1024}
	h := New().New(c).(*handler)
	// A query of 16 MB + 10 bytes, in two physical packets.
	big := append([]byte{comQuery}, "SELECT '"...)
	big = append(big, bytes.Repeat([]byte("a"), maxPayload-len(big))...)
	h.Data(decode.ClientToServer, pkt(0, big[:0]), t0) // not a command: skipped
	first := append([]byte{0xff, 0xff, 0xff, 0}, big...)
	h.Data(decode.ClientToServer, append(first, pkt(1, []byte("'"))...), t0)
	h.Data(decode.ServerToClient, pkt(1, []byte{0x00, 0, 0, 2, 0, 0, 0}), t0)
	for i := range 2000 {
		h.Data(decode.ServerToClient, pkt(byte(i), bytes.Repeat([]byte{1}, 900)), t0)
	}
	if len(h.held) > maxHeld || h.heldBytes > maxHeldBytes {
		t.Errorf("held %d packets, %d bytes", len(h.held), h.heldBytes)
	}
	h.End(decode.FlowClosed, t0)
	xs := c.Exchanges()
	if len(xs) != 1 || !xs[0].Request.Truncated || len(xs[0].Request.Body) > 1024 || xs[0].Request.BodySize != int64(maxPayload) {
		t.Fatalf("big query: %d exchanges, truncated %v, body %d of %d", len(xs), xs[0].Request.Truncated, len(xs[0].Request.Body), xs[0].Request.BodySize)
	}
	// Compressed: an inflated size over the limit is refused.
	z := &inflater{maxOut: 1 << 20}
	var zb bytes.Buffer
	w := zlib.NewWriter(&zb)
	w.Write(bytes.Repeat([]byte{0}, 2<<20))
	w.Close()
	n := zb.Len()
	hdr := []byte{byte(n), byte(n >> 8), byte(n >> 16), 0, 0, 0, 0x20} // claims 2 MB
	if _, _, err := z.feed(append(hdr, zb.Bytes()...)); err == nil {
		t.Error("a 2 MB inflation passed a 1 MB limit")
	}
	hdr = []byte{byte(n), byte(n >> 8), byte(n >> 16), 0, 0x10, 0, 0} // claims 4 KB, inflates to 2 MB
	z = &inflater{maxOut: 1 << 20}
	if _, _, err := z.feed(append(hdr, zb.Bytes()...)); err == nil {
		t.Error("a packet inflating past its header's size passed")
	}
}

// TestFieldListAndStatementCommands: COM_FIELD_LIST lists the column
// names until EOF; COM_STMT_RESET gets an OK; COM_STMT_EXECUTE with a
// cursor ends at the metadata and COM_STMT_FETCH brings the rows.
func TestFieldListAndStatementCommands(t *testing.T) {
	c := newFakeConn(t)
	h := New().New(c)
	const caps = capProtocol41 | capSecureConnection | capPluginAuth | capLongPassword
	h.Data(decode.ServerToClient, pkt(0, greetingPayload()), t0)
	h.Data(decode.ClientToServer, pkt(1, loginPayload(caps, "x")), t0)
	h.Data(decode.ServerToClient, pkt(2, []byte{0x00, 0, 0, 2, 0, 0, 0}), t0)
	colDef := func(name string, typ byte) []byte {
		b := []byte("\x03def\x04shop\x04pets\x04pets")
		b = append(b, byte(len(name)))
		b = append(b, name...)
		b = append(b, byte(len(name)))
		b = append(b, name...)
		return append(b, 0x0c, 0x3f, 0, 11, 0, 0, 0, typ, 0, 0, 0, 0, 0)
	}
	eof := []byte{0xfe, 0, 0, 2, 0}
	h.Data(decode.ClientToServer, pkt(0, append([]byte{comFieldList}, "pets\x00"...)), t0)
	h.Data(decode.ServerToClient, append(append(pkt(1, append(colDef("id", typeLong), 0xfb)), pkt(2, append(colDef("name", 0xfd), 0xfb))...), pkt(3, eof)...), t0)
	h.Data(decode.ClientToServer, pkt(0, append([]byte{comStmtPrepare}, "SELECT id FROM pets"...)), t0)
	h.Data(decode.ServerToClient, append(append(pkt(1, []byte{0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}), pkt(2, colDef("id", typeLong))...), pkt(3, eof)...), t0)
	h.Data(decode.ClientToServer, pkt(0, []byte{comStmtReset, 7, 0, 0, 0}), t0)
	h.Data(decode.ServerToClient, pkt(1, []byte{0x00, 0, 0, 2, 0, 0, 0}), t0)
	h.Data(decode.ClientToServer, pkt(0, []byte{comStmtExecute, 7, 0, 0, 0, 1, 1, 0, 0, 0}), t0)
	h.Data(decode.ServerToClient, append(append(pkt(1, []byte{1}), pkt(2, colDef("id", typeLong))...), pkt(3, []byte{0xfe, 0, 0, 0x42, 0})...), t0)
	h.Data(decode.ClientToServer, pkt(0, []byte{comStmtFetch, 7, 0, 0, 0, 10, 0, 0, 0}), t0)
	h.Data(decode.ServerToClient, append(append(pkt(1, []byte{0, 0, 5, 0, 0, 0}), pkt(2, []byte{0, 0, 6, 0, 0, 0})...), pkt(3, []byte{0xfe, 0, 0, 0x82, 0})...), t0)
	h.End(decode.FlowClosed, t0)
	var got []string
	for _, x := range c.Exchanges()[1:] {
		if x.State != decode.Complete {
			t.Errorf("%s: %s", x.Method(), x.State)
		}
		got = append(got, x.Method()+" "+x.Path()+" rows="+strconv.FormatInt(x.Query.Rows, 10)+" "+strings.ReplaceAll(string(x.Response.Body), "\n", "|"))
	}
	want := []string{
		"FIELD_LIST pets rows=2 field|id|name|",
		"PREPARE SELECT id FROM pets rows=-1 statement 7: 0 parameters, 1 columns|",
		"STMT_RESET SELECT id FROM pets rows=0 OK, 0 rows affected|",
		"EXECUTE SELECT id FROM pets rows=0 id|",
		"STMT_FETCH SELECT id FROM pets rows=2 5|6|",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
