package streammask

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode/mask"
)

// pemBody is a line of a PEM private key's body: clean on its own.
const pemBody = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\r\n"

// crossLines are lines each clean on its own that, next to each other,
// hold a secret a rule finds across the line break: a JSON member whose
// key, colon or value are on different lines, a PEM key, a multipart
// field, an SQL password. Each pair is (first, second).
var crossLines = [][2]string{
	{"X-A: x \"api_key\"\r\n", ": \"" + sToken + "\"\r\n"},
	{"X-B: \"client_secret\":\r\n", "  \"" + sToken + "\"\r\n"},
	{"X-C: \"access_token\": \r\n", "\t" + "12345678901234\r\n"},
	{"X-D: {\"client_secret\":\r\n", " {\"v\": \"" + sToken + "\"}}\r\n"},
	{"-----BEGIN RSA PRIVATE KEY-----\r\n", pemBody},
	{"Content-Disposition: form-data; name=\"token\"\r\n", "\r\n" + sToken + "\r\n"},
	{"X-Sql: ALTER USER bob IDENTIFIED BY\r\n", "'" + sToken + "'\r\n"},
	{"X-Sql2: SET password =\r\n", "'" + sToken + "'\r\n"},
}

// TestLineMemoNeverSkipsASecret sends heads whose clean lines get
// remembered, then heads where a remembered line comes back with a
// secret added, or next to a line that makes a secret across the line
// break, and checks that every secret is masked and the remembered
// lines were indeed remembered (so the memo was asked).
func TestLineMemoNeverSkipsASecret(t *testing.T) {
	const cached = "X-Note: see the docs at example.com for details\r\n"
	head := func(lines ...string) string {
		return "HTTP/1.1 200 OK\r\nServer: test\r\n" + strings.Join(lines, "") + "Content-Length: 0\r\n\r\n"
	}
	// Warm up: every line that comes back later, in clean heads.
	warm := []string{head(cached), head(cached), head(pemBody)}
	// Then: a remembered line with a secret added, and the first lines
	// of crossLines (remembered too) with their second lines. A blank
	// line would end the head, so pairs with one stay out.
	hot := []string{head(strings.TrimSuffix(cached, "\r\n") + " " + sJWT + "\r\n")}
	for _, p := range crossLines {
		if !strings.HasPrefix(p[1], "\r\n") {
			warm = append(warm, head(p[0]))
			hot = append(hot, head(p[0], p[1]))
		}
	}
	hot = append(hot, head("-----BEGIN RSA PRIVATE KEY-----\r\n", pemBody, "-----END RSA PRIVATE KEY-----\r\n"))
	h := newHarness(t)
	h.open()
	resps := append(append([]string(nil), warm...), hot...)
	for _, r := range resps {
		h.send(0, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 1460)
		h.send(1, []byte(r), 1460)
	}
	h.close()
	st, _ := h.masked()
	// Each head as the masker makes it whole.
	var exp []byte
	for _, r := range resps {
		exp = append(exp, mask.Default().Bytes([]byte(r))...)
	}
	if !bytes.Equal(st[1], exp) {
		t.Errorf("masked responses differ from each head masked whole:\n%q\nwant\n%q", st[1], exp)
	}
	nWarm := len(strings.Join(warm, ""))
	if n := len(strings.Join(warm[:3], "")); !bytes.Equal(st[1][:n], []byte(strings.Join(warm[:3], ""))) {
		t.Errorf("clean heads were changed: %q", st[1][:n])
	}
	for _, s := range []string{sJWT[37:], sToken, "12345678901234", pemBody[:40]} {
		mustHide(t, "heads with secrets", st[1][nWarm:], s)
	}
	mustKeep(t, "heads with secrets", st[1][nWarm:], "X-Note: see the docs", "X-A: x \"api_key\"")
	if !h.tr.lineMode || !h.tr.lines.Has(lineClean, []byte(cached)) || !h.tr.lines.Has(lineClean, []byte(pemBody)) || !h.tr.lines.Has(lineClean, []byte(crossLines[0][0])) {
		t.Errorf("line mode %v: the clean lines were not remembered", h.tr.lineMode)
	}
}

// checkLinesClean fails when linesClean calls b clean (after prev) and
// the masker changes it.
func checkLinesClean(t *testing.T, tr *Tracker, b []byte, prev *prevHead) bool {
	t.Helper()
	if !tr.linesClean(b, prev) {
		return false
	}
	if m := tr.m.Bytes(b); !bytes.Equal(m, b) {
		t.Fatalf("lines found clean one by one, but the masker changes the whole:\n%q\n%q", b, m)
	}
	return true
}

// TestLinesCleanAgreesWithTheMasker checks the claim maskHead rests on
// (lines clean on their own and without hazards make a clean text)
// over the heads in the recorded captures and over random heads made
// of their lines and of lines that make secrets across line breaks.
func TestLinesCleanAgreesWithTheMasker(t *testing.T) {
	tr := NewTracker(mask.Default())
	if !tr.lineMode {
		t.Fatal("the default masker has rules lineHazard does not know")
	}
	var pool [][]byte
	clean := 0
	var prev prevHead
	for _, b := range corpusHeads(t) {
		if checkLinesClean(t, tr, b, &prev) {
			clean++
		}
		for len(b) > 0 {
			l := nextLine(b)
			pool = append(pool, l)
			b = b[len(l):]
		}
	}
	if clean == 0 {
		t.Fatal("no corpus head is clean line by line")
	}
	for _, p := range crossLines {
		pool = append(pool, []byte(p[0]), []byte(p[1]))
		if checkLinesClean(t, tr, []byte(p[0]+p[1]), new(prevHead)) {
			t.Errorf("%q: found clean line by line", p[0]+p[1])
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 4000 {
		var b []byte
		for range 2 + rng.IntN(8) {
			b = append(b, pool[rng.IntN(len(pool))]...)
		}
		checkLinesClean(t, tr, b, &prev)
	}
}

// TestLineModeOffWithRulesFromAFile checks that a rules file's rules,
// which may match across lines, turn line-by-line masking off.
func TestLineModeOffWithRulesFromAFile(t *testing.T) {
	m, err := mask.New(mask.WithRules(mask.Rules{Add: []mask.Rule{{Name: "pattern:multi", Kind: mask.KindPattern, Regex: `alpha\s+beta`}}}))
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracker(m)
	if tr.lineMode {
		t.Fatal("line mode on with a rule from a file")
	}
	b := []byte("HTTP/1.1 200 OK\r\nX-A: alpha\r\n beta gamma delta epsilon zeta eta\r\n\r\n")
	if got := tr.maskHead(b, new(prevHead)); bytes.Equal(got, b) {
		t.Fatalf("a match across lines was not masked: %q", got)
	}
}

// FuzzLineClean checks the claim on random text, with a memo carried
// over from earlier inputs.
func FuzzLineClean(f *testing.F) {
	for _, p := range crossLines {
		f.Add([]byte(p[0] + p[1]))
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 07 Dec 2026 05:38:25 GMT\r\nETag: \"6b16464e-822\"\r\n\r\n"))
	tr := NewTracker(mask.Default())
	var prev prevHead
	f.Fuzz(func(t *testing.T, b []byte) { checkLinesClean(t, tr, b, &prev) })
}

// TestLineHazard lists lines that must and must not count as hazards.
func TestLineHazard(t *testing.T) {
	for _, l := range []string{
		"x: {\r\n", "a [b]\r\n", ": value\r\n", " \t: v\r\n", "X-K:\r\n", "\"k\": \r\n", "x PassWord y\r\n", "PASSWORD",
		"by iDentified\n", "-----BEGIN Private Key-----\r\n", "CONTENT-DISPOSITION: x\r\n", "content-disposition",
	} {
		if !lineHazard([]byte(l)) {
			t.Errorf("%q: no hazard", l)
		}
	}
	for _, l := range []string{
		"Server: nginx\r\n", "Date: Mon, 07 Dec 2026 05:38:25 GMT\r\n", "ETag: \"6b16464e-822\"\r\n", "\r\n", "",
		"X-Passwor: d\r\n", "Content-Type: text/plain\r\n", "X: pass word, identify, private, keys\r\n", "a:b\n",
	} {
		if lineHazard([]byte(l)) {
			t.Errorf("%q: a hazard", l)
		}
	}
}
