package http2

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/net/http2/hpack"

	"github.com/tapview/tapview/decode"
)

// headerLists returns n realistic header lists with repeats (so the
// encoder indexes and refers back), sensitive values and new names.
func headerLists(n int, seed uint64) [][]hpack.HeaderField {
	rng := rand.New(rand.NewPCG(seed, 7))
	paths := []string{"/", "/pets", "/pets/1", "/greet.GreetService/Greet", "/dns-query", "/static/app.css"}
	var out [][]hpack.HeaderField
	for i := range n {
		hs := []hpack.HeaderField{
			{Name: ":method", Value: []string{"GET", "POST"}[rng.IntN(2)]},
			{Name: ":scheme", Value: "http"},
			{Name: ":path", Value: paths[rng.IntN(len(paths))]},
			{Name: ":authority", Value: "petstore.demo.internal:8080"},
			{Name: "user-agent", Value: "tapview-test/1.0"},
			{Name: "x-request-id", Value: fmt.Sprintf("req-%d", i)},
		}
		if rng.IntN(3) == 0 {
			hs = append(hs, hpack.HeaderField{Name: "authorization", Value: "Bearer secret-" + fmt.Sprint(rng.IntN(4)), Sensitive: true})
		}
		if rng.IntN(4) == 0 {
			hs = append(hs, hpack.HeaderField{Name: fmt.Sprintf("x-custom-%d", rng.IntN(50)), Value: string(bytes.Repeat([]byte{'v'}, rng.IntN(300)))})
		}
		out = append(out, hs)
	}
	return out
}

// encodeAll encodes the lists with one encoder, as one direction of a
// connection would, with an optional table size change before block
// resizeAt.
func encodeAll(lists [][]hpack.HeaderField, resizeAt int, size uint32) [][]byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	enc.SetMaxDynamicTableSizeLimit(maxTableSize)
	var blocks [][]byte
	for i, hs := range lists {
		if i == resizeAt {
			enc.SetMaxDynamicTableSize(size)
		}
		buf.Reset()
		for _, f := range hs {
			enc.WriteField(f)
		}
		blocks = append(blocks, bytes.Clone(buf.Bytes()))
	}
	return blocks
}

func fields(hs []hpack.HeaderField) []decode.Header {
	out := make([]decode.Header, len(hs))
	for i, f := range hs {
		out[i] = decode.Header{Name: f.Name, Value: f.Value}
	}
	return out
}

func TestHPACKMatchesReference(t *testing.T) {
	for _, c := range []struct {
		name     string
		resizeAt int
		size     uint32
	}{
		{"default table", -1, 0},
		{"shrunk to 256", 10, 256},
		{"grown to 16k", 5, 16384},
		{"table off", 3, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			lists := headerLists(200, 1)
			blocks := encodeAll(lists, c.resizeAt, c.size)
			d := newHPACKDecoder()
			ref := hpack.NewDecoder(maxTableSize, nil)
			for i, b := range blocks {
				got, res, err := d.decode(b, nil, 1<<20)
				if err != nil || res.unknown != 0 || res.dropped != 0 {
					t.Fatalf("block %d: %v %+v", i, err, res)
				}
				want, err := ref.DecodeFull(b)
				if err != nil {
					t.Fatalf("reference block %d: %v", i, err)
				}
				if fmt.Sprint(got) != fmt.Sprint(fields(want)) || fmt.Sprint(got) != fmt.Sprint(fields(lists[i])) {
					t.Fatalf("block %d:\n got %v\nwant %v", i, got, fields(want))
				}
			}
			if d.size > d.maxSize || d.maxSize > maxTableSize {
				t.Fatalf("table size %d over max %d", d.size, d.maxSize)
			}
		})
	}
}

// isSubsequence reports whether got appears in want in order.
func isSubsequence(got, want []decode.Header) bool {
	j := 0
	for _, g := range got {
		for j < len(want) && want[j] != g {
			j++
		}
		if j == len(want) {
			return false
		}
		j++
	}
	return true
}

// TestHPACKJoinedMidStream starts decoding at every block of a long
// sequence, as a capture joined mid-connection does, and after a forgotten
// table. Every field produced must be the true one; fields that depend on
// unseen insertions are counted as unknown, never guessed.
func TestHPACKJoinedMidStream(t *testing.T) {
	lists := headerLists(120, 2)
	blocks := encodeAll(lists, 60, 1024)
	var unknownTotal, knownTotal int
	for start := 1; start < len(blocks); start += 7 {
		d := newHPACKDecoder()
		for i := start; i < len(blocks); i++ {
			if i == start+30 {
				d.forget() // a capture gap
			}
			got, res, err := d.decode(blocks[i], nil, 1<<20)
			if err != nil {
				t.Fatalf("start %d block %d: %v", start, i, err)
			}
			want := fields(lists[i])
			if len(got)+res.unknown != len(want) || !isSubsequence(got, want) {
				t.Fatalf("start %d block %d: got %v (+%d unknown), want %v", start, i, got, res.unknown, want)
			}
			unknownTotal += res.unknown
			knownTotal += len(got)
		}
	}
	if unknownTotal == 0 || knownTotal < 2*unknownTotal {
		t.Fatalf("expected mostly known fields with some unknown: %d known, %d unknown", knownTotal, unknownTotal)
	}
}

// TestHPACKPlaceholderKeepsIndices checks that an insertion whose name is
// unknown still occupies its slot: references past it resolve exactly.
func TestHPACKPlaceholderKeepsIndices(t *testing.T) {
	var block []byte
	// Literal with incremental indexing, name = dynamic index 62 (never
	// seen), value "v1": becomes a placeholder.
	block = append(block, 0x40|0x3e, 0x02, 'v', '1')
	// Literal with incremental indexing, new name "a", value "b".
	block = append(block, 0x40, 0x01, 'a', 0x01, 'b')
	// Literal with incremental indexing, bad Huffman value (all ones, too
	// much padding): a placeholder with a known name.
	block = append(block, 0x40, 0x01, 'c', 0x84, 0xff, 0xff, 0xff, 0xff)
	// References: 62 = newest (placeholder c=?), 63 = a:b, 64 = placeholder.
	block = append(block, 0x80|62, 0x80|63, 0x80|64, 0x80|65)
	d := newHPACKDecoder()
	got, res, err := d.decode(block, nil, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := []decode.Header{{Name: "a", Value: "b"}, {Name: "a", Value: "b"}}
	if fmt.Sprint(got) != fmt.Sprint(want) || res.unknown != 5 {
		t.Fatalf("got %v, %d unknown", got, res.unknown)
	}
}

func TestHPACKMalformed(t *testing.T) {
	for name, block := range map[string][]byte{
		"index 0":             {0x80},
		"integer cut short":   {0xff, 0x80},
		"integer overflow":    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
		"string past the end": {0x40, 0x05, 'a'},
		"value missing":       {0x40, 0x01, 'a'},
	} {
		d := newHPACKDecoder()
		d.add("kept", "before", true)
		_, _, err := d.decode(block, nil, 1<<20)
		if !errors.Is(err, errHPACK) {
			t.Errorf("%s: err %v", name, err)
		}
		if len(d.ents) != 0 {
			t.Errorf("%s: table kept after a malformed block", name)
		}
	}
}

func TestHPACKLimits(t *testing.T) {
	// A table size update above the cap is clamped.
	d := newHPACKDecoder()
	var b []byte
	b = append(b, 0x3f, 0xe1, 0xff, 0x7f) // size update to a huge value
	if _, _, err := d.decode(b, nil, 1<<20); err != nil || d.maxSize != maxTableSize {
		t.Fatalf("size update: %v max %d", err, d.maxSize)
	}
	// One 4 KiB entry referenced many times: the list stops at its cap,
	// the rest is counted as dropped, memory stays bounded.
	d = newHPACKDecoder()
	val := string(bytes.Repeat([]byte{'x'}, 4000))
	d.add("big", val, true)
	b = bytes.Repeat([]byte{0x80 | 62}, 10000)
	got, res, err := d.decode(b, nil, 64<<10)
	if err != nil || len(got) != 16 || res.dropped != 10000-16 {
		t.Fatalf("list cap: %d kept, %+v, %v", len(got), res, err)
	}
	// An entry larger than the table empties it.
	d = newHPACKDecoder()
	d.add("a", "b", true)
	d.add("huge", string(make([]byte, 5000)), true)
	if len(d.ents) != 0 || d.size != 0 {
		t.Fatalf("oversized entry: %d entries, size %d", len(d.ents), d.size)
	}
}

// FuzzHPACK decodes arbitrary blocks after a realistic prefix. It must
// never panic, must keep the table within its cap, and whenever the
// reference decoder accepts the same input with no unknowns, both must
// agree.
func FuzzHPACK(f *testing.F) {
	for _, b := range encodeAll(headerLists(20, 3), 10, 512) {
		f.Add(b)
	}
	f.Add([]byte{0x3f, 0xe1, 0x1f, 0x82})
	prefix := encodeAll(headerLists(5, 4), -1, 0)
	f.Fuzz(func(t *testing.T, block []byte) {
		d := newHPACKDecoder()
		ref := hpack.NewDecoder(maxTableSize, nil)
		for _, b := range prefix {
			d.decode(b, nil, 1<<20)
			ref.DecodeFull(b)
		}
		got, res, err := d.decode(block, nil, 1<<16)
		if d.maxSize > maxTableSize || d.size > d.maxSize {
			t.Fatalf("table %d/%d over cap", d.size, d.maxSize)
		}
		size := 0
		for _, h := range got {
			size += len(h.Name) + len(h.Value) + entryOverhead
		}
		if size > 1<<16 {
			t.Fatalf("header list of %d bytes over its cap", size)
		}
		want, rerr := ref.DecodeFull(block)
		if err == nil && rerr == nil && res.unknown == 0 && res.dropped == 0 {
			if fmt.Sprint(got) != fmt.Sprint(fields(want)) {
				t.Fatalf("differs from the reference:\n got %v\nwant %v", got, fields(want))
			}
		}
	})
}
