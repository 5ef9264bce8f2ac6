package jsonword

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// plain is the byte loop's test: what Plain8 must agree with.
func plain(c byte) bool { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' }

// TestPlain8 checks the word test against the byte test on every byte
// value in every position of words otherwise plain (alone and next to a
// 0xff that could carry or borrow into it), and on random words.
func TestPlain8(t *testing.T) {
	check := func(w []byte) {
		t.Helper()
		want := true
		for _, c := range w {
			want = want && plain(c)
		}
		if got := Plain8(Load8(string(w), 0)); got != want {
			t.Fatalf("Plain8(%q) = %v, want %v", w, got, want)
		}
		if Load8(string(w), 0) != binary.LittleEndian.Uint64(w) || Load8Bytes(w, 0) != binary.LittleEndian.Uint64(w) {
			t.Fatal("Load8 is not a little-endian load")
		}
	}
	for pos := range 8 {
		for c := range 256 {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			check(w)
			w[(pos+1)%8] = 0xff
			check(w)
			w[(pos+1)%8] = 0x00
			check(w)
		}
	}
	for _, s := range []string{"\xff\x00aaaaaa", "\x00\xffaaaaaa", "a\x1f\x20aaaaa", "\x7f\x7e\x80aaaaa", "!#\"\\aaaa"} {
		check([]byte(s))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		w := make([]byte, 8)
		for i := range w {
			if r.IntN(4) == 0 {
				w[i] = byte(r.IntN(256))
			} else {
				w[i] = byte(0x20 + r.IntN(0x5f))
			}
		}
		check(w)
	}
}
