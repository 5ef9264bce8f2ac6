package mask

import "bytes"

// tokenShape describes credentials that vendors issue with a fixed,
// documented prefix: the prefix is what makes them safe to look for in
// any text (no context needed, few false positives), and it stays
// readable after masking because it says what kind of credential was
// there. Only the part after the prefix is masked.
type tokenShape struct {
	prefixes []string
	body     func(c byte) bool // characters of the part after the prefix
	min, max int               // length of that part
	// trimDot drops trailing dots from the body: the body alphabet has
	// '.', and a token at the end of a sentence is followed by one.
	trimDot bool
}

func isAlnumUnderscore(c byte) bool { return isAlnum(c) || c == '_' }
func isAlnumDash(c byte) bool       { return isAlnum(c) || c == '-' }
func isB64URLDot(c byte) bool       { return isB64URL(c) || c == '.' }

// Shapes of the built-in token rules. Lengths follow the vendors'
// published formats, with room where a vendor has said tokens may grow.
var (
	// Google API keys: "AIza" and 35 base64url characters.
	googleKey = tokenShape{prefixes: []string{"AIza"}, body: isB64URL, min: 35, max: 35}
	// GitHub: classic personal, OAuth, user-to-server, server-to-server
	// and refresh tokens (prefix and 36 base62 characters), and
	// fine-grained personal tokens ("github_pat_" and 82 characters).
	githubToken = tokenShape{prefixes: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, body: isAlnum, min: 36, max: 255}
	githubPAT   = tokenShape{prefixes: []string{"github_pat_"}, body: isAlnumUnderscore, min: 40, max: 255}
	// GitLab personal, deploy, runner, trigger, feed, SCIM, OAuth app
	// and incoming-mail tokens; routable tokens add dots.
	gitlabToken = tokenShape{prefixes: []string{"glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glsoat-", "gloas-", "glimt-"},
		body: isB64URLDot, min: 20, max: 255, trimDot: true}
	// Slack bot, user, app-level, refresh and legacy tokens.
	slackToken = tokenShape{prefixes: []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-", "xapp-"},
		body: isAlnumDash, min: 10, max: 255}
	// Slack incoming webhooks: the path after /services/ is the secret.
	slackWebhook = tokenShape{prefixes: []string{"hooks.slack.com/services/"}, body: func(c byte) bool { return isAlnum(c) || c == '/' },
		min: 20, max: 128}
	// Stripe secret and restricted keys (live and test) and webhook
	// signing secrets. Publishable keys (pk_) are public by design.
	stripeKey = tokenShape{prefixes: []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"}, body: isAlnum, min: 16, max: 255}
	// npm access tokens: "npm_" and 36 base62 characters.
	npmToken = tokenShape{prefixes: []string{"npm_"}, body: isAlnum, min: 36, max: 36}
	// PyPI API tokens are macaroons whose base64 always starts the same.
	pypiToken = tokenShape{prefixes: []string{"pypi-AgEIcHlwaS5vcmc"}, body: isB64URL, min: 40, max: 1024}
	// OpenAI project, service-account and admin keys; Anthropic keys.
	aiKey = tokenShape{prefixes: []string{"sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-"}, body: isB64URL, min: 32, max: 255}
	// SendGrid: "SG." then a 22-character id, a dot and a 43-character
	// secret.
	sendgridKey = tokenShape{prefixes: []string{"SG."}, body: isB64URLDot, min: 66, max: 66}
)

// tokenPrefix is one prefix of an enabled shape, placed in a tokenSet.
type tokenPrefix struct {
	p      []byte
	anchor int // index in p of its first '_' or '-', or -1
	shape  *tokenShape
}

// tokenSet finds the tokens of every enabled shape in one pass per
// separator instead of one search per prefix: nearly every prefix has a
// '_' or '-' ("ghp_", "xoxb-", "sk_live_"), so the vectorised search
// for those two bytes visits the few places a token can start, and the
// letter before the separator picks the one or two prefixes worth
// comparing. A date's "2019-03" or a snake_case word costs a table
// look-up. Prefixes without such a separator ("AIza", "SG.") are
// searched for on their own.
type tokenSet struct {
	sep   [2][256][]tokenPrefix // by separator ('_', '-'), then the byte before it
	other []tokenPrefix
}

var tokenSeps = [2]byte{'_', '-'}

func newTokenSet(shapes []*tokenShape) *tokenSet {
	ts := &tokenSet{}
	for _, sh := range shapes {
		for _, p := range sh.prefixes {
			tp := tokenPrefix{p: []byte(p), anchor: -1, shape: sh}
			for i := 1; i < len(p) && tp.anchor < 0; i++ {
				for k, c := range tokenSeps {
					if p[i] == c {
						tp.anchor = i
						ts.sep[k][p[i-1]] = append(ts.sep[k][p[i-1]], tp)
					}
				}
			}
			if tp.anchor < 0 {
				ts.other = append(ts.other, tp)
			}
		}
	}
	return ts
}

func (ts *tokenSet) find(b []byte, out []span) []span {
	for k, c := range tokenSeps {
		for j := 1; j < len(b); {
			n := bytes.IndexByte(b[j:], c)
			if n < 0 {
				break
			}
			j += n
			next := j + 1
			for _, tp := range ts.sep[k][b[j-1]] {
				s := j - tp.anchor
				if s >= 0 && s+len(tp.p) <= len(b) && bytes.Equal(b[s:s+len(tp.p)], tp.p) {
					if hi, ok := tp.shape.match(b, s, len(tp.p)); ok {
						out = append(out, span{s + len(tp.p), hi})
						next = hi
						break
					}
				}
			}
			j = max(next, j+1)
		}
	}
	for _, tp := range ts.other {
		for i := 0; ; {
			n := bytes.Index(b[i:], tp.p)
			if n < 0 {
				break
			}
			s := i + n
			i = s + len(tp.p)
			if hi, ok := tp.shape.match(b, s, len(tp.p)); ok {
				out = append(out, span{i, hi})
				i = hi
			}
		}
	}
	return out
}

// match reports whether a token of the shape starts at s, whose prefix
// (n bytes) is already known to be there, and where its body ends. The
// byte before the prefix must not be a letter or '_' (so "aizawa",
// "risk_live_" or "my_ghp_" are not tokens), but may be a digit or any
// other byte: in protobuf the byte before a string is its length.
func (t *tokenShape) match(b []byte, s, n int) (int, bool) {
	if s > 0 && (isLetter(b[s-1]) || b[s-1] == '_') {
		return 0, false
	}
	lo := s + n
	hi := lo
	for hi < len(b) && hi-lo <= t.max && t.body(b[hi]) {
		hi++
	}
	if t.trimDot {
		for hi > lo && b[hi-1] == '.' {
			hi--
		}
	}
	if l := hi - lo; l < t.min || l > t.max {
		return 0, false
	}
	return hi, true
}

// findPrivateKey masks the body of PEM private-key blocks ("-----BEGIN
// RSA PRIVATE KEY-----", OPENSSH, EC, ENCRYPTED, PGP ... BLOCK), in raw
// text and in JSON strings where line breaks are "\n". The BEGIN and END
// lines stay, so a reader sees that a key was there and of which kind.
// A block whose END is not in b (a key split across packets, a
// truncated body) is masked to the end of b.
func findPrivateKey(b []byte, out []span) []span {
	// "PRIVATE KEY" is searched for, not "-----BEGIN": dashes are common
	// (dates, header names), a capital P much less so.
	const begin, dashes = "-----BEGIN ", "-----"
	for i := 0; ; {
		k := bytes.Index(b[i:], []byte("PRIVATE KEY"))
		if k < 0 {
			return out
		}
		k += i
		i = k + len("PRIVATE KEY")
		bg := bytes.LastIndex(b[max(0, k-32):k], []byte(begin))
		if bg < 0 {
			continue // an END line, or prose about private keys
		}
		e := bytes.Index(b[i:min(len(b), i+16)], []byte(dashes))
		if e < 0 {
			continue
		}
		lo := i + e + len(dashes)
		hi := len(b)
		if end := bytes.Index(b[lo:], []byte("-----END ")); end >= 0 {
			hi = lo + end
		}
		if hi > lo {
			out = append(out, span{lo, hi})
		}
		i = max(hi, lo)
	}
}
