package mask

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

func loadExample(t *testing.T) Rules {
	t.Helper()
	f, err := os.Open("testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := LoadRules(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRulesFile(t *testing.T) {
	r := loadExample(t)
	if len(r.Add) != 6 || !slices.Equal(r.Disable, []string{"pattern:email", "header:cookie"}) {
		t.Fatalf("loaded %+v", r)
	}
	m, err := New(WithRules(r))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ in, want string }{
		{"X-Session: abc123\r\n", "X-Session: ******\r\n"},
		{"/verify?otp=123456&otp_code=987&otpx=1", "/verify?otp=******&otp_code=***&otpx=1"},
		{`{"date_of_birth":"1990-01-01","name":"x"}`, `{"date_of_birth":"**********","name":"x"}`},
		{"date_of_birth=1990-01-01", "date_of_birth=1990-01-01"}, // field rules are JSON only
		{"iban DE89370400440532013000 ok", "iban ********************** ok"},
		{"emp-id:123456 emp-id:12345", "emp-id:****** emp-id:12345"},
		{"pw correct-horse-battery!", "pw *********************!"},
		{"mail alice@example.com", "mail alice@example.com"}, // pattern:email disabled
		{"Cookie: a=b\r\n", "Cookie: a=b\r\n"},               // header:cookie disabled
		{"Authorization: Bearer abcdefghij\r\n", "Authorization: Bearer **********\r\n"},
	}
	for _, c := range cases {
		b := []byte(c.in)
		m.MaskInPlace(b)
		if string(b) != c.want {
			t.Errorf("%q\n got %q\nwant %q", c.in, b, c.want)
		}
	}
	names := m.Rules()
	for _, n := range []string{"header:x-session", "pattern:iban", "param:token"} {
		if !slices.Contains(names, n) {
			t.Errorf("Rules() lacks %s", n)
		}
	}
	if slices.Contains(names, "pattern:email") {
		t.Error("Rules() lists a disabled rule")
	}
	e := &decode.Exchange{Request: &decode.Message{Headers: []decode.Header{{Name: "x-session", Value: "abc"}}}}
	if got := m.Exchange(e).Request.Headers[0].Value; got != Display {
		t.Errorf("custom header rule in Exchange: %q", got)
	}
}

func TestLoadRulesErrors(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"rules:\n  - name: a\n    kind: hdr\n    match: x\n", `line 2: rule "a" has unknown kind "hdr"`},
		{"rules:\n  - name: a\n    match: x\n", `needs a kind`},
		{"rules:\n  - kind: header\n    match: x\n", "needs a name"},
		{"rules:\n  - name: a\n    kind: header\n", "exactly one of match or regex"},
		{"rules:\n  - name: a\n    kind: header\n    match: x\n    regex: y\n", "exactly one of match or regex"},
		{"rules:\n  - name: a\n    kind: param\n    regex: '(('\n", "invalid regex"},
		{"rules:\n  - name: a\n    kind: pattern\n    regex: 'x*'\n", "matches empty text"},
		{"rules:\n  - name: a\n    kind: header\n    match: x\n  - name: a\n    kind: header\n    match: y\n", `line 5: rule name "a" is already used`},
		{"rules:\n  - name: pattern:jwt\n    kind: pattern\n    match: y\n", "already used"},
		{"disable:\n  - pattern:emial\n", `line 2: cannot disable "pattern:emial"`},
		{"rules:\n  - name: a\n    kind: header\n    mtach: x\n", "field mtach not found"},
		{"rulez: []\n", "field rulez not found"},
		{"rules: {a: 1}\n", "cannot unmarshal"},
		{"- a\n", "cannot unmarshal"},
	}
	for _, c := range cases {
		_, err := LoadRules(strings.NewReader(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.yaml, err, c.want)
		}
	}
	if r, err := LoadRules(strings.NewReader("")); err != nil || len(r.Add)+len(r.Disable) != 0 {
		t.Errorf("empty file: %+v %v", r, err)
	}
	if _, err := New(WithRules(Rules{Disable: []string{"nope"}})); err == nil {
		t.Error("New must reject unknown disable names")
	}
	if _, err := New(WithRules(Rules{Add: []Rule{{Name: "x", Kind: KindPattern, Regex: "("}}})); err == nil {
		t.Error("New must reject bad regexes")
	}
}

func FuzzLoadRules(f *testing.F) {
	data, err := os.ReadFile("testdata/rules.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data))
	f.Add("rules:\n  - name: a\n    kind: pattern\n    regex: '(x)'\n")
	f.Add("disable: [pattern:jwt]\n")
	f.Fuzz(func(t *testing.T, doc string) {
		r, err := LoadRules(strings.NewReader(doc))
		if err != nil {
			return
		}
		// Whatever LoadRules accepts, New must accept and apply.
		m, err := New(WithRules(r))
		if err != nil {
			t.Fatalf("LoadRules accepted what New rejects: %v", err)
		}
		b := []byte(doc)
		n := len(b)
		m.MaskInPlace(b)
		if len(b) != n {
			t.Fatal("length changed")
		}
	})
}

func TestBuiltinNamesStable(t *testing.T) {
	want := []string{
		"header:authorization", "header:proxy-authorization", "header:cookie", "header:set-cookie",
		"header:x-api-key", "header:x-auth-token", "header:token", "header:secret", "header:password", "header:api-key",
		"param:password", "param:passwd", "param:secret", "param:token", "param:access_token", "param:api_key",
		"param:client_secret", "param:ssn", "param:card", "param:cvv", "param:sig", "param:signature",
		"pattern:bearer", "pattern:jwt", "pattern:aws-key", "pattern:card", "pattern:email", "pattern:url-password",
		"pattern:google-api-key", "pattern:github-token", "pattern:gitlab-token", "pattern:slack-token",
		"pattern:slack-webhook", "pattern:stripe-key", "pattern:npm-token", "pattern:pypi-token",
		"pattern:ai-api-key", "pattern:sendgrid-key", "pattern:private-key",
		"pattern:sql-password",
	}
	if got := BuiltinNames(); !slices.Equal(got, want) {
		t.Fatalf("BuiltinNames changed:\n%v\nwant\n%v", got, want)
	}
	// Each built-in can be disabled on its own.
	for _, n := range want {
		m, err := New(WithRules(Rules{Disable: []string{n}}))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(m.Rules(), n) {
			t.Errorf("%s still active after disabling", n)
		}
	}
}
