package jsonl

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapview/tapview/decode/mask"
)

// writeCounter counts the writes that reach the underlying writer (the
// syscalls a real stdout would see).
type writeCounter struct {
	mu     sync.Mutex
	writes int
	buf    bytes.Buffer
}

func (c *writeCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

func (c *writeCounter) counts() (writes int, data string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes, c.buf.String()
}

func putRecord(o *Output, line string) {
	o.Lock()
	o.PutString(line + "\n")
	o.EndRecord()
	o.Unlock()
}

// A live Output over a real pipe: every record of a slow producer can be
// read at once, before the next one is written.
func TestLiveOutputFlushesEachSlowRecord(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	o := NewOutput(w, 64<<10, true)
	lines := bufio.NewReader(r)
	for i := range 5 {
		want := strings.Repeat("x", i+1)
		putRecord(o, want)
		got := make(chan string, 1)
		go func() { s, _ := lines.ReadString('\n'); got <- s }()
		select {
		case s := <-got:
			if s != want+"\n" {
				t.Fatalf("record %d: read %q, want %q", i, s, want)
			}
		case <-time.After(FlushEvery / 2):
			// Shorter than the periodic flush: only the per-record flush
			// can deliver it in time.
			t.Fatalf("record %d still buffered after %v", i, FlushEvery/2)
		}
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	w.Close()
}

// A flood is batched: far fewer writes than records, yet nothing waits
// longer than the periodic flush.
func TestLiveOutputBatchesFloodAndFlushesPeriodically(t *testing.T) {
	c := &writeCounter{}
	o := NewOutput(c, 1<<20, true)
	const n = 5000
	for i := range n {
		putRecord(o, "record "+string(rune('a'+i%26)))
	}
	writes, _ := c.counts()
	if writes > 2*flushBudget {
		t.Errorf("%d records in one burst took %d writes, want at most %d", n, writes, 2*flushBudget)
	}
	deadline := time.Now().Add(2 * FlushEvery)
	for {
		_, data := c.counts()
		if strings.Count(data, "\n") == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d records written %v after the burst", strings.Count(data, "\n"), n, 2*FlushEvery)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
}

// A file-backed Output writes only when its buffer fills or at Close.
func TestBatchOutputWritesAtEnd(t *testing.T) {
	c := &writeCounter{}
	o := NewOutput(c, 64<<10, false)
	for range 100 {
		putRecord(o, "row")
	}
	time.Sleep(FlushEvery + 50*time.Millisecond)
	if writes, _ := c.counts(); writes != 0 {
		t.Fatalf("%d writes before Close, want 0", writes)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if writes, data := c.counts(); writes != 1 || strings.Count(data, "\n") != 100 {
		t.Fatalf("after Close: %d writes, %d lines; want 1 write of 100 lines", writes, strings.Count(data, "\n"))
	}
}

// Close stops the flusher even while other goroutines write, and a write
// error is reported instead of being lost.
func TestOutputCloseRaceAndError(t *testing.T) {
	r, w, _ := os.Pipe()
	o := NewOutput(w, 1<<10, true)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				putRecord(o, "concurrent")
			}
		})
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	wg.Wait()
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	r.Close()
	w.Close()
	o2 := NewOutput(w, 16, false)
	putRecord(o2, strings.Repeat("y", 64))
	if err := o2.Close(); err == nil {
		t.Fatal("writing to a closed pipe: no error")
	}
}

// BenchmarkWriterExchangeLive is BenchmarkWriterExchange on a streaming
// Writer at full speed: the budget keeps flushes per record rare.
func BenchmarkWriterExchangeLive(b *testing.B) {
	xs := plantedExchanges(b)
	e := xs[1]
	c := &writeCounter{}
	w := NewWriter(c, Options{Mask: mask.Default().Exchange, Live: true})
	b.ReportAllocs()
	for b.Loop() {
		w.Exchange(e)
		c.mu.Lock()
		if c.buf.Len() > 1<<20 {
			c.buf.Reset()
		}
		c.mu.Unlock()
	}
	b.StopTimer()
	_ = w.Flush()
	writes, _ := c.counts()
	b.ReportMetric(float64(writes)/float64(b.N), "writes/op")
}
