package spill

import (
	"testing"
)

// The benchmarks use the typical exchange of issue 15's wrk capture: an
// HTTP/1.1 GET with a 2 KB JSON response.

func BenchmarkAppendExchange(b *testing.B) {
	e := http1Exchange(1)
	buf := AppendExchange(nil, e)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendExchange(buf[:0], e)
	}
}

func BenchmarkDecodeExchange(b *testing.B) {
	buf := AppendExchange(nil, http1Exchange(1))
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeExchange(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func benchStore(b *testing.B) *Store {
	// A budget keeps long runs from filling the disk; dropping
	// segments is part of the steady state being measured.
	s, err := Open(Options{Dir: b.TempDir(), SegmentSize: 8 << 20, MaxBytes: 64 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkPut(b *testing.B) {
	s := benchStore(b)
	e := http1Exchange(1)
	b.SetBytes(int64(len(AppendExchange(nil, e))))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Put(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet reads records spread over 25 MB of segments (in the page
// cache, as on a machine with memory to spare): one pread each.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	refs := make([]Ref, 10000)
	for i := range refs {
		r, err := s.Put(http1Exchange(i))
		if err != nil {
			b.Fatal(err)
		}
		refs[i] = r
	}
	s.wmu.Lock()
	s.mu.Lock()
	if err := s.flush(); err != nil {
		b.Fatal(err)
	}
	s.mu.Unlock()
	s.wmu.Unlock()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i = (i + 7919) % len(refs)
		if _, err := s.Get(refs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetBuffered reads the newest record, still in the write
// buffer, as a live view showing the latest exchange does.
func BenchmarkGetBuffered(b *testing.B) {
	s := benchStore(b)
	r, err := s.Put(http1Exchange(1))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get(r); err != nil {
			b.Fatal(err)
		}
	}
}
