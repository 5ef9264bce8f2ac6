package ui

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

func TestShellQuote(t *testing.T) {
	cases := map[string]string{
		"GET":                     "GET",
		"https://a.example/x?y=1": "'https://a.example/x?y=1'",
		"it's":                    `'it'\''s'`,
		"":                        "''",
		"a\x1b[31mb":              `$'a\x1b[31mb'`,
		"rtl\u202e":               `$'rtl\xe2\x80\xae'`,
		"quote' and \\ \x07":      `$'quote\' and \\ \x07'`,
		"two\nlines":              "'two\nlines'",
		"bad\xffutf8":             `$'bad\xffutf8'`,
	}
	for in, want := range cases {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestShellQuoteRoundTrip asks a real shell to echo the quoted words back.
func TestShellQuoteRoundTrip(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	for _, s := range []string{"plain", "it's $HOME `x`", "tab\there", "esc\x1b[0m", "ünï", "a\\b", "'"} {
		out, err := exec.Command(bash, "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if string(out) != s {
			t.Errorf("round trip of %q gave %q", s, out)
		}
	}
}

func TestCurl(t *testing.T) {
	e := loginPost()
	got := Curl(e)
	want := `curl \
  'http://api.example.com/v1/login?token=abc123' \
  -H 'User-Agent: curl/8.5.0' \
  -H 'Accept: */*' \
  -H 'Content-Type: application/json' \
  -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.secret' \
  --data-binary '{"user":"ada","password":"hunter2","remember":true,"scopes":["read","write"]}'`
	if got != want {
		t.Errorf("Curl =\n%s\nwant\n%s", got, want)
	}
	masked := Curl(fakeMask(e))
	if strings.Contains(masked, "hunter2") || strings.Contains(masked, "eyJ") || strings.Contains(masked, "abc123") {
		t.Errorf("masked curl leaks: %s", masked)
	}
}

func TestCurlMethodsAndBodies(t *testing.T) {
	del := exchange(5, 0, "DELETE", "/v1/users/99", 404, "", "", "", "")
	if got := Curl(del); !strings.Contains(got, "-X DELETE") {
		t.Errorf("DELETE without -X: %s", got)
	}
	get := exchange(1, 0, "GET", "/", 200, "", "", "", "")
	if got := Curl(get); strings.Contains(got, "-X") {
		t.Errorf("GET with -X: %s", got)
	}
	bin := exchange(8, 0, "PUT", "/upload", 200, "application/octet-stream", "\x00\x01\x02", "", "")
	bin.TLS = true
	got := Curl(bin)
	for _, want := range []string{"-X PUT", "https://api.example.com/upload", "--data-binary @body.bin", "# body.bin: the 3-byte"} {
		if !strings.Contains(got, want) {
			t.Errorf("binary PUT lacks %q:\n%s", want, got)
		}
	}
	g := grpcCall()
	g.Request.Body = []byte("\x00\x00\x00\x00\x07\x0a\x05world")
	if got := Curl(g); !strings.Contains(got, "--http2-prior-knowledge") || !strings.Contains(got, "@body.bin") {
		t.Errorf("gRPC curl: %s", got)
	}
	h2 := exchange(3, 0, "GET", "/x", 200, "", "", "", "")
	h2.Proto = "h2"
	h2.Request.Scheme = "https"
	h2.Request.Headers = append([]decode.Header{{Name: ":authority", Value: "api.example.com"}}, h2.Request.Headers...)
	if got := Curl(h2); !strings.Contains(got, "--http2 ") || strings.Contains(got, ":authority") {
		t.Errorf("h2 curl: %s", got)
	}
}

func TestCurlCompressed(t *testing.T) {
	e := exchange(1, 0, "GET", "/x", 200, "", "", "text/plain", "ok")
	e.Request.Headers = append(e.Request.Headers, decode.Header{Name: "Accept-Encoding", Value: "gzip, br"})
	if c := Curl(e); !strings.Contains(c, "--compressed") {
		t.Errorf("Accept-Encoding without --compressed:\n%s", c)
	}
	if c := Curl(exchange(1, 0, "GET", "/x", 200, "", "", "text/plain", "ok")); strings.Contains(c, "--compressed") {
		t.Errorf("--compressed without Accept-Encoding:\n%s", c)
	}
}
