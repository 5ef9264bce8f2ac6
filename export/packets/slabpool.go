package packets

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// SlabPool lends pass two's re-read captures the slabs their packets are
// carved from (pcapfile.Source.SetSlabs) and takes each slab back once
// every packet carved from it has been written or dropped, so reading
// the capture again reuses a few megabytes instead of allocating (and
// zeroing) as much memory as the capture is large: a gigabyte on the
// 1 GB benchmark capture, a sixth of what the collector paid for over
// the whole export. A packet that is never given back (an error cut the
// export short) only keeps its slab from being reused.
type SlabPool struct {
	mu    sync.Mutex
	slabs []*slab // every slab lent, at most maxSlabs
	free  []*slab
}

// maxSlabs bounds the slabs a pool keeps; past it (packets held longer
// than the window, or never given back) slabs are allocated as before.
const maxSlabs = 64

// slabBias is added to a lent slab's count until Carved gives the real
// number, so the count cannot reach zero while packets are still carved.
const slabBias = 1 << 40

type slab struct {
	b      []byte
	lo, hi uintptr
	// pending is slabBias plus the packets carved minus those given
	// back, until Carved; then carved minus given back.
	pending atomic.Int64
}

// NewSlabPool returns an empty pool.
func NewSlabPool() *SlabPool { return &SlabPool{} }

// Slab lends a slab of size bytes.
func (p *SlabPool) Slab(size int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.free) - 1; i >= 0; i-- {
		if s := p.free[i]; len(s.b) == size {
			p.free = append(p.free[:i], p.free[i+1:]...)
			s.pending.Store(slabBias)
			return s.b
		}
	}
	b := make([]byte, size)
	if len(p.slabs) >= maxSlabs {
		return b
	}
	s := &slab{b: b, lo: uintptr(unsafe.Pointer(unsafe.SliceData(b)))}
	s.hi = s.lo + uintptr(size)
	s.pending.Store(slabBias)
	p.slabs = append(p.slabs, s)
	return b
}

// Carved takes the number of packets carved from b.
func (p *SlabPool) Carved(b []byte, n int) {
	if len(b) == 0 {
		return
	}
	if s := p.find(unsafe.SliceData(b)); s != nil && s.pending.Add(int64(n)-slabBias) == 0 {
		p.put(s)
	}
}

// release gives back a packet's bytes once nothing refers to them any
// more. Bytes that no slab of the pool holds are ignored.
func (p *SlabPool) release(data []byte) {
	if p == nil || len(data) == 0 {
		return
	}
	if s := p.find(unsafe.SliceData(data)); s != nil && s.pending.Add(-1) == 0 {
		p.put(s)
	}
}

func (p *SlabPool) find(at *byte) *slab {
	a := uintptr(unsafe.Pointer(at))
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.slabs {
		if a >= s.lo && a < s.hi {
			return s
		}
	}
	return nil
}

func (p *SlabPool) put(s *slab) {
	p.mu.Lock()
	p.free = append(p.free, s)
	p.mu.Unlock()
}
