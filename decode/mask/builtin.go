package mask

// builtin is a rule that ships with tapview. Name rules carry a matcher
// that understands naming conventions (snake_case, camelCase, dashes)
// better than a regular expression would; pattern rules carry a
// hand-written scanner, fast enough to run over every payload.
type builtin struct {
	Rule
	names func(name []byte) bool
	find  finder
	// tokens are vendor-token shapes; New joins those of all enabled
	// rules into one tokenSet, which searches for them together.
	tokens []*tokenShape
}

// builtins returns the built-in rules in a stable order. It builds them
// per call so no package state exists to be mutated.
func builtins() []builtin {
	exact := func(n string) func([]byte) bool {
		return func(name []byte) bool { return equalFold(name, n) }
	}
	loose := func(term string) func([]byte) bool {
		return func(name []byte) bool { return containsLoose(name, term) }
	}
	word := func(terms ...string) func([]byte) bool {
		return func(name []byte) bool {
			for _, t := range terms {
				if hasWord(name, t) {
					return true
				}
			}
			return false
		}
	}
	// The name ends with the word: "sig", "request_sig", "hmacSig".
	last := func(term string) func([]byte) bool {
		return func(name []byte) bool {
			i := len(name) - len(term)
			if i < 0 || !matchFoldAt(name, i, term) {
				return false
			}
			return i == 0 || !isLetter(name[i-1]) || isUpper(name[i]) && isLower(name[i-1])
		}
	}
	h := func(name string, f func([]byte) bool) builtin {
		return builtin{Rule: Rule{Name: "header:" + name, Kind: KindHeader, Match: name}, names: f}
	}
	p := func(name string, f func([]byte) bool) builtin {
		return builtin{Rule: Rule{Name: "param:" + name, Kind: KindParam, Match: name}, names: f}
	}
	pat := func(name string, f finder) builtin {
		return builtin{Rule: Rule{Name: "pattern:" + name, Kind: KindPattern}, find: f}
	}
	tok := func(name string, shapes ...*tokenShape) builtin {
		return builtin{Rule: Rule{Name: "pattern:" + name, Kind: KindPattern}, tokens: shapes}
	}
	return []builtin{
		h("authorization", exact("authorization")),
		h("proxy-authorization", exact("proxy-authorization")),
		h("cookie", exact("cookie")),
		h("set-cookie", exact("set-cookie")),
		h("x-api-key", exact("x-api-key")),
		h("x-auth-token", exact("x-auth-token")),
		// Any header whose name contains one of these words.
		h("token", loose("token")),
		h("secret", loose("secret")),
		h("password", loose("password")),
		h("api-key", loose("apikey")),

		// password, new_password, userPassword; passwd; client_secret,
		// secretKey, secrets.
		p("password", loose("password")),
		p("passwd", loose("passwd")),
		p("secret", loose("secret")),
		// token, access_token, idToken, x-csrf-token; not max_tokens.
		p("token", word("token")),
		p("access_token", loose("accesstoken")),
		p("api_key", loose("apikey")),
		p("client_secret", loose("clientsecret")),
		p("ssn", word("ssn")),
		p("card", word("card", "pan")),
		p("cvv", word("cvv", "cvc", "cvv2", "cvc2")),
		// Signatures of pre-signed URLs and signed requests: whoever has
		// the URL has the access until it expires. sig, oauth_signature,
		// X-Amz-Signature, X-Goog-Signature; not signal, SignatureVersion.
		p("sig", last("sig")),
		p("signature", last("signature")),

		pat("bearer", findBearer),
		pat("jwt", findJWT),
		pat("aws-key", findAWSKey),
		pat("card", findCard),
		pat("email", findEmail),
		pat("url-password", findURLPassword),
		// Vendor tokens with fixed prefixes (tokens.go); the prefix stays.
		tok("google-api-key", &googleKey),
		tok("github-token", &githubToken, &githubPAT),
		tok("gitlab-token", &gitlabToken),
		tok("slack-token", &slackToken),
		tok("slack-webhook", &slackWebhook),
		tok("stripe-key", &stripeKey),
		tok("npm-token", &npmToken),
		tok("pypi-token", &pypiToken),
		tok("ai-api-key", &aiKey),
		tok("sendgrid-key", &sendgridKey),
		pat("private-key", findPrivateKey),
		pat("sql-password", findSQLPassword),
	}
}

// BuiltinNames lists the names of the built-in rules, for help text and
// for rules files that disable some of them.
func BuiltinNames() []string {
	bs := builtins()
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Name
	}
	return out
}

// isSep reports whether c separates words in a name.
func isSep(c byte) bool { return c == '_' || c == '-' || c == '.' || c == ' ' || c == '[' || c == ']' }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isUpper(c byte) bool  { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool  { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return isUpper(c) || isLower(c) }
func isAlnum(c byte) bool  { return isLetter(c) || isDigit(c) }

func equalFold[T string | []byte](a T, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// containsLoose reports whether name contains term (lower-case letters)
// ignoring case and word separators: "X-Api-Key", "api_key" and "apiKey"
// all contain "apikey".
func containsLoose(name []byte, term string) bool {
	for i := 0; i < len(name); i++ {
		if lower(name[i]) != term[0] {
			continue
		}
		j, k := i+1, 1
		for k < len(term) && j < len(name) {
			c := name[j]
			if isSep(c) {
				j++
				continue
			}
			if lower(c) != term[k] {
				break
			}
			j++
			k++
		}
		if k == len(term) {
			return true
		}
	}
	return false
}

// hasWord reports whether term (lower-case) is a whole word of name:
// delimited by separators, digits, the ends, or a camelCase boundary.
// "cardNumber", "credit_card" and "CARD" have the word "card";
// "discard" and "cards" do not.
func hasWord(name []byte, term string) bool {
	n := len(term)
	for i := 0; i+n <= len(name); i++ {
		if !matchFoldAt(name, i, term) {
			continue
		}
		seg := name[i : i+n]
		startOK := i == 0 || !isLetter(name[i-1]) || isUpper(seg[0]) && isLower(name[i-1])
		end := i + n
		endOK := end == len(name) || !isLetter(name[end]) || isUpper(name[end]) && !isUpper(seg[n-1])
		if startOK && endOK {
			return true
		}
	}
	return false
}

func matchFoldAt(s []byte, i int, term string) bool {
	for k := 0; k < len(term); k++ {
		if lower(s[i+k]) != term[k] {
			return false
		}
	}
	return true
}
