package jsonl

import (
	"math/rand/v2"
	"testing"
)

// TestQuoteSameAsShortPieces checks quote on long strings against
// quoting them in pieces shorter than a word (which never skip), joined:
// the same escapes, wherever a special byte or rune falls.
func TestQuoteSameAsShortPieces(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "Z", " ", "/", "\"", "\\", "\n", "\x00", "\x1f", "\x7f", "é", "日", "\u009b", "\u2028", "\u202e", "\xff", "\xe2\x80"}
	for range 20000 {
		var s string
		for k := r.IntN(40); k > 0; k-- {
			if r.IntN(3) == 0 {
				s += alphabet[r.IntN(len(alphabet))]
			} else {
				s += "plain-text"[:r.IntN(10)+1]
			}
		}
		got := string(quote(nil, s))
		want := []byte{'"'}
		// Cut at rune boundaries into pieces of at most 7 bytes.
		for i := 0; i < len(s); {
			j := min(i+7, len(s))
			for j < len(s) && j > i+1 && s[j]&0xc0 == 0x80 {
				j--
			}
			piece := quote(nil, s[i:j])
			want = append(want, piece[1:len(piece)-1]...)
			i = j
		}
		want = append(want, '"')
		if got != string(want) {
			t.Fatalf("quote(%q) = %s, pieces give %s", s, got, want)
		}
	}
}
