package pcapfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
)

// countingPool lends fresh slabs filled with junk (a recycled slab holds
// old packets) and adds up what Carved reports.
type countingPool struct {
	lent, carved, returned int
	slabs                  map[*byte]bool
}

func (p *countingPool) Slab(size int) []byte {
	p.lent++
	b := bytes.Repeat([]byte{0xee}, size)
	p.slabs[&b[0]] = true
	return b
}

func (p *countingPool) Carved(slab []byte, n int) {
	if !p.slabs[&slab[0]] {
		panic("Carved with a slab the pool did not lend")
	}
	p.returned++
	p.carved += n
}

// TestSetSlabsCarvesFromThePool reads a pcapng of many packets (one too
// large to be carved) with a pool: every carved packet comes from a
// lent slab and has its own bytes despite the junk there, every slab is
// handed back, and the counts add up to the packets carved.
func TestSetSlabsCarvesFromThePool(t *testing.T) {
	b := &ngBuilder{}
	b.shb(binary.LittleEndian)
	b.idb(1, 1<<20, -1, 0)
	const n = 3000
	for i := range n {
		size := 60 + i%1400
		if i == 1234 {
			size = 300 << 10 // more than a quarter of a slab: allocated alone
		}
		data := bytes.Repeat([]byte{byte(i)}, size)
		b.epb(0, uint64(i), data, uint32(size))
	}
	s, err := New("slabs.pcapng", bytes.NewReader(b.buf))
	if err != nil {
		t.Fatal(err)
	}
	pool := &countingPool{slabs: make(map[*byte]bool)}
	s.SetSlabs(pool)
	rec := &recorder{}
	if err := s.Run(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.packets) != n {
		t.Fatalf("%d packets, want %d", len(rec.packets), n)
	}
	for i, p := range rec.packets {
		if len(p.Data) != 60+i%1400 && i != 1234 || bytes.Count(p.Data, []byte{byte(i)}) != len(p.Data) {
			t.Fatalf("packet %d: %d bytes, not all %#x", i, len(p.Data), byte(i))
		}
	}
	if pool.lent < 2 || pool.returned != pool.lent || pool.carved != n-1 {
		t.Errorf("lent %d slabs, %d handed back, %d packets carved; want several, all, %d", pool.lent, pool.returned, pool.carved, n-1)
	}
}
