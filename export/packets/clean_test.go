package packets

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode/mask"
)

// TestCleanMemo checks that values the masker leaves alone are
// remembered and answered from the memo, that values holding a secret
// are found every time (never remembered), and that the memo starts
// again rather than grow past its bound.
func TestCleanMemo(t *testing.T) {
	p := NewPlan(true, mask.Default())
	fp := p.flow(1)
	clean := []byte("Content-Type: application/json\r\n")
	secret := []byte("Authorization: Bearer Zq8vLk2PwX0tYb7nRc4MhJ5d\r\n")
	for i := range 3 {
		if p.valueSecrets(fp, 0, clean, 14, len(clean)-2) {
			t.Fatalf("round %d: a secret in %q", i, clean)
		}
		if _, ok := p.clean[string(clean)]; !ok {
			t.Fatalf("round %d: %q not remembered", i, clean)
		}
		fp.secrets = nil
		if !p.valueSecrets(fp, 0, secret, 15, len(secret)-2) {
			t.Fatalf("round %d: no secret found in %q", i, secret)
		}
		if len(fp.secrets) != 1 || !bytes.Contains(secret, fp.secrets[0].b) || !strings.Contains(string(fp.secrets[0].b), "Zq8vLk2P") {
			t.Fatalf("round %d: secrets %q", i, fp.secrets)
		}
		if _, ok := p.clean[string(secret)]; ok {
			t.Fatalf("round %d: a value with a secret was remembered as clean", i)
		}
	}
	long := bytes.Repeat([]byte("x"), maxCleanValue)
	for i := range 2*maxCleanBytes/maxCleanValue + 1 {
		long[0] = byte(i)
		long[1] = byte(i >> 8)
		p.valueSecrets(fp, 0, long, 0, len(long))
		if p.cleanBytes > maxCleanBytes {
			t.Fatalf("memo holds %d bytes", p.cleanBytes)
		}
	}
	if len(p.clean) == 0 || len(p.clean) > maxCleanBytes/maxCleanValue {
		t.Errorf("memo holds %d values", len(p.clean))
	}
}
