package packets

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/decode/pipeline"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// benchCapture writes a capture of n keep-alive connections, each with
// four exchanges whose requests carry a bearer token and whose responses
// carry 8 KiB of JSON: every exchange has something to mask.
func benchCapture(b *testing.B, n int) (string, int64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.pcap")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := pcapw.NewPcap(bw, 1, 0, true)
	if err != nil {
		b.Fatal(err)
	}
	filler := strings.Repeat(`{"id":12345,"name":"item","tags":["a","b","c"]},`, 170)
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		c, err := synth.NewTCP(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(30000+i%20000)),
			netip.MustParseAddrPort("10.1.0.1:80"), synth.Options{})
		if err != nil {
			b.Fatal(err)
		}
		write := func(ps []sources.Packet) {
			for _, p := range ps {
				if err := w.WritePacket(p, ""); err != nil {
					b.Fatal(err)
				}
			}
		}
		write(c.Open(at))
		for k := range 4 {
			tok := fmt.Sprintf("tok-%08d-%d-abcdefghijklmnop", i, k)
			req := "GET /api/items?page=" + fmt.Sprint(k) + " HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer " + tok + "\r\n\r\n"
			body := `{"owner":"user` + fmt.Sprint(i) + `@example.com","items":[` + filler + `{}]}`
			resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			at = at.Add(time.Millisecond)
			write(c.Send(decode.ClientToServer, []byte(req), at))
			write(c.Send(decode.ServerToClient, []byte(resp), at.Add(200*time.Microsecond)))
		}
		write(c.Close(at.Add(time.Millisecond)))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	st, _ := f.Stat()
	f.Close()
	return path, st.Size()
}

// BenchmarkExportMasked measures the whole two-pass export of a capture
// file (decode, then re-read, mask, checksum, write pcapng) and the peak
// heap while doing it, to show that memory does not grow with the file:
// the heap holds ordinals, summaries and secret values, never packets.
func BenchmarkExportMasked(b *testing.B) {
	for _, conns := range []int{500, 4000} {
		path, size := benchCapture(b, conns)
		for _, streams := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dMB/streams=%v", size>>20, streams), func(b *testing.B) {
				b.SetBytes(size)
				var peak atomic.Uint64
				stop := sampleHeap(&peak)
				for range b.N {
					plan := NewPlan(true, mask.Default())
					col := NewCollector(plan, CollectOptions{})
					src, err := pcapfile.Open(path)
					if err != nil {
						b.Fatal(err)
					}
					dec := tcp.NewDecoder(col, tcp.Config{Parsers: []decode.Parser{http1.New()}})
					var in sources.Source = src
					if streams {
						in = plan.Tap(src, NewSourceSet(), nil)
					}
					if err := pipeline.Run(context.Background(), []pipeline.Input{{Source: in}}, dec, pipeline.Options{}); err != nil {
						b.Fatal(err)
					}
					src2, err := pcapfile.Open(path)
					if err != nil {
						b.Fatal(err)
					}
					pw, err := pcapw.NewPcapng(io.Discard, pcapw.NgOptions{})
					if err != nil {
						b.Fatal(err)
					}
					res, err := Write(context.Background(), pw, plan, Inputs{Captured: []Stream{FromSource(context.Background(), src2, nil)}}, Options{})
					if err != nil {
						b.Fatal(err)
					}
					if res.Masked == 0 {
						b.Fatal("nothing masked")
					}
				}
				stop()
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
			})
		}
	}
}

// sampleHeap records the largest HeapInuse seen until stop is called.
func sampleHeap(peak *atomic.Uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
