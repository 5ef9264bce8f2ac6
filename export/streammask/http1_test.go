package streammask

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"testing"
)

const (
	sBearer = "Zq8vLk2PwX0tYb7nRc4MhJ5d"
	sQuery  = "Qk29VbnX7wLpT3sZ"
	sCookie = "C00k1eV4lueXyZ9Wq"
	sPass   = "Pw9xKq2LmZ7vB4nT"
	sJWT    = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrLXRlc3QifQ.Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg"
	sToken  = "Tk5mVq8LwZ3xN7pR"
)

func plantedHTTP1() (req, resp []byte) {
	body := `{"user":"bob","password":"` + sPass + `"}`
	req = []byte("POST /login?api_key=" + sQuery + "&lang=en HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer " + sBearer +
		"\r\nCookie: theme=dark; session=" + sCookie + "\r\nContent-Type: application/json\r\nContent-Length: " +
		fmt.Sprint(len(body)) + "\r\n\r\n" + body)
	rb := `{"access_token":"` + sJWT + `","ok":true}`
	resp = []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + fmt.Sprint(len(rb)) + "\r\n\r\n" + rb)
	return req, resp
}

var h1Secrets = []string{sBearer, sQuery, sCookie, sPass, sJWT[37:], sToken}

func TestHTTP1SplitAtAnySegmentSize(t *testing.T) {
	req, resp := plantedHTTP1()
	for _, mss := range []int{1, 2, 3, 5, 7, 13, 60, 1460} {
		h := newHarness(t)
		h.open()
		h.send(0, req, mss)
		h.send(1, resp, mss)
		h.send(0, req, mss) // keep-alive: a second exchange
		h.send(1, resp, mss)
		h.close()
		st, covered := h.masked()
		what := fmt.Sprintf("mss %d", mss)
		mustHide(t, what, st[0], h1Secrets...)
		mustHide(t, what, st[1], h1Secrets...)
		mustKeep(t, what, st[0], "POST /login?api_key=", "&lang=en HTTP/1.1\r\n", "Authorization: Bearer ", "theme=", `"user":"bob"`)
		mustKeep(t, what, st[1], "HTTP/1.1 200 OK\r\n", `"access_token":"`, `","ok":true}`)
		if len(st[0]) != 2*len(req) || len(st[1]) != 2*len(resp) {
			t.Fatalf("%s: lengths changed", what)
		}
		if !covered {
			t.Errorf("%s: a payload was not covered", what)
		}
	}
}

func chunked(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	return b.String()
}

func TestHTTP1ChunkedSecretAcrossChunks(t *testing.T) {
	body := chunked(`{"user":"bob","password":"`+sPass[:5], sPass[5:9], sPass[9:]+`"}`) + "0\r\nX-Auth-Token: " + sToken + "\r\n\r\n"
	req := "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body
	resp := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(`{"access_token":"`+sJWT[:50], sJWT[50:]+`"}`) + "0\r\n\r\n"
	for _, mss := range []int{1, 4, 1460} {
		h := newHarness(t)
		h.open()
		h.send(0, []byte(req), mss)
		h.send(1, []byte(resp), mss)
		h.close()
		st, _ := h.masked()
		mustHide(t, "request", st[0], sPass, sToken)
		mustHide(t, "response", st[1], sJWT[37:])
		// The framing is untouched.
		mustKeep(t, "request", st[0], "\r\n1f\r\n", "\r\n4\r\n", "\r\n9\r\n", "0\r\nX-Auth-Token: ")
	}
}

func TestHTTP1GzipBodyWithSecretDecompressesToStars(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	plain := `{"client_secret":"` + sToken + `","n":1}`
	io.WriteString(zw, plain)
	zw.Close()
	resp := append([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", z.Len())), z.Bytes()...)
	h := newHarness(t)
	h.open()
	h.send(0, []byte("GET /z HTTP/1.1\r\nHost: x\r\n\r\n"), 1460)
	h.send(1, resp, 20)
	h.close()
	st, _ := h.masked()
	head := len(resp) - z.Len()
	zr, err := gzip.NewReader(bytes.NewReader(st[1][head:]))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil || string(out) != strings.Repeat("*", len(plain)) {
		t.Fatalf("masked body inflates to %q, %v", out, err)
	}
	if h.res.Stats.Wiped[WhyCompressedSecret] != 1 {
		t.Errorf("wiped: %v", h.res.Stats.Wiped)
	}
	// The body came in 20-byte segments: its patches are one, holding
	// the filler's recipe rather than its bytes until pass two.
	var fills int
	for _, list := range h.res.halves {
		for _, in := range list {
			for _, p := range in.Patches() {
				if p.Kind == KindReplace {
					fills++
					if p.fill == nil || p.Data != nil || p.Len != int64(z.Len()) {
						t.Errorf("body patch: %d bytes, recipe %v, %d data bytes", p.Len, p.fill != nil, len(p.Data))
					}
				}
			}
		}
	}
	if fills != 1 {
		t.Errorf("%d replacing patches, want 1", fills)
	}
}

func TestHTTP1ResponsesWithoutBodiesKeepTheFraming(t *testing.T) {
	// HEAD, 204, 304 and interim responses have no body: the next
	// response's head must still be found (its cookie masked).
	h := newHarness(t)
	h.open()
	h.send(0, []byte("HEAD /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n"), 1460)
	h.send(1, []byte("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"+
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nSet-Cookie: a="+sCookie+"\r\n\r\n"+
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: b="+sToken+"\r\n\r\nhello"), 1460)
	h.close()
	st, _ := h.masked()
	mustHide(t, "responses", st[1], sCookie, sToken)
	mustKeep(t, "responses", st[1], "hello", "HTTP/1.1 204 No Content")
}

func TestHTTP1SplitFarApartInTime(t *testing.T) {
	// The second half comes after many packets of the other direction.
	h := newHarness(t)
	h.open()
	h.send(0, []byte("GET /far HTTP/1.1\r\nHost: x\r\nX-Api-Key: "+sBearer[:9]), 1460)
	for i := 0; i < 600; i++ {
		h.sendAt(1, 0, nil) // pure ACKs are ignored
		h.send(1, []byte{'x'}, 1)
	}
	h.send(0, []byte(sBearer[9:]+"\r\n\r\n"), 1460)
	h.close()
	st, _ := h.masked()
	mustHide(t, "request", st[0], sBearer)
}

func TestConnectTunnelIsLeftAlone(t *testing.T) {
	tlsHello := []byte{0x16, 0x03, 0x01, 0x00, 0x10, 1, 0, 0, 0x0c, 3, 3, 'A', 'u', 't', 'h', 'o', 'r', 'i', 'z', 'a', 't'}
	h := newHarness(t)
	h.open()
	h.send(0, []byte("CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\nProxy-Authorization: Basic "+sBearer+"\r\n\r\n"), 1460)
	h.send(1, []byte("HTTP/1.1 200 Connection established\r\n\r\n"), 1460)
	h.send(0, tlsHello, 1460)
	h.send(0, []byte{0x17, 3, 3, 0, 20}, 1460)
	h.send(0, []byte("password=abcdefghijkl"), 1460)
	h.close()
	st, _ := h.masked()
	mustHide(t, "connect", st[0], sBearer)
	// The tunnel's bytes are TLS: not touched, even where they look like
	// a parameter.
	mustKeep(t, "tunnel", st[0], string(tlsHello), "password=abcdefghijkl")
}

func TestTLSIsLeftAlone(t *testing.T) {
	rec := append([]byte{0x16, 0x03, 0x01, 0x00, 0x40}, []byte("token=AbCdEfGhIjKlMnOpQrStUv eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl")...)
	h := newHarness(t)
	h.open()
	h.send(0, rec, 1460)
	h.send(1, rec, 1460)
	h.close()
	st, _ := h.masked()
	if !bytes.Equal(st[0], rec) || !bytes.Equal(st[1], rec) {
		t.Fatalf("TLS changed:\n%q\n%q", st[0], st[1])
	}
}
