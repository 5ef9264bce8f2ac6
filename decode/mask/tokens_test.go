package mask

import (
	"slices"
	"strings"
	"testing"
)

// fake repeats seed to exactly n characters: token bodies of the right
// length and alphabet that are obviously not real credentials.
func fake(seed string, n int) string {
	return strings.Repeat(seed, n/len(seed)+1)[:n]
}

// ruleCase is one input for a pattern rule: want is what views show
// (Text); want == in means nothing may be masked.
type ruleCase struct {
	in, want string
}

// TestTokenRules checks every vendor-token and private-key rule on
// tokens of the documented shape (masked after the prefix) and on
// near misses (wrong length, glued to a word, look-alike prefixes,
// ordinary words), which must come through unchanged. Each positive case
// must also stop being masked when its rule is disabled, which pins the
// case to the rule that is named.
func TestTokenRules(t *testing.T) {
	D := Display
	g35 := fake("Sy9_x-Q7", 35)
	gh36 := fake("a1B2c3D4e5", 36)
	pat82 := fake("11ABCDEFG0_x9y8z7", 82)
	gl20 := fake("xY-9_z", 20)
	st24 := fake("51HxyZq8", 24)
	pem := "MIIEowIBAAKCAQEAx4fake\nQ2hlY2sgdGhpcyBpcyBub3QgYSBrZXk=\n"
	cases := map[string][]ruleCase{
		"pattern:google-api-key": {
			{`{"key":"AIza` + g35 + `"}`, `{"key":"AIza` + D + `"}`},
			{"maps?key=AIza" + g35 + "&v=3", "maps?key=AIza" + D + "&v=3"},
			{"\x27AIza" + g35, "\x27AIza" + D}, // protobuf: length byte 39 before it
			{"aizawa", "aizawa"},
			{"AIzawa Sensei", "AIzawa Sensei"},
			{"AIza" + g35 + "X", "AIza" + g35 + "X"}, // 36 characters
			{"AIza" + g35[:34], "AIza" + g35[:34]},   // 34 characters
			{"xAIza" + g35, "xAIza" + g35},           // inside a word
		},
		"pattern:github-token": {
			{"token ghp_" + gh36, "token ghp_" + D},
			{"gho_" + gh36 + " gHu", "gho_" + D + " gHu"},
			{"ghs_" + gh36 + "\n", "ghs_" + D + "\n"},
			{"ghr_" + gh36, "ghr_" + D},
			{"ghu_" + gh36, "ghu_" + D},
			{"github_pat_" + pat82, "github_pat_" + D},
			{"ghp_" + gh36[:20], "ghp_" + gh36[:20]},
			{"highp_" + gh36, "highp_" + gh36},
			{"ghx_" + gh36, "ghx_" + gh36},
			{"github_pat_short", "github_pat_short"},
		},
		"pattern:gitlab-token": {
			{"PRIVATE-TOKEN: glpat-" + gl20, "PRIVATE-TOKEN: " + D}, // the header rule takes the whole value
			{"use glpat-" + gl20 + ".", "use glpat-" + D + "."},
			{"gldt-" + gl20, "gldt-" + D},
			{"glrt-" + gl20, "glrt-" + D},
			{"glpat-short", "glpat-short"},
			{"the glpat- prefix", "the glpat- prefix"},
		},
		"pattern:slack-token": {
			{"xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-" + D},
			{`"xoxp-1-2-3-abcdef12"`, `"xoxp-` + D + `"`},
			{"xapp-1-A0123456789-0123456789-abcdef", "xapp-" + D},
			{"xoxb-", "xoxb-"},
			{"xoxo-123456789012-abcdef", "xoxo-123456789012-abcdef"},
			{"xoxb-short", "xoxb-short"},
		},
		"pattern:slack-webhook": {
			{"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
				"https://hooks.slack.com/services/" + D},
			{"https://hooks.slack.com/services/", "https://hooks.slack.com/services/"},
		},
		"pattern:stripe-key": {
			{"sk_live_" + st24, "sk_live_" + D},
			{"Authorization-ish sk_test_" + st24, "Authorization-ish sk_test_" + D},
			{"rk_live_" + st24, "rk_live_" + D},
			{"whsec_" + st24, "whsec_" + D},
			{"pk_live_" + st24, "pk_live_" + st24}, // publishable: public by design
			{"risk_live_" + st24, "risk_live_" + st24},
			{"sk_live_short", "sk_live_short"},
		},
		"pattern:npm-token": {
			{"registry npm_" + gh36 + " ok", "registry npm_" + D + " ok"},
			{"npm_" + gh36, "npm_" + D},
			{"npm_install", "npm_install"},
			{"npm_" + gh36 + "0", "npm_" + gh36 + "0"},
		},
		"pattern:pypi-token": {
			{"password = pypi-AgEIcHlwaS5vcmc" + fake("CJDUx-_9", 60), "password = pypi-AgEIcHlwaS5vcmc" + D},
			{"pypi-AgEIcHlwaS5vcmc", "pypi-AgEIcHlwaS5vcmc"},
		},
		"pattern:ai-api-key": {
			{"sk-proj-" + fake("Ab3_-x", 48), "sk-proj-" + D},
			{"sk-ant-api03-" + fake("Zq9-_k", 90), "sk-ant-" + D},
			{"sk-proj-x", "sk-proj-x"},
			{"task-project", "task-project"},
		},
		"pattern:sendgrid-key": {
			{"SG." + fake("aB3-_", 22) + "." + fake("Xy9-_", 43), "SG." + D},
			{"SG.example.com", "SG.example.com"},
		},
		"pattern:private-key": {
			{"-----BEGIN RSA PRIVATE KEY-----\n" + pem + "-----END RSA PRIVATE KEY-----\n",
				"-----BEGIN RSA PRIVATE KEY-----" + D + "-----END RSA PRIVATE KEY-----\n"},
			{`{"key":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n"}`,
				`{"key":"-----BEGIN PRIVATE KEY-----` + D + `-----END PRIVATE KEY-----\n"}`},
			{"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA", "-----BEGIN OPENSSH PRIVATE KEY-----" + D},
			{"-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
				"-----BEGIN PGP PRIVATE KEY BLOCK-----" + D + "-----END PGP PRIVATE KEY BLOCK-----"},
			{"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
			{"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"},
		},
		"pattern:url-password": {
			{"postgres://app:s3cret@db:5432/x", "postgres://app:" + D + "@db:5432/x"},
			{"https://user:p@ss@host/x", "https://user:" + D + "@host/x"},                       // raw '@' in the password
			{"https://x0a1b2c3d4e5f6a7b8c9d0@gitserver/o/r", "https://" + D + "@gitserver/o/r"}, // a token as the user
			{`{"u":"https:\/\/u:pw123@h\/x"}`, `{"u":"https:\/\/u:` + D + `@h\/x"}`},
			{"next=https%3A%2F%2Fu%3Apw123%40h%2Fx&y=1", "next=https%3A%2F%2Fu%3A" + D + "%40h%2Fx&y=1"},
			{"Referer https://bob:hunter2@intranet/a", "Referer https://bob:" + D + "@intranet/a"},
			{"https://host:8080/a@b", "https://host:8080/a@b"},
			{"ssh://git@gitserver/o/r", "ssh://git@gitserver/o/r"},
			{"https://x-access-token-holder@gitserver/", "https://x-access-token-holder@gitserver/"}, // no digit
			{"https://host/?q=a:b@c", "https://host/?q=a:b@c"},
			{"next=https%3A%2F%2Fhost%2Fa%40b", "next=https%3A%2F%2Fhost%2Fa%40b"},
			{"time 10:30://x", "time 10:30://x"},
		},
	}
	all := Default()
	for rule, cs := range cases {
		if !slices.Contains(BuiltinNames(), rule) {
			t.Fatalf("no built-in rule %s", rule)
		}
		without, err := New(WithRules(Rules{Disable: []string{rule}}))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if got := all.Text(c.in); got != c.want {
				t.Errorf("%s: Text(%q)\n got %q\nwant %q", rule, c.in, got, c.want)
			}
			b := []byte(c.in)
			all.MaskInPlace(b)
			if len(b) != len(c.in) {
				t.Errorf("%s: MaskInPlace(%q) changed the length", rule, c.in)
			}
			if c.want == c.in {
				if string(b) != c.in {
					t.Errorf("%s: MaskInPlace(%q) = %q, want unchanged", rule, c.in, b)
				}
				continue
			}
			if string(b) == c.in {
				t.Errorf("%s: MaskInPlace(%q) masked nothing", rule, c.in)
			}
			// A value the header rule takes is masked either way.
			if !strings.HasPrefix(c.in, "PRIVATE-TOKEN") && without.Text(c.in) == c.want {
				t.Errorf("%s disabled: %q still masked, the case tests another rule", rule, c.in)
			}
		}
	}
}

// TestNoFalsePositivesOnOrdinaryText runs ordinary text that resembles
// the new shapes through every rule: none of it may change.
func TestNoFalsePositivesOnOrdinaryText(t *testing.T) {
	m := Default()
	for _, s := range []string{
		"signal=3&assign=me&design=flat&sigma=2&signed=1&SignatureVersion=2&SignatureMethod=HmacSHA256",
		"X-Amz-SignedHeaders=host&X-Amz-Date=20260101T000000Z&X-Amz-Algorithm=AWS4-HMAC-SHA256",
		`{"id":"7f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f","name":"Aizawa","task":"sk-learn","note":"ghp is fine"}`,
		"request 123e4567-e89b-12d3-a456-426614174000 from Aizawa at https://example.com:8443/a/b?c=d",
		"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n",
		"npm_config_cache=/tmp xoxo-hugs glpat-docs SG.prod sk_live_mode=true whsec_ api%20version=2 100%25=full",
		"Content-Disposition: form-data; name=comment\r\n\r\nhello\r\n--b--\r\n",
	} {
		if got := m.Text(s); got != s {
			t.Errorf("ordinary text was masked:\n in %q\nout %q", s, got)
		}
	}
}

// TestSignatureParams pins which parameter names the signature rules
// treat as secret.
func TestSignatureParams(t *testing.T) {
	m := Default()
	sc := &scratch{}
	for name, want := range map[string]bool{
		"sig": true, "Sig": true, "SIG": true, "request_sig": true, "hmacSig": true,
		"signature": true, "Signature": true, "X-Amz-Signature": true, "X-Goog-Signature": true,
		"oauth_signature": true, "x-amz-signature": true,
		"signal": false, "sigma": false, "signed": false, "design": false, "assign": false, "msig": false,
		"SignatureVersion": false, "SignatureMethod": false, "X-Amz-SignedHeaders": false, "signatures": false,
		"config": false, "signature_method": false,
	} {
		if got := m.secretParam(sc, []byte(name), false); got != want {
			t.Errorf("param %q: secret=%v, want %v", name, got, want)
		}
	}
	for rule, q := range map[string]string{"param:sig": "sig=abc123", "param:signature": "X-Amz-Signature=abc123"} {
		without, err := New(WithRules(Rules{Disable: []string{rule}}))
		if err != nil {
			t.Fatal(err)
		}
		if m.Text(q) == q || without.Text(q) != q {
			t.Errorf("%s: %q masked by default %q, disabled %q", rule, q, m.Text(q), without.Text(q))
		}
	}
}

// TestDisableNewRulesFromYAML turns new rules off through a rules file,
// as users do, and checks only those rules stop masking.
func TestDisableNewRulesFromYAML(t *testing.T) {
	r, err := LoadRules(strings.NewReader("disable:\n  - pattern:github-token\n  - param:sig\n  - pattern:private-key\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(WithRules(r))
	if err != nil {
		t.Fatal(err)
	}
	gh := "ghp_" + fake("a1B2c3D4e5", 36)
	pem := "-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----"
	for _, s := range []string{gh, "sig=abc123", pem} {
		if got := m.Text(s); got != s {
			t.Errorf("disabled rule still masks %q: %q", s, got)
		}
	}
	for _, s := range []string{"signature=abc123", "xoxb-1234567890-abcdef", "sk_live_" + fake("51HxyZq8", 24)} {
		if got := m.Text(s); got == s {
			t.Errorf("rule left enabled no longer masks %q", s)
		}
	}
}

// TestUnescapeHelpers pins the in-place decoders on malformed input,
// which must come through unchanged rather than be misread.
func TestUnescapeHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"api%5Fkey": "api_key", "%zz": "%zz", "a%5": "a%5", "%": "%", "%41%42": "AB", "100%": "100%",
	} {
		if got := string(unescapePercent([]byte(in))); got != want {
			t.Errorf("unescapePercent(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		`p\u0061ssword`: "password", `\u00e9t\u00E9`: "été", `a\"b`: `a"b`, `a\\u0061`: `a\u0061`,
		`\u12`: `\u12`, `\uzzzz`: `\uzzzz`, `x\`: `x\`, `\ud800`: "\uFFFD",
	} {
		if got := string(unescapeJSON([]byte(in))); got != want {
			t.Errorf("unescapeJSON(%q) = %q, want %q", in, got, want)
		}
	}
}
