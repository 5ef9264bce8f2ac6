package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/synth"
)

// planted are secrets of every kind the masker must hide, by where they
// are planted.
var planted = map[string]string{
	"bearer jwt":     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0YXB2aWV3In0.c2lnbmF0dXJlLXBsYW50ZWQ",
	"cookie":         "sess-cookie-7f3a9b2c",
	"set-cookie":     "srv-cookie-0c1d2e3f",
	"x-api-key":      "key-header-5a6b7c8d",
	"query api_key":  "qk-91827364",
	"query password": "qpw-hunter2x",
	"form password":  "formpw-correcthorse",
	"form ssn":       "078-05-1120",
	"json token":     "jtok-nested-4455",
	"json card":      "4111111111111111",
	"json cvv":       "cvv-737",
	"email":          "alice.planted@example.org",
	"aws key":        "AKIAIOSFODNN7PLANTED",
	"gzip secret":    "gz-client-secret-9988",
	"chunked token":  "chunk-access-token-6677",
}

// plantedCapture writes a pcapng with three HTTP/1.1 exchanges carrying
// every planted secret, including in a chunked gzip response body.
func plantedCapture(t *testing.T) string {
	t.Helper()
	p := planted
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprintf(zw, `{"client_secret":%q,"note":"ok"}`, p["gzip secret"])
	zw.Close()
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", gz.Len(), gz.Bytes())

	jsonBody := fmt.Sprintf(`{"user":{"contact":[%q],"payment":[{"card":%q,"cvv":%q}]},"items":[{"token":%q}],"aws":%q}`,
		p["email"], p["json card"], p["json cvv"], p["json token"], p["aws key"])
	form := "user=alice&password=" + p["form password"] + "&ssn=" + p["form ssn"]
	reqs := []struct{ req, resp string }{
		{
			"POST /api/signup?api_key=" + p["query api_key"] + "&password=" + p["query password"] + " HTTP/1.1\r\nHost: shop.test\r\n" +
				"Authorization: Bearer " + p["bearer jwt"] + "\r\nCookie: session=" + p["cookie"] + "\r\nX-Api-Key: " + p["x-api-key"] + "\r\n" +
				"Content-Type: application/json\r\nContent-Length: " + fmt.Sprint(len(jsonBody)) + "\r\n\r\n" + jsonBody,
			"HTTP/1.1 201 Created\r\nSet-Cookie: sid=" + p["set-cookie"] + "; HttpOnly\r\nContent-Length: 0\r\n\r\n",
		},
		{
			"POST /login HTTP/1.1\r\nHost: shop.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + fmt.Sprint(len(form)) + "\r\n\r\n" + form,
			"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
		},
		{
			"GET /me HTTP/1.1\r\nHost: shop.test\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
				fmt.Sprintf("10\r\n{\"access_token\":\r\n%x\r\n\"%s\"}\r\n0\r\n\r\n", len(p["chunked token"])+3, p["chunked token"]),
		},
	}
	conn, err := synth.NewTCP(netip.MustParseAddrPort("10.0.0.5:41000"), netip.MustParseAddrPort("10.0.0.9:80"), synth.Options{Source: "planted"})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pkts := conn.Open(ts)
	for _, r := range reqs {
		ts = ts.Add(time.Millisecond)
		pkts = append(pkts, conn.Send(decode.ClientToServer, []byte(r.req), ts)...)
		ts = ts.Add(2 * time.Millisecond)
		pkts = append(pkts, conn.Send(decode.ServerToClient, []byte(r.resp), ts)...)
	}
	pkts = append(pkts, conn.Close(ts.Add(time.Millisecond))...)
	var buf bytes.Buffer
	w, err := pcapw.NewPcapng(&buf, pcapw.NgOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pk := range pkts {
		if err := w.WritePacket(pk, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "planted.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runOut(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("tapview %v: %v", args, err)
	}
	return out.String()
}

// TestMaskingJSON: with masking on (the default) no planted secret appears
// anywhere in the JSON output, bodies included; with --no-mask all do.
func TestMaskingJSON(t *testing.T) {
	path := plantedCapture(t)
	masked := runOut(t, "open", "-o", "json", "--bodies", path)
	plain := runOut(t, "open", "-o", "json", "--bodies", "--no-mask", path)
	if n := strings.Count(plain, `"type":"exchange"`); n != 3 {
		t.Fatalf("want 3 exchanges, got %d:\n%s", n, plain)
	}
	for what, secret := range planted {
		if strings.Contains(masked, secret) {
			t.Errorf("masked output leaks the %s %q", what, secret)
		}
		if !strings.Contains(plain, secret) {
			t.Errorf("--no-mask output lacks the %s %q", what, secret)
		}
	}
	for _, shape := range []string{`"Bearer ••••••••"`, `\"card\":`, `password=••••••••`} {
		if !strings.Contains(masked, shape) {
			t.Errorf("masked output should keep its shape readable: %s missing", shape)
		}
	}
	// The table output is masked too.
	table := runOut(t, "open", "-o", "table", path)
	if strings.Contains(table, planted["query api_key"]) {
		t.Errorf("table output leaks the query api_key")
	}
}
