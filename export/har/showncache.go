package har

import (
	"bytes"
	"hash/maphash"
)

// shownCache remembers how response bodies were shown — the JSON string
// of their text, or their base64 with the encoding field — by content,
// from entry to entry. Captured traffic repeats bodies (an API's JSON
// document to every client, health checks, static assets), and a JSON
// body is the most expensive text to quote: every '"' in it needs an
// escape. A hit costs a hash, a compare and a copy.
//
// A body is kept on its second sighting only (a set remembers the hash
// of the last body it missed), so a capture of all-different bodies
// pays for hashing but not for copies. Keys are the shown bytes, compared
// in full, and whether text was allowed; bodies up to shownCacheIn
// bytes are kept, in shownCacheSets sets of two: at most about 6 MiB
// per Encoder (a kept JSON string is at most about twice its body).
type shownCache struct {
	seed maphash.Seed
	init bool
	sets [shownCacheSets]shownSet
}

const (
	shownCacheSets = 64
	shownCacheIn   = 16 << 10
)

type shownSet struct {
	seen  uint64 // hash of the last body missed, kept on its next miss
	slots [2]shownBody
}

type shownBody struct {
	sum    uint64
	textOK bool
	data   []byte // the body shown; nil for an empty slot
	json   []byte // what appendShown appended for it
}

// appendShown appends data as the value of a "text" field: a JSON string
// of the text when textOK and data is text (isText), else base64 and
// `,"encoding":"base64"`. data must not be empty.
func (c *shownCache) appendShown(b []byte, data []byte, textOK bool) []byte {
	if len(data) > shownCacheIn {
		return appendShown(b, data, textOK)
	}
	if !c.init {
		c.seed, c.init = maphash.MakeSeed(), true
	}
	h := maphash.Bytes(c.seed, data)
	if textOK {
		h ^= 0x9e3779b97f4a7c15 // a body shown as text and as base64 are two keys
	}
	set := &c.sets[h%shownCacheSets]
	for k := range set.slots {
		if s := &set.slots[k]; s.data != nil && s.sum == h && s.textOK == textOK && bytes.Equal(s.data, data) {
			b = append(b, s.json...)
			if k == 1 { // most recent first
				set.slots[0], set.slots[1] = set.slots[1], set.slots[0]
			}
			return b
		}
	}
	start := len(b)
	b = appendShown(b, data, textOK)
	if set.seen != h {
		set.seen = h
		return b
	}
	// Second sighting: keep it in the first slot, reusing the buffers of
	// the slot it evicts.
	set.slots[0], set.slots[1] = set.slots[1], set.slots[0]
	s := &set.slots[0]
	s.sum, s.textOK = h, textOK
	s.data = append(s.data[:0], data...)
	s.json = append(s.json[:0], b[start:]...)
	return b
}

// appendShown is shownCache.appendShown without the cache.
func appendShown(b []byte, data []byte, textOK bool) []byte {
	if textOK {
		if out, ok := appendText(b, data); ok {
			return out
		}
	}
	b = appendBase64(b, data)
	return append(b, `,"encoding":"base64"`...)
}
