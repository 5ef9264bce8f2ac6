package sink_test

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapsvc "github.com/envoyproxy/go-control-plane/envoy/service/tap/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/tapview/tapview/decode"
	dtap "github.com/tapview/tapview/decode/taptrace"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/sink"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// decoding is an emitter that decodes every trace into exchanges and
// throws them away, so a load run measures the sink and the trace
// decoder together, as the pipeline runs them.
type decoding struct {
	d     *dtap.Decoder
	n     atomic.Int64
	total int64
	done  chan struct{}
}

func newDecoding(total int64) *decoding {
	var id uint64
	return &decoding{
		d:     dtap.NewDecoder(discard{}, nil, func() uint64 { id++; return id }, dtap.Options{}),
		total: total,
		done:  make(chan struct{}),
	}
}

func (e *decoding) Packet(sources.Packet) {}
func (e *decoding) Status(sources.Status) {}
func (e *decoding) Trace(t sources.Trace) {
	e.d.Trace(&t)
	if e.n.Add(1) == e.total {
		close(e.done)
	}
}

type discard struct{}

func (discard) Exchange(*decode.Exchange) {}
func (discard) Flow(*decode.Flow)         {}
func (discard) Note(sources.Status)       {}

// peakHeap samples the live heap every few milliseconds until stopped.
func peakHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 { close(quit); wg.Wait(); return peak.Load() }
}

// sendLoad sends total traces over streams concurrent StreamTaps streams
// (distinct realistic HTTP traces, ~400 bytes each on the wire). The
// StreamTapsRequests are built with go-control-plane's types and
// marshalled once up front, then sent as bytes, so the measurement is the
// sink's work and not the test client's protobuf encoding (Envoy does
// that part in C++).
func sendLoad(t testing.TB, addr string, streams, total int) {
	cc := dial(t, addr)
	pool := make([][]byte, 1024)
	for i := range pool {
		w := tracetest.HTTPBuffered(i, fmt.Sprintf("/load/%d?q=%d", i, i*7), 200, `{"id":`+fmt.Sprint(i)+`,"name":"widget","tags":["a","b"]}`)
		b, err := proto.Marshal(&tapsvc.StreamTapsRequest{Trace: w, TraceId: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		pool[i] = b
	}
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for g := 0; g < streams; g++ {
		n := total / streams
		if g < total%streams {
			n++
		}
		wg.Go(func() {
			first, _ := proto.Marshal(&tapsvc.StreamTapsRequest{Identifier: &tapsvc.StreamTapsRequest_Identifier{Node: &corev3.Node{Id: fmt.Sprint("load-", g)}}})
			st, err := cc.NewStream(context.Background(), &grpc.StreamDesc{ClientStreams: true}, tapsvc.TapSinkService_StreamTaps_FullMethodName, grpc.ForceCodecV2(rawCodec{}))
			if err == nil {
				err = st.SendMsg(first)
			}
			for i := 0; i < n && err == nil; i++ {
				err = st.SendMsg(pool[(g*7919+i)%len(pool)])
			}
			if err == nil {
				err = st.CloseSend()
			}
			if err == nil {
				var out []byte
				err = st.RecvMsg(&out)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// cpuTime is the process's user+system CPU time, a steadier measure
// than wall time on a machine shared with other work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSinkLoad sends b.N traces from 8 concurrent gRPC streams
// through the sink into the trace decoder and reports traces/s, the peak
// live heap and drops. Run the load with -benchtime=200000x.
func BenchmarkSinkLoad(b *testing.B) {
	runtime.GC()
	em := newDecoding(int64(b.N))
	s := start(b, sink.Config{}, em)
	stop := peakHeap()
	b.ResetTimer()
	begin, cpu0 := time.Now(), cpuTime()
	sendLoad(b, s.GRPCAddr().String(), 8, b.N)
	c := s.Counts()
	if want := int64(b.N) - c.Dropped; want > 0 {
		for em.n.Load() < want {
			time.Sleep(time.Millisecond)
		}
	}
	elapsed, cpu := time.Since(begin), cpuTime()-cpu0
	b.StopTimer()
	peak := stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "traces/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(c.Dropped), "dropped")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/trace")
	if c.Received+c.Dropped != int64(b.N) {
		b.Fatalf("counts %+v for %d sent", c, b.N)
	}
}

// Below the drop threshold (the queue can hold the burst) nothing is
// lost, whatever the timing: 40,000 traces from 8 streams all arrive.
func TestLoadNothingLostBelowThreshold(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 40,000 traces")
	}
	const total = 40000
	em := newDecoding(total)
	s := start(t, sink.Config{QueueTraces: total}, em)
	sendLoad(t, s.GRPCAddr().String(), 8, total)
	select {
	case <-em.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%d of %d traces decoded", em.n.Load(), total)
	}
	if c := s.Counts(); c.Received != total || c.Dropped != 0 {
		t.Fatalf("counts %+v", c)
	}
	if st := em.d.Stats(); st.Exchanges != total {
		t.Fatalf("decoder stats %+v", st)
	}
}
