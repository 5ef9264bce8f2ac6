package jsonl

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/dns"
	"github.com/tapview/tapview/decode/mask"
)

// dnsTXTResponse builds a DNS response on the wire with TXT answers (one
// record of two character-strings) and an A answer, so the test sees the
// answers in the form the DNS decoder prints them.
func dnsTXTResponse(t *testing.T, txt ...[]string) []byte {
	t.Helper()
	name := dnsmessage.MustNewName("cfg.example.com.")
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 9, Response: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	if err := b.Question(dnsmessage.Question{Name: name, Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	if err := b.StartAnswers(); err != nil {
		t.Fatal(err)
	}
	rh := dnsmessage.ResourceHeader{Name: name, Class: dnsmessage.ClassINET, TTL: 60}
	for _, s := range txt {
		if err := b.TXTResource(rh, dnsmessage.TXTResource{TXT: s}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.AResource(rh, dnsmessage.AResource{A: [4]byte{192, 0, 2, 7}}); err != nil {
		t.Fatal(err)
	}
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestMaskedDNSAnswers writes a DNS exchange whose TXT answers carry
// secrets through the JSON writer with the default masker: dns_answers
// must hold none of them, keep the record shape and the harmless
// answers, and print them all with masking off.
func TestMaskedDNSAnswers(t *testing.T) {
	secrets := []string{
		"hunter2-Pa55", // password= parameter
		"ops.lead",     // e-mail local part
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", // JWT
		"tok_9f8e7d6c5b4a3210",                      // bearer token
		"Jq3vX9kLmN2pR7sT0wYz1aB4cD6eF8gH5iK",       // Google API key body
		"R8mZc2LqW5xT9vB3nY7kP1sD4fG6hJ0aQeUo",      // GitHub token body
	}
	msg := dnsTXTResponse(t,
		[]string{"v=spf1 include:_spf.example.com ~all"},
		[]string{"password=" + secrets[0], "key Bearer " + secrets[3]},
		[]string{"contact " + secrets[1] + "@example.com"},
		[]string{"session " + secrets[2]},
		[]string{"maps AIza" + secrets[4], "ci ghp_" + secrets[5]},
	)
	info, err := dns.Summary(msg)
	if err != nil {
		t.Fatal(err)
	}
	e := &decode.Exchange{ID: 1, Proto: "dns", DNS: info, State: decode.Complete}

	write := func(m *mask.Masker) (line string, answers []string) {
		var out bytes.Buffer
		w := NewWriter(&out, Options{Mask: m.Exchange})
		w.Exchange(e)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Answers []string `json:"dns_answers"`
		}
		if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &rec); err != nil {
			t.Fatalf("invalid JSON line %q: %v", out.String(), err)
		}
		return out.String(), rec.Answers
	}

	line, answers := write(mask.Default())
	for _, s := range secrets {
		if strings.Contains(line, s) {
			t.Errorf("secret %q survives in the masked JSON line: %s", s, line)
		}
	}
	if len(answers) != 6 {
		t.Fatalf("masked dns_answers has %d entries, want 6: %q", len(answers), answers)
	}
	want := []string{
		`TXT "v=spf1 include:_spf.example.com ~all"`,
		`TXT "password=` + mask.Display + `" "key Bearer ` + mask.Display + `"`,
		`TXT "contact ` + mask.Display + `@example.com"`,
		`TXT "session ` + mask.Display + `"`,
		`TXT "maps AIza` + mask.Display + `" "ci ghp_` + mask.Display + `"`,
		"A 192.0.2.7",
	}
	for i := range want {
		if answers[i] != want[i] {
			t.Errorf("answer %d:\n got %s\nwant %s", i, answers[i], want[i])
		}
	}
	if info.Answers[1] == answers[1] {
		t.Error("the masker changed the decoded exchange instead of a copy")
	}

	line, _ = write(nil)
	for _, s := range secrets {
		if !strings.Contains(line, s) {
			t.Errorf("secret %q missing with masking off: %s", s, line)
		}
	}
}
