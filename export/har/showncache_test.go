package har

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestShownCacheSameAsUncached shows many bodies, repeated in random
// order so that sets overflow, hits come from both slots and a body
// shown as text and as base64 shares a set, and checks every result
// against showing without the cache.
func TestShownCacheSameAsUncached(t *testing.T) {
	var bodies [][]byte
	for i := range 400 {
		b := fmt.Appendf(nil, `{"id":%d,"name":"user \"%d\""}`, i, i%7)
		if i%5 == 0 {
			b = append(b, 0, 1, 2) // not text: base64
		}
		bodies = append(bodies, b)
	}
	bodies = append(bodies, bytes.Repeat([]byte("x"), shownCacheIn+1)) // too large to keep
	var c shownCache
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		data := bodies[rng.IntN(len(bodies))]
		textOK := rng.IntN(4) > 0
		want := appendShown([]byte("pre"), data, textOK)
		got := c.appendShown([]byte("pre"), data, textOK)
		if !bytes.Equal(got, want) {
			t.Fatalf("body %.40q (text allowed %v):\n got %.80s\nwant %.80s", data, textOK, got, want)
		}
	}
	kept := 0
	for _, set := range c.sets {
		for _, s := range set.slots {
			if s.data != nil {
				kept++
			}
		}
	}
	if kept < len(c.sets) {
		t.Errorf("only %d bodies kept in %d sets", kept, len(c.sets))
	}
}
