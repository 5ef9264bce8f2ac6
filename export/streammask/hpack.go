package streammask

import (
	"errors"

	"golang.org/x/net/http2/hpack"
)

// hpackStatic is the HPACK static table (RFC 7541 appendix A); index 1
// is hpackStatic[0].
var hpackStatic = [...][2]string{
	{":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"}, {":path", "/index.html"},
	{":scheme", "http"}, {":scheme", "https"}, {":status", "200"}, {":status", "204"}, {":status", "206"},
	{":status", "304"}, {":status", "400"}, {":status", "404"}, {":status", "500"}, {"accept-charset", ""},
	{"accept-encoding", "gzip, deflate"}, {"accept-language", ""}, {"accept-ranges", ""}, {"accept", ""},
	{"access-control-allow-origin", ""}, {"age", ""}, {"allow", ""}, {"authorization", ""}, {"cache-control", ""},
	{"content-disposition", ""}, {"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
	{"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""}, {"date", ""},
	{"etag", ""}, {"expect", ""}, {"expires", ""}, {"from", ""}, {"host", ""}, {"if-match", ""},
	{"if-modified-since", ""}, {"if-none-match", ""}, {"if-range", ""}, {"if-unmodified-since", ""},
	{"last-modified", ""}, {"link", ""}, {"location", ""}, {"max-forwards", ""}, {"proxy-authenticate", ""},
	{"proxy-authorization", ""}, {"range", ""}, {"referer", ""}, {"refresh", ""}, {"retry-after", ""},
	{"server", ""}, {"set-cookie", ""}, {"strict-transport-security", ""}, {"transfer-encoding", ""},
	{"user-agent", ""}, {"vary", ""}, {"via", ""}, {"www-authenticate", ""},
}

// HPACK bounds: a passive reader follows the encoder's table size but
// keeps at most maxTable bytes of entries.
const (
	defaultTable = 4096
	maxTable     = 64 << 10
)

var errHPACK = errors.New("hpack: malformed header block")

// hpackTable is the dynamic table of one direction. Entries the walk
// could not read are kept as unknown, so later indices stay exact.
type hpackTable struct {
	ents []hpackEntry // oldest first
	size int
	max  int
}

type hpackEntry struct {
	name, value string
	known       bool
	size        int
}

func (t *hpackTable) lookup(i int) (hpackEntry, bool) {
	switch {
	case i <= 0:
		return hpackEntry{}, false
	case i <= len(hpackStatic):
		return hpackEntry{name: hpackStatic[i-1][0], value: hpackStatic[i-1][1], known: true}, true
	}
	i -= len(hpackStatic) + 1
	if i >= len(t.ents) {
		return hpackEntry{}, false
	}
	return t.ents[len(t.ents)-1-i], true
}

func (t *hpackTable) insert(e hpackEntry) {
	t.ents = append(t.ents, e)
	t.size += e.size
	t.evict()
}

func (t *hpackTable) evict() {
	limit := min(t.max, maxTable)
	n := 0
	for t.size > limit && n < len(t.ents) {
		t.size -= t.ents[n].size
		n++
	}
	if n > 0 {
		t.ents = append(t.ents[:0], t.ents[n:]...)
	}
}

// forget drops the table after lost bytes.
func (t *hpackTable) forget() {
	t.ents, t.size = nil, 0
}

// hpackString is a string literal in a block.
type hpackString struct {
	at, end int // the literal's bytes (after its length prefix)
	huffman bool
	value   string
	ok      bool // value decoded
}

// hpackField is one field representation with what masking needs.
type hpackField struct {
	name      string
	nameKnown bool
	value     hpackString // at == end == 0 for an indexed field
	indexed   bool        // a reference to a table entry: no literal bytes
	entry     hpackEntry  // the entry an indexed field refers to
}

// walk parses a complete header block, calling f for each field, and
// keeps the table up to date. It stops at the first malformed byte and
// returns its offset with errHPACK.
func (t *hpackTable) walk(b []byte, f func(*hpackField)) (int, error) {
	if t.max == 0 {
		t.max = defaultTable
	}
	for i := 0; i < len(b); {
		start := i
		c := b[i]
		var fl hpackField
		switch {
		case c&0x80 != 0: // indexed
			idx, n, ok := hpackInt(b[i:], 7)
			if !ok {
				return start, errHPACK
			}
			i += n
			e, ok := t.lookup(idx)
			fl.indexed, fl.entry = true, e
			fl.name, fl.nameKnown = e.name, ok && e.known
			f(&fl)
			continue
		case c&0xe0 == 0x20: // dynamic table size update
			v, n, ok := hpackInt(b[i:], 5)
			if !ok {
				return start, errHPACK
			}
			i += n
			t.max = v
			t.evict()
			continue
		}
		prefix, insert := uint(4), false
		if c&0xc0 == 0x40 {
			prefix, insert = 6, true
		}
		idx, n, ok := hpackInt(b[i:], prefix)
		if !ok {
			return start, errHPACK
		}
		i += n
		if idx > 0 {
			e, ok := t.lookup(idx)
			fl.name, fl.nameKnown = e.name, ok && e.known
		} else {
			s, n, ok := hpackStr(b, i)
			if !ok {
				return start, errHPACK
			}
			i = n
			fl.name, fl.nameKnown = s.value, s.ok
		}
		v, n2, ok := hpackStr(b, i)
		if !ok {
			return start, errHPACK
		}
		i = n2
		fl.value = v
		f(&fl)
		if insert {
			e := hpackEntry{name: fl.name, value: v.value, known: fl.nameKnown && v.ok}
			e.size = len(e.name) + len(e.value) + 32
			if !e.known {
				e.size = 32
			}
			t.insert(e)
		}
	}
	return len(b), nil
}

// hpackInt decodes an integer with an n-bit prefix.
func hpackInt(b []byte, n uint) (v, used int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	max := 1<<n - 1
	v = int(b[0]) & max
	if v < max {
		return v, 1, true
	}
	var m uint
	for i := 1; i < len(b) && i < 6; i++ {
		v += int(b[i]&0x7f) << m
		m += 7
		if b[i]&0x80 == 0 {
			return v, i + 1, true
		}
	}
	return 0, 0, false
}

// hpackStr reads a string literal at b[i:]; it returns the string and
// the offset after it.
func hpackStr(b []byte, i int) (hpackString, int, bool) {
	if i >= len(b) {
		return hpackString{}, 0, false
	}
	huff := b[i]&0x80 != 0
	l, n, ok := hpackInt(b[i:], 7)
	if !ok || l > len(b)-i-n {
		return hpackString{}, 0, false
	}
	s := hpackString{at: i + n, end: i + n + l, huffman: huff}
	raw := b[s.at:s.end]
	if huff {
		v, err := hpack.HuffmanDecodeToString(raw)
		s.value, s.ok = v, err == nil
	} else {
		s.value, s.ok = string(raw), true
	}
	return s, s.end, true
}
