package spill

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tapview/tapview/decode"
)

// Ref names one stored record; the zero Ref is never returned by Put.
//
// The high bits hold the segment number (counting from 1), the low
// offsetBits the record's byte offset in that segment. Segments are written
// in order and records appended, so a later Put always returns a larger Ref
// and "dropped" is a comparison with Oldest.
type Ref uint64

const (
	offsetBits = 36
	offsetMask = 1<<offsetBits - 1
	maxSegNum  = 1<<(64-offsetBits) - 1
)

func makeRef(seg uint64, off int64) Ref { return Ref(seg<<offsetBits | uint64(off)) }

func (r Ref) split() (seg uint64, off int64) {
	return uint64(r) >> offsetBits, int64(uint64(r) & offsetMask)
}

// Options configures a Store. SegmentSize is lowered to MaxBytes/4 when
// larger, so dropping the oldest segment never gives up more than a quarter
// of the budget, and raised to 4 KiB when smaller. The active segment is
// never dropped, so a budget under one segment holds the newest segment.
type Options struct {
	Dir         string // parent directory; "" means os.TempDir()
	SegmentSize int64  // bytes per segment file before a new one starts; 0 means 64 MiB
	MaxBytes    int64  // disk budget: when the total of segments exceeds it, the oldest segments are deleted (0 means 4 GiB)
}

const (
	defaultSegmentSize = 64 << 20
	defaultMaxBytes    = 4 << 30
	// minSegmentSize keeps tiny settings from producing a file per
	// record (and running through the segment numbers of a Ref).
	minSegmentSize = 4 << 10
	// maxSegmentSize leaves room in a Ref's offset for the one record
	// that may start just below it.
	maxSegmentSize = 1<<offsetBits - maxRecord - frameHeader - 1
	// writeBuffer is how many bytes Put gathers before one write
	// system call.
	writeBuffer = 64 << 10
)

var (
	// ErrGone is returned (wrapped) by Get for a record whose segment
	// was deleted to stay within MaxBytes.
	ErrGone = errors.New("spill: record dropped to stay within the disk budget")
	// ErrClosed is returned (wrapped) by Put and Get after Close.
	ErrClosed = errors.New("spill: store is closed")
)

// segment is one file of the store.
type segment struct {
	num  uint64
	path string
	f    *os.File
	// size counts every byte appended, including those still in the
	// store's write buffer when this is the active segment.
	size int64
	// readers counts Gets reading f without the store lock; a dropped
	// segment's file is closed and removed by whoever brings it to 0,
	// so a Get never reads a closed file.
	readers int
	dropped bool
}

// release closes and removes a dropped segment nobody reads any more.
func (sg *segment) release() {
	if sg.dropped && sg.readers == 0 && sg.f != nil {
		sg.f.Close()
		sg.f = nil
		_ = os.Remove(sg.path)
	}
}

// Store is an append-only on-disk store of whole exchanges, so memory only
// holds summaries and the rest is read back on demand. It is safe for
// concurrent use. Records are buffered in memory until a write buffer
// fills; nothing is synced to disk, because the directory is temporary and
// only this process reads it.
type Store struct {
	dir      string
	lock     *os.File
	segSize  int64
	maxBytes int64
	scratch  sync.Pool // *[]byte for encoding and reading records

	wmu sync.Mutex // held by Put throughout, see Put

	mu      sync.Mutex
	segs    []*segment // live segments, oldest first; the last is active
	nextSeg uint64     // number the next segment gets
	total   int64
	// buf holds the active segment's bytes from bufOff on, not yet
	// written to its file. Get serves records in it from memory.
	buf    []byte
	bufOff int64
	// inflight is the previous buffer while a Put writes it at
	// inflightOff without holding mu; Get serves it from memory too.
	// spare is that buffer again once written, for the next swap.
	inflight    []byte
	inflightOff int64
	spare       []byte
	// werr is the first write error: the store stops accepting records
	// rather than leave a gap that later Refs would point past.
	werr   error
	closed bool

	// duringWrite, when set by a test before any Put, runs while a
	// full buffer is being written without the lock.
	duringWrite func()
}

// Open creates a store in a new directory <Dir>/tapview-spill-<pid>-<random>
// holding the segment files and a lock file, locked while the store is
// open. Before that it removes tapview-spill-* directories in Dir whose
// lock nobody holds, left by processes that ended without Close.
func Open(opts Options) (*Store, error) {
	if opts.SegmentSize < 0 || opts.MaxBytes < 0 {
		return nil, fmt.Errorf("spill: negative size in options (segment %d, max %d)", opts.SegmentSize, opts.MaxBytes)
	}
	s := &Store{segSize: opts.SegmentSize, maxBytes: opts.MaxBytes, nextSeg: 1}
	if s.segSize == 0 {
		s.segSize = defaultSegmentSize
	}
	if s.maxBytes == 0 {
		s.maxBytes = defaultMaxBytes
	}
	// Dropping a segment should give up at most a quarter of the
	// budget, or a small budget would be emptied at every rotation.
	s.segSize = max(min(s.segSize, s.maxBytes/4, maxSegmentSize), minSegmentSize)
	parent := opts.Dir
	if parent == "" {
		parent = os.TempDir()
	}
	removeStale(parent)
	dir, lock, err := createDir(parent)
	if err != nil {
		return nil, err
	}
	s.dir, s.lock = dir, lock
	s.buf = make([]byte, 0, writeBuffer)
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) getScratch() *[]byte {
	if p, ok := s.scratch.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 0, firstRead)
	return &b
}

func (s *Store) putScratch(p *[]byte) {
	// Keep rare huge records from pinning their buffers.
	if cap(*p) <= 1<<20 {
		s.scratch.Put(p)
	}
}

// Put appends the whole exchange and returns its Ref. It is safe for
// concurrent use with Get and with other Put calls; the exchange is only
// read.
func (s *Store) Put(e *decode.Exchange) (Ref, error) {
	sp := s.getScratch()
	defer s.putScratch(sp)
	// Encode before taking the lock, so readers wait only for a copy.
	rec := AppendExchange(beginFrame((*sp)[:0]), e)
	*sp = rec
	if err := finishFrame(rec, 0); err != nil {
		return 0, err
	}

	// wmu makes Puts take turns, so at most one buffer is being
	// written outside mu and rotation never overlaps that write.
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, fmt.Errorf("spill: put: %w", ErrClosed)
	}
	if s.werr != nil {
		s.mu.Unlock()
		return 0, s.werr
	}
	act := s.active()
	if act == nil || act.size >= s.segSize {
		var err error
		if act, err = s.rotate(); err != nil {
			s.mu.Unlock()
			return 0, err
		}
	}
	ref := makeRef(act.num, act.size)
	if len(rec) > cap(s.buf) {
		// Larger than the whole buffer: write everything through,
		// under the lock. Rare, since bodies are capped.
		err := s.flush()
		if err == nil {
			err = s.writeAt(act, rec, s.bufOff)
		}
		if err != nil {
			s.mu.Unlock()
			return 0, err
		}
		s.bufOff += int64(len(rec))
		s.account(act, len(rec))
		s.mu.Unlock()
		return ref, nil
	}
	var full []byte
	var fullOff int64
	if len(s.buf)+len(rec) > cap(s.buf) {
		// Swap in the spare buffer and write the full one without
		// the lock; Get serves its records from memory meanwhile.
		full, fullOff = s.buf, s.bufOff
		s.inflight, s.inflightOff = full, fullOff
		s.bufOff += int64(len(full))
		s.buf = s.spare
		if s.buf == nil {
			s.buf = make([]byte, 0, writeBuffer)
		}
		s.spare = nil
	}
	s.buf = append(s.buf, rec...)
	s.account(act, len(rec))
	if full == nil {
		s.mu.Unlock()
		return ref, nil
	}
	act.readers++ // keeps act.f open if Close comes during the write
	f := act.f
	s.mu.Unlock()

	if s.duringWrite != nil {
		s.duringWrite()
	}
	_, werr := f.WriteAt(full, fullOff)

	s.mu.Lock()
	defer s.mu.Unlock()
	act.readers--
	act.release()
	if werr != nil {
		// Keep inflight: its records stay readable from memory.
		s.werr = fmt.Errorf("spill: write %s at %d: %w", act.path, fullOff, werr)
		return 0, s.werr
	}
	s.inflight = nil
	s.spare = full[:0]
	return ref, nil
}

// account adds n bytes appended to the active segment and drops old
// segments over the budget. Called with mu held.
func (s *Store) account(act *segment, n int) {
	act.size += int64(n)
	s.total += int64(n)
	s.enforceBudget()
}

// writeAt writes b to the segment at off, making any failure sticky.
// Called with mu held.
func (s *Store) writeAt(sg *segment, b []byte, off int64) error {
	if _, err := sg.f.WriteAt(b, off); err != nil {
		s.werr = fmt.Errorf("spill: write %s at %d: %w", sg.path, off, err)
		return s.werr
	}
	return nil
}

func (s *Store) active() *segment {
	if len(s.segs) == 0 {
		return nil
	}
	return s.segs[len(s.segs)-1]
}

// rotate flushes the active segment and starts a new one. Called with mu
// held.
func (s *Store) rotate() (*segment, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	if s.nextSeg > maxSegNum {
		return nil, fmt.Errorf("spill: all %d segment numbers used", maxSegNum)
	}
	num := s.nextSeg
	path := filepath.Join(s.dir, fmt.Sprintf("seg-%08d", num))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spill: create segment: %w", err)
	}
	s.nextSeg++
	sg := &segment{num: num, path: path, f: f, size: segHeaderLen}
	s.segs = append(s.segs, sg)
	s.total += segHeaderLen
	s.buf = append(s.buf[:0], segMagic...)
	s.bufOff = 0
	return sg, nil
}

// flush writes the buffer to the active segment. Called with wmu and mu
// held, so no write is in flight; on failure the buffer is kept, so its
// records stay readable.
func (s *Store) flush() error {
	act := s.active()
	if act == nil || len(s.buf) == 0 {
		return nil
	}
	if err := s.writeAt(act, s.buf, s.bufOff); err != nil {
		return err
	}
	s.bufOff += int64(len(s.buf))
	s.buf = s.buf[:0]
	return nil
}

// enforceBudget drops the oldest segments while the total is over
// MaxBytes. The active segment stays, so the record just written is
// always readable. Called with mu held.
func (s *Store) enforceBudget() {
	for s.total > s.maxBytes && len(s.segs) > 1 {
		sg := s.segs[0]
		s.segs[0] = nil
		s.segs = s.segs[1:]
		s.total -= sg.size
		sg.dropped = true
		sg.release()
	}
}

// Get reads back the exchange stored under r. It returns an error wrapping
// ErrGone when the record's segment was dropped to stay within MaxBytes,
// ErrCorrupt when its bytes fail the frame checks, and ErrClosed after
// Close. The result is a fresh value the caller owns.
func (s *Store) Get(r Ref) (*decode.Exchange, error) {
	sp := s.getScratch()
	defer s.putScratch(sp)

	s.mu.Lock()
	sg, off, err := s.locate(r)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	end := sg.size
	if sg == s.active() {
		var mem []byte
		switch {
		case off >= s.bufOff:
			mem = s.buf[off-s.bufOff:]
		case s.inflight != nil && off >= s.inflightOff:
			mem = s.inflight[off-s.inflightOff:]
		}
		if mem != nil {
			// Not in the file yet: copy it out under the lock
			// and decode after releasing it.
			payload, _, err := parseFrame(mem)
			if err == nil {
				*sp = append((*sp)[:0], payload...)
			}
			s.mu.Unlock()
			if err != nil {
				return nil, fmt.Errorf("spill: get %#x: %w", uint64(r), err)
			}
			return decodeRecord(r, *sp)
		}
		end = s.bufOff
		if s.inflight != nil {
			end = s.inflightOff
		}
	}
	sg.readers++
	f := sg.f
	s.mu.Unlock()

	// Read without the lock: pread does not move the file offset the
	// writer appends at, and the reader count keeps f open.
	payload, buf, rerr := readFrame(f, off, end, *sp)
	*sp = buf

	s.mu.Lock()
	sg.readers--
	sg.release()
	s.mu.Unlock()
	if rerr != nil {
		return nil, fmt.Errorf("spill: get %#x: %w", uint64(r), rerr)
	}
	return decodeRecord(r, payload)
}

func decodeRecord(r Ref, payload []byte) (*decode.Exchange, error) {
	e, err := DecodeExchange(payload)
	if err != nil {
		return nil, fmt.Errorf("spill: get %#x: %w", uint64(r), err)
	}
	return e, nil
}

// locate finds the live segment holding r. Called with mu held.
func (s *Store) locate(r Ref) (*segment, int64, error) {
	if s.closed {
		return nil, 0, fmt.Errorf("spill: get: %w", ErrClosed)
	}
	num, off := r.split()
	if r == 0 || num >= s.nextSeg {
		return nil, 0, fmt.Errorf("spill: get %#x: no such record", uint64(r))
	}
	if len(s.segs) == 0 || num < s.segs[0].num {
		return nil, 0, fmt.Errorf("spill: get %#x: %w", uint64(r), ErrGone)
	}
	// Segment numbers are consecutive and only the oldest are
	// dropped, so the index is a subtraction.
	sg := s.segs[num-s.segs[0].num]
	if off < segHeaderLen || off >= sg.size {
		return nil, 0, fmt.Errorf("spill: get %#x: offset %d outside segment %d (size %d)", uint64(r), off, num, sg.size)
	}
	return sg, off, nil
}

// Oldest returns the first Ref still readable, or 0 when the store holds
// nothing. Every Ref below it is gone, so a caller keeping summaries can
// evict those whose records were dropped with one comparison.
func (s *Store) Oldest() Ref {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.segs) == 0 {
		return 0
	}
	return makeRef(s.segs[0].num, segHeaderLen)
}

// Size returns the bytes in live segments, including those still
// buffered in memory.
func (s *Store) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Close removes the store's directory with every segment. Get and Put
// fail with ErrClosed afterwards; Gets already reading finish first (their
// files close when they do). Closing twice is harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for _, sg := range s.segs {
		sg.dropped = true
		sg.release()
	}
	s.segs = nil
	s.total = 0
	s.buf, s.inflight, s.spare = nil, nil, nil
	var err error
	if removeWhileLocked {
		// The lock goes last, so no cleaner treats the directory as
		// stale while it is being removed.
		err = os.RemoveAll(s.dir)
		if cerr := s.lock.Close(); err == nil && cerr != nil {
			err = cerr
		}
	} else {
		// Windows cannot delete the open lock file.
		err = s.lock.Close()
		if rerr := os.RemoveAll(s.dir); rerr != nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("spill: close %s: %w", s.dir, err)
	}
	return nil
}
