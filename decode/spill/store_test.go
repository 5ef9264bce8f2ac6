package spill

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

func openTest(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// flushForTest writes the buffer out, so Gets take the file path.
func flushForTest(t *testing.T, s *Store) {
	t.Helper()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
}

func checkGet(t *testing.T, s *Store, r Ref, want *decode.Exchange) {
	t.Helper()
	got, err := s.Get(r)
	if err != nil {
		t.Fatalf("get %#x: %v", uint64(r), err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("get %#x: got ID %d, differs from what was put (ID %d)", uint64(r), got.ID, want.ID)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	s := openTest(t, Options{})
	if s.Oldest() != 0 || s.Size() != 0 {
		t.Fatalf("empty store: Oldest %#x Size %d", s.Oldest(), s.Size())
	}
	var refs []Ref
	want := samples()
	for _, e := range want {
		r, err := s.Put(e)
		if err != nil {
			t.Fatal(err)
		}
		if r == 0 || (len(refs) > 0 && r <= refs[len(refs)-1]) {
			t.Fatalf("ref %#x after %v: not increasing", uint64(r), refs)
		}
		refs = append(refs, r)
		normalize(e)
	}
	if s.Oldest() != refs[0] {
		t.Errorf("Oldest %#x, want the first ref %#x", s.Oldest(), refs[0])
	}
	// First from the write buffer, then from the file.
	for i, r := range refs {
		checkGet(t, s, r, want[i])
	}
	flushForTest(t, s)
	for i, r := range refs {
		checkGet(t, s, r, want[i])
	}
	fi, err := os.Stat(filepath.Join(s.Dir(), "seg-00000001"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != s.Size() {
		t.Errorf("segment file has %d bytes, Size says %d", fi.Size(), s.Size())
	}
}

func TestStoreLargeRecordWritesThrough(t *testing.T) {
	s := openTest(t, Options{SegmentSize: 64 << 10, MaxBytes: 1 << 30})
	small := http1Exchange(1)
	big := http1Exchange(2)
	big.Response.Body = jsonBody(3*writeBuffer, 2)
	var refs []Ref
	for _, e := range []*decode.Exchange{small, big, small, big} {
		r, err := s.Put(e)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	for i, e := range []*decode.Exchange{small, big, small, big} {
		checkGet(t, s, refs[i], e)
	}
	if seg, _ := refs[3].split(); seg < 2 {
		t.Errorf("a record over SegmentSize did not start a new segment: ref %#x", uint64(refs[3]))
	}
}

func TestStoreBudgetDropsOldest(t *testing.T) {
	const segSize, maxBytes = 16 << 10, 64 << 10
	s := openTest(t, Options{SegmentSize: segSize, MaxBytes: maxBytes})
	var refs []Ref
	for i := range 200 { // about 2.6 KB each: 500 KB in all
		r, err := s.Put(http1Exchange(i))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
		if s.Size() > maxBytes {
			t.Fatalf("after put %d: Size %d over MaxBytes %d", i, s.Size(), maxBytes)
		}
	}
	oldest := s.Oldest()
	if oldest <= refs[0] || oldest > refs[len(refs)-1] {
		t.Fatalf("Oldest %#x, refs %#x..%#x", uint64(oldest), uint64(refs[0]), uint64(refs[len(refs)-1]))
	}
	gone, kept := 0, 0
	for i, r := range refs {
		e, err := s.Get(r)
		if r < oldest {
			if !errors.Is(err, ErrGone) {
				t.Fatalf("ref %d (%#x) below Oldest: err %v, want ErrGone", i, uint64(r), err)
			}
			gone++
			continue
		}
		if err != nil || e.ID != uint64(i) {
			t.Fatalf("ref %d (%#x) at or above Oldest: %v", i, uint64(r), err)
		}
		kept++
	}
	if gone == 0 || kept*2600 < maxBytes/2 {
		t.Errorf("gone %d kept %d: the budget should keep at least half of %d bytes", gone, kept, maxBytes)
	}
	// The files on disk are the live segments only, and Size counts
	// exactly their bytes.
	flushForTest(t, s)
	ents, err := os.ReadDir(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	var onDisk int64
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), "seg-") {
			fi, _ := ent.Info()
			onDisk += fi.Size()
		}
	}
	if onDisk > maxBytes || onDisk != s.Size() {
		t.Errorf("%d bytes of segments on disk, Size %d, budget %d", onDisk, s.Size(), maxBytes)
	}
}

// TestStoreDropWhileReading holds a reader on a segment while the budget
// drops it: the reader's file must stay open until it is done, and an
// exchange already returned is unaffected.
func TestStoreDropWhileReading(t *testing.T) {
	s := openTest(t, Options{SegmentSize: 8 << 10, MaxBytes: 32 << 10})
	first, err := s.Put(http1Exchange(0))
	if err != nil {
		t.Fatal(err)
	}
	flushForTest(t, s)
	held, err := s.Get(first)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	sg := s.segs[0]
	sg.readers++ // as Get does around its pread
	path := sg.path
	s.mu.Unlock()
	for i := 1; s.Oldest() == first; i++ {
		if _, err := s.Put(http1Exchange(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("segment removed while a reader holds it: %v", err)
	}
	if _, _, err := readFrame(sg.f, segHeaderLen, sg.size, nil); err != nil {
		t.Fatalf("reader lost its file: %v", err)
	}
	s.mu.Lock()
	sg.readers--
	sg.release()
	s.mu.Unlock()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dropped segment still on disk after its last reader: %v", err)
	}
	if _, err := s.Get(first); !errors.Is(err, ErrGone) {
		t.Errorf("get of a dropped record: %v, want ErrGone", err)
	}
	if !reflect.DeepEqual(held, normalized(http1Exchange(0))) {
		t.Error("an exchange returned before the drop changed")
	}
}

func normalized(e *decode.Exchange) *decode.Exchange { normalize(e); return e }

// TestStoreConcurrent runs a writer against readers with a small budget,
// so rotation, dropping, buffer reads and file reads all interleave. Run
// with -race.
func TestStoreConcurrent(t *testing.T) {
	s := openTest(t, Options{SegmentSize: 32 << 10, MaxBytes: 256 << 10})
	const n = 2000
	var (
		mu       sync.Mutex
		refs     []Ref
		ok, gone atomic.Int64
	)
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-done:
					return
				default:
				}
				mu.Lock()
				if len(refs) == 0 {
					mu.Unlock()
					runtime.Gosched()
					continue
				}
				// Mostly the newest records (in the buffer), some old.
				i := len(refs) - 1 - (k*7+w)%min(len(refs), 50)
				if k%5 == 0 {
					i = (k * 31) % len(refs)
				}
				r := refs[i]
				mu.Unlock()
				e, err := s.Get(r)
				switch {
				case errors.Is(err, ErrGone):
					if r >= s.Oldest() {
						errs <- errors.New("ErrGone for a ref at or above Oldest")
						return
					}
					gone.Add(1)
				case err != nil:
					errs <- err
					return
				case e.ID != uint64(i) || string(e.Response.Body) != string(jsonBody(2048, i)):
					errs <- errors.New("got the wrong record back")
					return
				default:
					ok.Add(1)
				}
			}
		})
	}
	for i := range n {
		r, err := s.Put(http1Exchange(i))
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if len(refs) > 0 && r <= refs[len(refs)-1] {
			t.Fatalf("put %d: ref %#x not above %#x", i, uint64(r), uint64(refs[len(refs)-1]))
		}
		refs = append(refs, r)
		mu.Unlock()
		if i%100 == 99 {
			// Let the readers in, however busy the machine is,
			// so reads interleave with every stage of writing.
			for seen := ok.Load() + gone.Load(); ok.Load()+gone.Load() < seen+4; {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ok.Load() == 0 || gone.Load() == 0 {
		t.Errorf("reads: %d ok, %d gone; want both", ok.Load(), gone.Load())
	}
	t.Logf("reads: %d ok, %d gone", ok.Load(), gone.Load())
}

func TestStoreConcurrentPuts(t *testing.T) {
	s := openTest(t, Options{})
	var wg sync.WaitGroup
	got := make([][]Ref, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				r, err := s.Put(http1Exchange(w*1000 + i))
				if err != nil {
					t.Error(err)
					return
				}
				got[w] = append(got[w], r)
			}
		})
	}
	wg.Wait()
	for w, refs := range got {
		for i, r := range refs {
			e, err := s.Get(r)
			if err != nil || e.ID != uint64(w*1000+i) {
				t.Fatalf("writer %d record %d: %v", w, i, err)
			}
			if i > 0 && r <= refs[i-1] {
				t.Fatalf("writer %d: refs not increasing", w)
			}
		}
	}
}

func TestStoreClose(t *testing.T) {
	s := openTest(t, Options{})
	r, err := s.Put(http1Exchange(1))
	if err != nil {
		t.Fatal(err)
	}
	dir := s.Dir()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory still there after Close: %v", err)
	}
	if _, err := s.Get(r); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Put(http1Exchange(2)); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close: %v, want ErrClosed", err)
	}
	if s.Oldest() != 0 || s.Size() != 0 {
		t.Errorf("after Close: Oldest %#x Size %d", s.Oldest(), s.Size())
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStoreCorruptSegment(t *testing.T) {
	s := openTest(t, Options{})
	var refs []Ref
	for i := range 3 {
		r, err := s.Put(http1Exchange(i))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	flushForTest(t, s)
	f, err := os.OpenFile(filepath.Join(s.Dir(), "seg-00000001"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, off1 := refs[1].split()
	// A flipped payload byte in record 1, a flipped length in record 2.
	if _, err := f.WriteAt([]byte{'X'}, off1+frameHeader+100); err != nil {
		t.Fatal(err)
	}
	_, off2 := refs[2].split()
	if _, err := f.WriteAt([]byte{0xff, 0xff, 0xff, 0x00}, off2); err != nil {
		t.Fatal(err)
	}
	checkGet(t, s, refs[0], normalized(http1Exchange(0)))
	for _, r := range refs[1:] {
		if e, err := s.Get(r); !errors.Is(err, ErrCorrupt) {
			t.Errorf("corrupt record %#x: got %v, %v; want ErrCorrupt", uint64(r), e != nil, err)
		}
	}
	// A Ref into the middle of a record, and ones past the end.
	for _, r := range []Ref{refs[0] + 3, makeRef(1, s.Size()), makeRef(1, s.Size()-4), makeRef(9, 8), 0} {
		if _, err := s.Get(r); err == nil {
			t.Errorf("bogus ref %#x: no error", uint64(r))
		}
	}
	// A torn tail: the file is shorter than the store believes.
	if err := f.Truncate(off2 + 20); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(refs[2]); err == nil {
		t.Error("torn record: no error")
	}
}

func TestOpenRejectsNegativeSizes(t *testing.T) {
	if _, err := Open(Options{Dir: t.TempDir(), MaxBytes: -1}); err == nil {
		t.Error("negative MaxBytes accepted")
	}
}

// TestStoreCloseWhileReading closes the store under running readers: each
// Get either succeeds or reports ErrClosed, and nothing races.
func TestStoreCloseWhileReading(t *testing.T) {
	s := openTest(t, Options{SegmentSize: 16 << 10, MaxBytes: 1 << 20})
	var refs []Ref
	for i := range 100 {
		r, err := s.Put(http1Exchange(i))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			<-start
			for k := 0; ; k++ {
				i := (k*13 + w) % len(refs)
				e, err := s.Get(refs[i])
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil || e.ID != uint64(i) {
					t.Errorf("get %d during Close: %v", i, err)
					return
				}
			}
		})
	}
	close(start)
	if _, err := s.Get(refs[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if _, err := os.Stat(s.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory left after Close under readers: %v", err)
	}
}

// TestStoreGetDuringWrite reads, while a full buffer is being written
// without the lock, records from the file, from the buffer in flight and
// from the new buffer: all come back.
func TestStoreGetDuringWrite(t *testing.T) {
	s := openTest(t, Options{})
	var refs []Ref
	writes, checked := 0, 0
	s.duringWrite = func() {
		writes++
		if writes != 2 {
			return
		}
		// Inside the Put of record n := len(refs), whose record
		// opens the new buffer; refs ends with the buffer in flight.
		n := len(refs)
		last := refs[n-1]
		next := last + Ref(frameHeader+len(AppendExchange(nil, http1Exchange(n-1))))
		s.mu.Lock()
		_, offFirst := refs[0].split()
		_, offLast := last.split()
		_, offNext := next.split()
		where := [3]bool{offFirst < s.inflightOff, s.inflight != nil && offLast >= s.inflightOff && offLast < s.bufOff, offNext == s.bufOff}
		s.mu.Unlock()
		if where != [3]bool{true, true, true} {
			t.Errorf("records not in file, flight and buffer as expected: %v", where)
		}
		for i, r := range map[int]Ref{0: refs[0], n - 1: last, n: next} {
			checkGet(t, s, r, normalized(http1Exchange(i)))
			checked++
		}
	}
	for i := 0; writes < 2; i++ {
		r, err := s.Put(http1Exchange(i))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	if checked != 3 {
		t.Fatalf("checked %d records during the write", checked)
	}
	if s.inflight != nil {
		t.Error("buffer still in flight after the write")
	}
}

// TestStoreWriteErrorIsSticky breaks the segment file under the store:
// the Put whose write fails reports it, later Puts refuse, and records
// already accepted stay readable from memory.
func TestStoreWriteErrorIsSticky(t *testing.T) {
	s := openTest(t, Options{})
	first, err := s.Put(http1Exchange(0))
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.active().f.Close()
	s.mu.Unlock()
	var werr error
	for i := 1; werr == nil; i++ {
		_, werr = s.Put(http1Exchange(i))
		if i > 1000 {
			t.Fatal("no write error from a closed segment file")
		}
	}
	if !strings.Contains(werr.Error(), "seg-00000001") {
		t.Errorf("write error does not name the file: %v", werr)
	}
	if _, err := s.Put(http1Exchange(0)); err == nil || err.Error() != werr.Error() {
		t.Errorf("Put after a write error: %v, want %v", err, werr)
	}
	checkGet(t, s, first, normalized(http1Exchange(0)))
}
