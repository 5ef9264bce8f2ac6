package packets

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
	"unsafe"
)

// A plan holds a comment per exchange until pass two has written the
// last packet. Kept in memory they were a third of what a big export
// held live (about 36 of 86 MB at the end of pass one over the 1 GB
// benchmark capture, 880k exchanges), and the export's memory limit
// follows what is live: the collector ran about 300 times, against 77
// for `open` of the same file. So a comment is encoded at once, without
// pointers and with its text inline, in a small buffer of its list; when
// the buffers together pass pendingBudget they are appended to the
// plan's comment store, a temporary file (Plan.SpillComments) or,
// without one, chunks of memory. Pass two reads each list back in order,
// a segment at a time (commentList.peek, take).

// pendingBudget bounds the encoded comments kept in lists' buffers
// before they are moved to the store.
const pendingBudget = 1 << 20

// commentList is one direction's comments of a flow, in arrival order
// until prepare sorts them by time. Empty lists (most flows of a capture
// of half-open connections) cost one pointer.
type commentList struct{ s *commentState }

type commentState struct {
	pending  []byte       // encoded comments not yet in the store
	segs     []commentSeg // in the store, in order
	n        int          // comments in all
	lastAt   int64
	unsorted bool // a comment came earlier than the one before it
	dirty    bool // on the log's dirty list (pending is not empty)

	// Pass two's cursor (the writer goroutine's only): seg is the next
	// segment to load, buf what is left of the loaded one, taken how
	// many comments were taken.
	seg   int
	buf   []byte
	taken int
}

// commentSeg is a run of a list's comments in the store.
type commentSeg struct {
	off  int64
	size int
}

// summary is one exchange's comment as pass two takes it: the text is
// joinSummary(head, lat, tail).
type summary struct {
	at         int64 // unix nanoseconds
	lat        time.Duration
	head, tail string
}

func (s summary) text() string { return joinSummary(s.head, s.lat, s.tail) }

func (l *commentList) len() int {
	if l.s == nil {
		return 0
	}
	return l.s.n
}

// commentLog owns the comment store and the lists with pending comments.
type commentLog struct {
	store   commentStore
	dirty   []*commentState
	pending int // bytes in the dirty lists' buffers
}

// add encodes a comment into l, moving the pending comments of every
// list to the store when they pass the budget.
func (g *commentLog) add(l *commentList, at int64, lat time.Duration, head, tail string) {
	s := l.s
	if s == nil {
		s = &commentState{}
		l.s = s
	}
	if s.n > 0 && at < s.lastAt {
		s.unsorted = true
	}
	s.n++
	s.lastAt = at
	before := len(s.pending)
	s.pending = appendComment(s.pending, at, lat, head, tail)
	g.pending += len(s.pending) - before
	if !s.dirty {
		s.dirty = true
		g.dirty = append(g.dirty, s)
	}
	if g.pending > pendingBudget {
		g.flush()
	}
}

// flush moves every pending comment to the store.
func (g *commentLog) flush() {
	for i, s := range g.dirty {
		s.segs = append(s.segs, commentSeg{off: g.store.append(s.pending), size: len(s.pending)})
		s.pending, s.dirty = nil, false
		g.dirty[i] = nil
	}
	g.dirty, g.pending = g.dirty[:0], 0
}

func appendComment(b []byte, at int64, lat time.Duration, head, tail string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(at))
	b = binary.LittleEndian.AppendUint64(b, uint64(lat))
	b = binary.AppendUvarint(b, uint64(len(head)))
	b = append(b, head...)
	b = binary.AppendUvarint(b, uint64(len(tail)))
	return append(b, tail...)
}

var errBadComment = errors.New("damaged comment record")

// decodeComment reads the comment at the start of b and returns its
// length. The texts share b's bytes, which are never written again (a
// segment is read into a buffer of its own).
func decodeComment(b []byte) (summary, int, error) {
	if len(b) < 16 {
		return summary{}, 0, errBadComment
	}
	s := summary{at: int64(binary.LittleEndian.Uint64(b)), lat: time.Duration(binary.LittleEndian.Uint64(b[8:]))}
	i := 16
	for k := range 2 {
		n, w := binary.Uvarint(b[i:])
		if w <= 0 || n > uint64(len(b)-i-w) {
			return summary{}, 0, errBadComment
		}
		i += w
		var t string
		if n > 0 {
			t = unsafe.String(&b[i], int(n))
		}
		if k == 0 {
			s.head = t
		} else {
			s.tail = t
		}
		i += int(n)
	}
	return s, i, nil
}

// rewind puts the cursor back to the first comment.
func (s *commentState) rewind() { s.seg, s.buf, s.taken = 0, nil, 0 }

// peek returns the time of the next comment without taking it,
// loading its segment; ok is false at the end of the list.
func (s *commentState) peek(st *commentStore) (at int64, ok bool, err error) {
	for len(s.buf) == 0 {
		if s.seg == len(s.segs) {
			return 0, false, nil
		}
		g := s.segs[s.seg]
		if s.buf, err = st.read(g.off, g.size); err != nil {
			return 0, false, err
		}
		s.seg++
	}
	if len(s.buf) < 8 {
		return 0, false, errBadComment
	}
	return int64(binary.LittleEndian.Uint64(s.buf)), true, nil
}

// take returns the comment peek found and moves past it.
func (s *commentState) take() (summary, error) {
	c, n, err := decodeComment(s.buf)
	if err != nil {
		return summary{}, err
	}
	s.buf = s.buf[n:]
	s.taken++
	return c, nil
}

// sortedSeg is the size of the segments sortByTime writes.
const sortedSeg = 64 << 10

// sortByTime orders a list by time, stably, when its comments did not
// arrive in order (rare: they come as exchanges complete), rewriting it
// to the store as one segment. Its pending comments must have been
// flushed.
func (s *commentState) sortByTime(st *commentStore) error {
	if !s.unsorted {
		return nil
	}
	all := make([]summary, 0, s.n)
	s.rewind()
	for {
		_, ok, err := s.peek(st)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		c, err := s.take()
		if err != nil {
			return err
		}
		all = append(all, c)
	}
	slices.SortStableFunc(all, func(a, b summary) int { return cmp.Compare(a.at, b.at) })
	// Rewritten in segments of about sortedSeg bytes, so pass two never
	// reads much of it at once.
	var b []byte
	s.segs = s.segs[:0]
	for i, c := range all {
		b = appendComment(b, c.at, c.lat, c.head, c.tail)
		if len(b) >= sortedSeg || i == len(all)-1 {
			s.segs = append(s.segs, commentSeg{off: st.append(b), size: len(b)})
			b = b[:0]
		}
	}
	s.unsorted = false
	s.rewind()
	return st.err
}

// storeChunk is the size of the memory chunks of a store without a file.
const storeChunk = 64 << 10

// commentStore keeps segments of encoded comments in a temporary file,
// or in chunks of memory when it has none. The first error writing is
// kept in err, and reported by Write.
type commentStore struct {
	f    *os.File
	size int64
	mem  [][]byte
	err  error
}

// append stores b and returns its offset.
func (st *commentStore) append(b []byte) int64 {
	off := st.size
	st.size += int64(len(b))
	if st.f != nil {
		if _, err := st.f.Write(b); err != nil && st.err == nil {
			st.err = fmt.Errorf("writing packet comments to %s: %w (is the temp directory full? set TMPDIR)", st.f.Name(), err)
		}
		return off
	}
	for len(b) > 0 {
		k := len(st.mem) - 1
		if k < 0 || len(st.mem[k]) == cap(st.mem[k]) {
			st.mem = append(st.mem, make([]byte, 0, storeChunk))
			k++
		}
		n := min(len(b), cap(st.mem[k])-len(st.mem[k]))
		st.mem[k] = append(st.mem[k], b[:n]...)
		b = b[n:]
	}
	return off
}

// read returns a new buffer with the n bytes at off.
func (st *commentStore) read(off int64, n int) ([]byte, error) {
	if st.err != nil {
		return nil, st.err
	}
	b := make([]byte, n)
	if st.f != nil {
		if _, err := st.f.ReadAt(b, off); err != nil {
			return nil, fmt.Errorf("reading packet comments back from %s: %w", st.f.Name(), err)
		}
		return b, nil
	}
	for i := 0; i < n; {
		k, o := int((off+int64(i))/storeChunk), int((off+int64(i))%storeChunk)
		if k >= len(st.mem) || o >= len(st.mem[k]) {
			return nil, errBadComment
		}
		i += copy(b[i:], st.mem[k][o:])
	}
	return b, nil
}

// close removes the file, if there is one.
func (st *commentStore) close() error {
	if st.f == nil {
		return nil
	}
	err := st.f.Close()
	if rerr := os.Remove(st.f.Name()); err == nil {
		err = rerr
	}
	st.f = nil
	return err
}

// joinTexts is the comment text of several summaries, one line each.
func joinTexts(cs []summary) string {
	if len(cs) == 1 {
		return cs[0].text()
	}
	var b bytes.Buffer
	for i, c := range cs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(c.text())
	}
	return b.String()
}
