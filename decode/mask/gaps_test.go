package mask

import (
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// TestEncodedNames checks that names are decoded before they are
// matched: percent-encoded parameter names, \u-escaped JSON keys (also
// in JSON escaped into a string), and the multipart name forms, with
// near misses that decode to ordinary names.
func TestEncodedNames(t *testing.T) {
	D := Display
	m := Default()
	for _, c := range []ruleCase{
		{"api%5Fkey=k-123&x=1", "api%5Fkey=" + D + "&x=1"},
		{"pass%77ord=hunter2", "pass%77ord=" + D},
		{"PASS%57ORD=hunter2", "PASS%57ORD=" + D},
		{"user%5Bpassword%5D=hunter2", "user%5Bpassword%5D=" + D},
		{"api%255Fkey=k-123", "api%255Fkey=" + D}, // encoded twice
		{"%5Fid=3&n%61me=bob&page%5Fsize=10", "%5Fid=3&n%61me=bob&page%5Fsize=10"},
		{`{"p\u0061ssword":"hunter2","n\u0061me":"bob"}`, `{"p\u0061ssword":"` + D + `","n\u0061me":"bob"}`},
		{`{"\u0074oken":"abc","api\u005Fkey":"k-1"}`, `{"\u0074oken":"` + D + `","api\u005Fkey":"` + D + `"}`},
		{`{"msg":"{\"p\\u0061ssword\":\"hunter2\"}"}`, `{"msg":"{\"p\\u0061ssword\":\"` + D + `\"}"}`},
		{`{"max_\u0074okens":100,"caf\u00e9":"x"}`, `{"max_\u0074okens":100,"caf\u00e9":"x"}`},
	} {
		if got := m.Text(c.in); got != c.want {
			t.Errorf("Text(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	part := func(disposition, value string) string {
		return "--b\r\nContent-Disposition: form-data; " + disposition + "\r\n\r\n" + value + "\r\n--b--\r\n"
	}
	for _, c := range []struct {
		disposition string
		secret      bool
	}{
		{`name="password"`, true},
		{`name=token`, true},
		{`name = password ; x=y`, true},
		{`name*=UTF-8''password`, true},
		{`name*=utf-8'en'pass%77ord`, true},
		{`name="field"; name*=UTF-8''api%5Fkey`, true},
		{`name*0*=UTF-8''pass; name*1*=word`, true},
		{`name="comment"`, false},
		{`name=comment`, false},
		{`name*=UTF-8''max_tokens`, false},
		{`name="password"; filename="password.txt"`, false}, // files are left to the pattern rules
		{`name="doc"; filename*=UTF-8''password.txt`, false},
	} {
		in := part(c.disposition, "s3cr3t-Value")
		got := m.Text(in)
		if masked := !strings.Contains(got, "s3cr3t-Value"); masked != c.secret {
			t.Errorf("multipart %s: masked=%v, want %v (%q)", c.disposition, masked, c.secret, got)
		}
	}
}

// TestExchangeGaps plants one secret in each place issue 17 item 7
// named and checks the exchange masker (which the UI, copy-as-curl,
// JSON and HAR share) hides every one, while a nil masker keeps them.
func TestExchangeGaps(t *testing.T) {
	s := map[string]string{
		"query-encoded-name": "qk-7f3a9",
		"query-sig":          "c2lnbmF0dXJl0123",
		"query-amz":          "e3b0c44298fc1c149afbf4c8996fb924",
		"query-goog":         "a1b2c3d4e5f60718293a4b5c6d7e8f90",
		"referer-userinfo":   "refPa55w0rd",
		"location-userinfo":  "locPa55w0rd",
		"form-encoded-name":  "formHunter2",
		"json-escaped-key":   "jsonHunter2",
		"json-google-key":    fake("Sy9_x-Q7", 35),
		"json-body-url":      "bodyPa55w0rd",
		"multipart-token":    "mpTok-55aa",
		"multipart-rfc2231":  "mpPass-66bb",
		"header-github":      fake("a1B2c3D4e5", 36),
		"header-slack":       "123456789012-1234567890123-AbCdEfGhIjKl",
		"body-private-key":   "MIIEowIBAAKCAQEAfakefakefake",
		"body-stripe":        fake("51HxyZq8", 24),
	}
	multipart := "--XyZ\r\nContent-Disposition: form-data; name=token\r\n\r\n" + s["multipart-token"] + "\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name*=UTF-8''pass%77ord\r\n\r\n" + s["multipart-rfc2231"] + "\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ--\r\n"
	e := &decode.Exchange{
		Proto: "http/1.1",
		Request: &decode.Message{Method: "POST",
			Target: "/upload?api%5Fkey=" + s["query-encoded-name"] + "&sig=" + s["query-sig"] +
				"&X-Amz-Signature=" + s["query-amz"] + "&X-Goog-Signature=" + s["query-goog"] + "&signal=ok",
			Headers: []decode.Header{
				{Name: "Referer", Value: "https://alice:" + s["referer-userinfo"] + "@intranet/login"},
				{Name: "X-Signal", Value: "on"},
				{Name: "X-Ci", Value: "ghp_" + s["header-github"]},
				{Name: "X-Notify", Value: "xoxb-" + s["header-slack"]},
				{Name: "Content-Type", Value: "multipart/form-data; boundary=XyZ"},
			},
			Body: []byte(multipart)},
		Response: &decode.Message{Status: 302,
			Headers: []decode.Header{{Name: "Location", Value: "ftp://bob:" + s["location-userinfo"] + "@files/x"}},
			Body: []byte(`{"p\u0061ssword":"` + s["json-escaped-key"] + `","maps":"AIza` + s["json-google-key"] +
				`","repo":"https:\/\/ci:` + s["json-body-url"] + `@git\/r","pem":"-----BEGIN EC PRIVATE KEY-----\n` +
				s["body-private-key"] + `\n-----END EC PRIVATE KEY-----","billing":"sk_live_` + s["body-stripe"] + `"}`)},
		Interim: []*decode.Message{{Status: 100, Body: []byte("pass%77ord=" + s["form-encoded-name"] + "&user=bob")}},
	}
	dump := func(x *decode.Exchange) string {
		var b strings.Builder
		for _, msg := range append([]*decode.Message{x.Request, x.Response}, x.Interim...) {
			b.WriteString(msg.Target + "\n")
			for _, h := range msg.Headers {
				b.WriteString(h.Name + ": " + h.Value + "\n")
			}
			b.Write(msg.Body)
			b.WriteString("\n")
		}
		return b.String()
	}
	masked := dump(Default().Exchange(e))
	plain := dump((*Masker)(nil).Exchange(e))
	for name, v := range s {
		if strings.Contains(masked, v) {
			t.Errorf("%s: %q survives masking", name, v)
		}
		if !strings.Contains(plain, v) {
			t.Errorf("%s: %q missing with masking off", name, v)
		}
	}
	for _, keep := range []string{"signal=ok", "X-Signal: on", "name=\"note\"\r\n\r\nhello", "AIza", "ghp_",
		"-----BEGIN EC PRIVATE KEY-----", "https:\\/\\/ci:", "user=bob"} {
		if !strings.Contains(masked, keep) {
			t.Errorf("masking removed %q, which is not secret:\n%s", keep, masked)
		}
	}
}

// TestDNSAnswersMasked checks the DNS part of Exchange: TXT answers are
// masked in a copy, address answers are left as they are, and an
// exchange with nothing secret is returned itself without allocating.
func TestDNSAnswersMasked(t *testing.T) {
	m := Default()
	clean := &decode.Exchange{Proto: "dns", DNS: &decode.DNSInfo{Name: "example.com", Type: "TXT", Rcode: "NOERROR",
		Answers: []string{`TXT "v=spf1 -all"`, "A 192.0.2.1", "AAAA 2001:db8::1", "CNAME www.example.com."}}}
	if got := m.Exchange(clean); got != clean {
		t.Error("a clean DNS exchange was copied")
	}
	if n := testing.AllocsPerRun(100, func() { m.Exchange(clean) }); n != 0 {
		t.Errorf("masking a clean DNS exchange allocates %.0f times", n)
	}
	secret := &decode.Exchange{Proto: "dns", DNS: &decode.DNSInfo{Name: "example.com", Type: "TXT", Rcode: "NOERROR",
		Answers: []string{"A 192.0.2.1", `TXT "google-site-verification=ok" "api_key=k-9f8e7d" "AIza` + fake("Sy9_x-Q7", 35) + `"`}}}
	got := m.Exchange(secret)
	want := []string{"A 192.0.2.1", `TXT "google-site-verification=ok" "api_key=` + Display + `" "AIza` + Display + `"`}
	if got == secret || got.DNS == secret.DNS || len(got.DNS.Answers) != 2 || got.DNS.Answers[0] != want[0] || got.DNS.Answers[1] != want[1] {
		t.Fatalf("masked answers %q, want %q", got.DNS.Answers, want)
	}
	if strings.Contains(secret.DNS.Answers[1], Display) {
		t.Error("the masker wrote into the shared exchange")
	}
}
