package streammask

import "hash/maphash"

// Bounds of a tracker's memo.
const (
	// memoMaxUnit is the longest unit whose verdict is remembered.
	memoMaxUnit = 256 << 10
	// memoMaxBytes bounds the unit bytes the memo holds as keys; past
	// it the memo starts again empty.
	memoMaxBytes = 4 << 20
	// memoMaxSeen bounds the hashes of units seen once.
	memoMaxSeen = 1 << 16
	// memoMaxRecipes bounds the remembered filler recipes.
	memoMaxRecipes = 1 << 12
	// memoMaxShared bounds the filler bytes that shared recipes keep
	// for pass two (fillRecipe.bytes).
	memoMaxShared = 4 << 20
	// memoMinText is the shortest text whose verdict is looked up:
	// scanning a shorter one costs about what the lookup does.
	memoMinText = 64
	// memoText is the memo key of text units (codings are never empty).
	memoText = ""
)

// memo remembers what checking a unit found, by its bytes: a server
// sends the same bodies again and again (the same gzip'd JSON to every
// client), and inflating and scanning each copy was two thirds of pass
// one. Only units whose check depends on nothing but their bytes and
// their coding are remembered (HTTP bodies and gRPC messages with a
// named coding; not permessage-deflate, whose window carries over). A
// unit's bytes are kept as the key only once they are seen a second
// time, so captures of distinct bodies cost a hash per unit and nothing
// more. Equal compressed units overwritten whole share one fillRecipe,
// and recipes shared this way keep their filler once made (bounded), so
// pass two makes it once instead of once per unit.
//
// What the memo holds never changes what is found, only how often it is
// computed: its bounds need not be the same for every tracker.
type memo struct {
	seed   maphash.Seed
	seeded bool
	seen   map[uint64]struct{}
	// done holds remembered verdicts by the hash of their key and
	// bytes; an entry answers only for the same key and bytes (one
	// hash per lookup: a map keyed by the bytes hashed them again).
	done    map[uint64]memoEntry
	held    int
	recipes map[recipeKey]recipeMemo
	shared  int
}

type memoEntry struct {
	key, b string
	v      verdict
}

// sum hashes a unit's memo key and bytes.
func (m *memo) sum(key string, b []byte) uint64 {
	if !m.seeded {
		m.seed, m.seeded = maphash.MakeSeed(), true
	}
	s := maphash.Bytes(m.seed, b)
	if key != "" {
		s ^= maphash.String(m.seed, key) * 0x9e3779b97f4a7c15
	}
	return s
}

// verdict is what checking a unit found.
type verdict struct {
	undecodable bool
	secret      bool
	n           int // decompressed length
	// masked is what the masker made of a text with a secret (memoText);
	// it must not be modified.
	masked []byte
}

type recipeKey struct {
	coding string
	head   [2]byte
	m, n   int
}

type recipeMemo struct {
	r *fillRecipe // nil: the filler could not be made
}

// lookup returns the verdict remembered for b under key, if any. When
// there is none it says whether b was seen before (so its verdict
// should be remembered).
func (m *memo) lookup(key string, b []byte) (v verdict, hit, again bool) {
	if len(b) > memoMaxUnit {
		return verdict{}, false, false
	}
	sum := m.sum(key, b)
	if e, ok := m.done[sum]; ok && e.key == key && e.b == string(b) {
		return e.v, true, false
	}
	if _, ok := m.seen[sum]; ok {
		return verdict{}, false, true
	}
	if m.seen == nil || len(m.seen) >= memoMaxSeen {
		m.seen = make(map[uint64]struct{})
	}
	m.seen[sum] = struct{}{}
	return verdict{}, false, false
}

// remember keeps v as the verdict for b under key.
func (m *memo) remember(key string, b []byte, v verdict) {
	if m.done == nil || m.held+len(b)+len(v.masked) > memoMaxBytes {
		m.done, m.held = make(map[uint64]memoEntry), 0
	}
	m.done[m.sum(key, b)] = memoEntry{key: key, b: string(b), v: v}
	m.held += len(b) + len(v.masked)
}

// recipe returns the recipe (nil when the filler cannot be made) for a
// compressed unit orig of the given memo key that decompressed to n
// bytes, making it with filler the first time.
func (m *memo) recipe(key string, filler func([]byte, int) []byte, orig []byte, n int) (*fillRecipe, []byte) {
	k := recipeKey{coding: key, m: len(orig), n: n}
	copy(k.head[:], orig)
	if rm, ok := m.recipes[k]; ok {
		if rm.r != nil && !rm.r.share && m.shared+rm.r.m <= memoMaxShared {
			rm.r.share = true
			m.shared += rm.r.m
		}
		return rm.r, nil
	}
	var r *fillRecipe
	f := filler(orig, n)
	if len(f) == len(orig) {
		r = &fillRecipe{filler: filler, m: len(orig), n: n, head: k.head}
	} else {
		f = nil
	}
	if m.recipes == nil || len(m.recipes) >= memoMaxRecipes {
		m.recipes = make(map[recipeKey]recipeMemo)
	}
	m.recipes[k] = recipeMemo{r: r}
	return r, f
}

// maskText returns what the masker makes of b (b itself when it changes
// nothing; the result must not be modified), remembering what it makes
// of texts seen twice: a client sends the same request head again and
// again, a server the same response head (its Date changes once a
// second) and the same plain bodies, some of them with a secret.
func (t *Tracker) maskText(b []byte) []byte {
	if len(b) < memoMinText {
		return t.m.Bytes(b)
	}
	v, hit, again := t.memo.lookup(memoText, b)
	if hit {
		if v.secret {
			return v.masked
		}
		return b
	}
	masked := t.m.Bytes(b)
	if again && len(masked) > 0 {
		if &masked[0] == &b[0] {
			t.memo.remember(memoText, b, verdict{})
		} else {
			t.memo.remember(memoText, b, verdict{secret: true, masked: masked})
		}
	}
	return masked
}
