package packets

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode/mask"
)

// TestCleanMemo checks that values the masker leaves alone are
// remembered and answered from the memo, that values holding a secret
// are found every time (never remembered), that a memo of Bytes does
// not answer for Text, that a value longer than a slot is not kept and
// that the newest of many values is (the table's fixed size is checked
// in internal/cleanmemo).
func TestCleanMemo(t *testing.T) {
	p := NewPlan(true, mask.Default())
	fp := p.flow(1)
	clean := []byte("Content-Type: application/json\r\n")
	secret := []byte("Authorization: Bearer Zq8vLk2PwX0tYb7nRc4MhJ5d\r\n")
	for i := range 3 {
		if p.valueSecrets(fp, 0, clean, 14, len(clean)-2) {
			t.Fatalf("round %d: a secret in %q", i, clean)
		}
		if !p.clean.Has(memoBytes, clean) {
			t.Fatalf("round %d: %q not remembered", i, clean)
		}
		if p.clean.Has(memoText, clean) {
			t.Fatalf("round %d: %q remembered for Text too", i, clean)
		}
		fp.secrets = nil
		if !p.valueSecrets(fp, 0, secret, 15, len(secret)-2) {
			t.Fatalf("round %d: no secret found in %q", i, secret)
		}
		if len(fp.secrets) != 1 || !bytes.Contains(secret, fp.secrets[0].b) || !strings.Contains(string(fp.secrets[0].b), "Zq8vLk2P") {
			t.Fatalf("round %d: secrets %q", i, fp.secrets)
		}
		if p.clean.Has(memoBytes, secret) {
			t.Fatalf("round %d: a value with a secret was remembered as clean", i)
		}
	}
	// A different line of the same length in the same slot is not
	// taken for the remembered one.
	other := []byte("Content-Type: application/jsoN\r\n")
	if p.clean.Has(memoBytes, other) {
		t.Fatalf("%q answered as remembered", other)
	}
	long := bytes.Repeat([]byte("x"), p.clean.MaxLen()+1)
	p.valueSecrets(fp, 0, long, 0, len(long))
	if p.clean.Has(memoBytes, long) {
		t.Errorf("a value longer than a slot was remembered")
	}
	for i := range 4 * cleanSlots {
		p.valueSecrets(fp, 0, []byte(fmt.Sprintf("X-Request-Seq: %d\r\n", i)), 15, 20)
	}
	if line := []byte(fmt.Sprintf("X-Request-Seq: %d\r\n", 4*cleanSlots-1)); !p.clean.Has(memoBytes, line) {
		t.Errorf("the newest value %q is not remembered", line)
	}
}

// TestMaskTextMemo checks that a summary's URL is masked the same when
// its parts come from the memo: a clean target is returned as is, one
// with a secret masked every time.
func TestMaskTextMemo(t *testing.T) {
	p := NewPlan(true, mask.Default())
	m := mask.Default()
	for _, s := range []string{"/api/orders/2.json", "/login?api_key=Zq8vLk2PwX0tYb7nRc4MhJ5d&lang=en", "example.com", ""} {
		for i := range 3 {
			if got, want := p.maskText(s), m.Text(s); got != want {
				t.Fatalf("round %d: maskText(%q) = %q, want %q", i, s, got, want)
			}
		}
	}
}
