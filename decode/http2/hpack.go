package http2

import (
	"errors"
	"fmt"

	"golang.org/x/net/http2/hpack"

	"github.com/tapview/tapview/decode"
)

// HPACK bounds. A passive decoder must follow whatever table size the
// encoder chose, but never keeps more than maxTableSize bytes of entries
// per direction: an encoder using a larger table only produces references
// this decoder reports as unknown.
const (
	defaultTableSize = 4096
	maxTableSize     = 64 << 10
	entryOverhead    = 32 // RFC 7541 §4.1
)

// errHPACK marks a header block that could not be parsed to its end.
var errHPACK = errors.New("hpack: malformed header block")

// hpackEntry is one dynamic table entry. An entry inserted by a field
// whose name or value could not be decoded (it named a table entry this
// decoder never saw, or its Huffman code was corrupt) is kept as a
// placeholder so the entries after it keep their indices.
type hpackEntry struct {
	name, value string
	known       bool
	size        int // as accounted for eviction
}

// hpackDecoder decodes the header blocks of one direction of one
// connection. It is written for an observer rather than an endpoint,
// which is why it does not wrap hpack.Decoder: hpack.Decoder stops a
// block at the first reference it cannot resolve, so every insertion
// later in that block would be lost and all later dynamic indices would
// silently point at the wrong entries. This decoder instead keeps
// parsing: a field it cannot resolve is counted as unknown, an insertion
// it cannot read becomes a placeholder, and indices stay exact.
//
// The table holds the most recent insertions seen, so an index either
// resolves to exactly the entry the encoder meant or is beyond what was
// seen (joined mid-stream, after a capture gap, or evicted early because
// the encoder's table is larger than assumed) and is reported unknown.
// Eviction accounting therefore only decides how much is remembered,
// never whether a value is right.
type hpackDecoder struct {
	ents    []hpackEntry // oldest first
	size    int
	maxSize int
}

func newHPACKDecoder() *hpackDecoder {
	return &hpackDecoder{maxSize: defaultTableSize}
}

// hpackResult says what decoding a block could not deliver.
type hpackResult struct {
	unknown int // fields whose name or value is unknown
	dropped int // fields not kept because the list exceeded its cap
}

// forget drops the whole dynamic table: bytes were lost, so insertions
// may have been missed and no remembered entry has a known index any
// more. Insertions after this point are tracked exactly again.
func (d *hpackDecoder) forget() {
	clear(d.ents)
	d.ents = d.ents[:0]
	d.size = 0
}

// decode parses one complete header block, appending decoded fields to
// dst while their total size (RFC 7541 accounting) stays within maxList.
// On a malformed block it returns what was decoded with an error, and
// the table is forgotten, since the rest of the block may have inserted
// entries.
func (d *hpackDecoder) decode(block []byte, dst []decode.Header, maxList int) ([]decode.Header, hpackResult, error) {
	var res hpackResult
	list := 0
	emit := func(name, value string, ok bool) {
		if !ok {
			res.unknown++
			return
		}
		sz := len(name) + len(value) + entryOverhead
		if list+sz > maxList {
			res.dropped++
			return
		}
		list += sz
		dst = append(dst, decode.Header{Name: name, Value: value})
	}
	for len(block) > 0 {
		var err error
		block, err = d.field(block, emit)
		if err != nil {
			d.forget()
			return dst, res, err
		}
	}
	return dst, res, nil
}

// field parses one field representation (RFC 7541 §6) and returns the
// rest of the block.
func (d *hpackDecoder) field(b []byte, emit func(name, value string, ok bool)) ([]byte, error) {
	c := b[0]
	switch {
	case c&0x80 != 0: // indexed
		idx, rest, err := readInt(7, b)
		if err != nil {
			return nil, err
		}
		if idx == 0 {
			return nil, fmt.Errorf("%w: index 0", errHPACK)
		}
		name, value, ok := d.at(idx)
		emit(name, value, ok)
		return rest, nil
	case c&0xc0 == 0x40: // literal with incremental indexing
		return d.literal(6, b, true, emit)
	case c&0xe0 == 0x20: // dynamic table size update
		v, rest, err := readInt(5, b)
		if err != nil {
			return nil, err
		}
		d.setMaxSize(int(min(v, maxTableSize)))
		return rest, nil
	default: // literal without indexing (0000) or never indexed (0001)
		return d.literal(4, b, false, emit)
	}
}

// literal parses a literal field whose name index has an n-bit prefix.
func (d *hpackDecoder) literal(n byte, b []byte, index bool, emit func(string, string, bool)) ([]byte, error) {
	idx, rest, err := readInt(n, b)
	if err != nil {
		return nil, err
	}
	var name string
	nameOK := true
	if idx > 0 {
		name, _, nameOK = d.at(idx)
	} else {
		name, rest, nameOK, err = readString(rest)
		if err != nil {
			return nil, err
		}
	}
	value, rest, valueOK, err := readString(rest)
	if err != nil {
		return nil, err
	}
	ok := nameOK && valueOK
	emit(name, value, ok)
	if index {
		d.add(name, value, ok)
	}
	return rest, nil
}

// at resolves a 1-based HPACK index. ok is false for an index into the
// dynamic table beyond the entries this decoder saw inserted, and for
// placeholder entries.
func (d *hpackDecoder) at(idx uint64) (name, value string, ok bool) {
	if idx <= uint64(len(staticTable)) {
		e := staticTable[idx-1]
		return e.name, e.value, true
	}
	i := idx - uint64(len(staticTable)) // 1 = newest
	if i > uint64(len(d.ents)) {
		return "", "", false
	}
	e := d.ents[len(d.ents)-int(i)]
	return e.name, e.value, e.known
}

// add inserts an entry, evicting the oldest as needed (RFC 7541 §4.4).
// A placeholder is accounted with what is known of its size, which can
// only under-count: remembering an entry the encoder already evicted is
// harmless, since the encoder never refers to it.
func (d *hpackDecoder) add(name, value string, known bool) {
	sz := len(name) + len(value) + entryOverhead
	if !known {
		name, value = "", ""
	}
	if sz > d.maxSize {
		// RFC 7541 §4.4: an entry larger than the table empties it.
		d.forget()
		return
	}
	d.size += sz
	d.evict()
	d.ents = append(d.ents, hpackEntry{name: name, value: value, known: known, size: sz})
}

func (d *hpackDecoder) setMaxSize(v int) {
	d.maxSize = v
	d.evict()
}

func (d *hpackDecoder) evict() {
	n := 0
	for d.size > d.maxSize && n < len(d.ents) {
		d.size -= d.ents[n].size
		d.ents[n] = hpackEntry{}
		n++
	}
	if n > 0 {
		d.ents = d.ents[n:]
		if cap(d.ents) > 4*len(d.ents)+16 {
			d.ents = append([]hpackEntry(nil), d.ents...)
		}
	}
}

// readInt decodes an HPACK integer with an n-bit prefix (RFC 7541 §5.1),
// refusing values that do not fit in 32 bits.
func readInt(n byte, b []byte) (uint64, []byte, error) {
	mask := uint64(1)<<n - 1
	v := uint64(b[0]) & mask
	b = b[1:]
	if v < mask {
		return v, b, nil
	}
	var shift uint
	for i, c := range b {
		v += uint64(c&0x7f) << shift
		if v > 1<<32 {
			return 0, nil, fmt.Errorf("%w: integer overflow", errHPACK)
		}
		if c&0x80 == 0 {
			return v, b[i+1:], nil
		}
		shift += 7
	}
	return 0, nil, fmt.Errorf("%w: integer cut short", errHPACK)
}

// readString decodes a string literal (RFC 7541 §5.2). ok is false when
// the Huffman code is corrupt; the literal's extent is still known, so
// parsing goes on.
func readString(b []byte) (s string, rest []byte, ok bool, err error) {
	if len(b) == 0 {
		return "", nil, false, fmt.Errorf("%w: string missing", errHPACK)
	}
	huff := b[0]&0x80 != 0
	n, rest, err := readInt(7, b)
	if err != nil {
		return "", nil, false, err
	}
	if n > uint64(len(rest)) {
		return "", nil, false, fmt.Errorf("%w: string of %d bytes past the block end", errHPACK, n)
	}
	raw := rest[:n]
	rest = rest[n:]
	if !huff {
		return string(raw), rest, true, nil
	}
	s, herr := hpack.HuffmanDecodeToString(raw)
	if herr != nil {
		return "", rest, false, nil
	}
	return s, rest, true, nil
}
