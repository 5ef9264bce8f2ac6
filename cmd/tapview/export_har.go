package main

import (
	"context"
	"runtime"
	"sync"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/export/har"
	"github.com/tapview/tapview/sources"
)

// harOutput is the decode.Output of a HAR export. The decoder's goroutine
// only filters and counts; masking and encoding an entry (inflating its
// bodies, scanning them, JSON) cost more than decoding the exchange, so
// they run on workers, one per core, and one goroutine writes the
// entries in the order the exchanges came: the file is the same as a
// sequential export's, and the export takes about as long as the slower
// of decoding and encoding instead of their sum.
type harOutput struct {
	e *exporter
	w *har.Writer
	n int

	work  chan *harJob // to the workers
	order chan *harJob // to the writer, in decoder order
	wg    sync.WaitGroup
	wrote chan struct{} // closed when the writer has written every job
	bufs  sync.Pool     // *[]byte for encoded entries

	mu  sync.Mutex
	err error // first error encoding or writing
}

// harJob is one exchange on its way to the file.
type harJob struct {
	x    *decode.Exchange
	b    *[]byte
	err  error
	done chan struct{} // closed when b (or err) is ready
}

func newHAROutput(e *exporter, w *har.Writer) *harOutput {
	n := max(1, runtime.GOMAXPROCS(0))
	h := &harOutput{e: e, w: w, work: make(chan *harJob, 4*n), order: make(chan *harJob, 8*n), wrote: make(chan struct{})}
	for range n {
		h.wg.Add(1)
		go h.encode()
	}
	go h.write()
	return h
}

func (h *harOutput) Flow(*decode.Flow)     {}
func (h *harOutput) Note(s sources.Status) { h.e.note(s) }

// Exchange takes a final, matching exchange for the file. Published
// exchanges are immutable, so the workers may read it after this returns.
func (h *harOutput) Exchange(x *decode.Exchange) {
	if !x.State.Final() || !har.Supported(x) || h.failed() {
		return
	}
	if p := h.e.matcher(); p != nil && !p.Match(x) {
		return
	}
	if h.e.f.count > 0 && h.n >= h.e.f.count {
		return
	}
	j := &harJob{x: x, done: make(chan struct{})}
	h.order <- j
	h.work <- j
	h.n++
	if h.e.f.count > 0 && h.n == h.e.f.count {
		h.e.cancel()
	}
}

// encode is a worker: it masks and encodes jobs.
func (h *harOutput) encode() {
	defer h.wg.Done()
	var enc har.Encoder
	defer enc.Close()
	for j := range h.work {
		b, _ := h.bufs.Get().(*[]byte)
		if b == nil {
			b = new([]byte)
		}
		// The masker inflates bodies through enc, which remembers them
		// for the entry: one inflate per body.
		*b, j.err = enc.Entry(h.e.masker.ExchangeDecoding(j.x, &enc), (*b)[:0])
		j.b = b
		j.x = nil
		close(j.done)
	}
}

// write writes the jobs' entries in order.
func (h *harOutput) write() {
	defer close(h.wrote)
	for j := range h.order {
		<-j.done
		err := j.err
		if err == nil && !h.failed() {
			err = h.w.AddEncoded(*j.b)
		}
		if err != nil {
			h.fail(err)
		}
		if cap(*j.b) <= 1<<20 {
			h.bufs.Put(j.b)
		}
	}
}

func (h *harOutput) fail(err error) {
	h.mu.Lock()
	if h.err == nil {
		h.err = err
	}
	h.mu.Unlock()
}

func (h *harOutput) failed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err != nil
}

// close waits for every entry to be written and returns the first error.
func (h *harOutput) close() error {
	close(h.work)
	close(h.order)
	h.wg.Wait()
	<-h.wrote
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

func harComment(m *mask.Masker) string {
	if m != nil {
		return "masked: secret values replaced by " + mask.Display
	}
	return "not masked"
}

func (e *exporter) har(ctx context.Context, ins []exportInput, out *output) (string, error) {
	w, err := har.NewWriter(out.w, har.Options{Name: "tapview", Version: versionString(), Comment: harComment(e.masker)})
	if err != nil {
		return "", err
	}
	// Entries die as soon as they are written: as for open -o json, the
	// heap may grow past what is live before the collector runs.
	defer heapFloor(headlessHeapFloor)()
	h := newHAROutput(e, w)
	err = runPipeline(ctx, plainInputs(ins), e.keys, h, nil)
	if herr := h.close(); err == nil {
		err = herr
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	what := "wrote " + count(w.Entries(), "HAR entry")
	if e.masker != nil {
		return what + ", masked", err
	}
	return what + ", NOT masked", err
}
