package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"google.golang.org/grpc"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/agent/server"
)

// synthHandle produces n synthetic frames at a given rate (0: as fast as
// the agent reads), then blocks until closed. With credits it produces a
// frame only for a credit the receiving side handed back, which keeps the
// agent's queue from overflowing: the lossless ceiling.
type synthHandle struct {
	n, rate int
	credits chan struct{}
	frame   []byte
	done    chan struct{} // closed after the last frame
	closed  chan struct{}
	once    sync.Once
	i       int
	start   time.Time
}

func (h *synthHandle) ReadPacket() (sources.Packet, error) {
	if h.i == h.n {
		close(h.done)
		<-h.closed
		return sources.Packet{}, io.EOF
	}
	if h.i == 0 {
		h.start = time.Now()
	}
	if h.credits != nil {
		<-h.credits
	}
	if h.rate > 0 && h.i%64 == 0 {
		due := h.start.Add(time.Duration(float64(h.i) / float64(h.rate) * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
	}
	h.i++
	// Each packet owns its bytes, as a live capture's do.
	data := append([]byte(nil), h.frame...)
	return sources.Packet{Timestamp: time.Now(), Data: data, OrigLen: len(data)}, nil
}

func (h *synthHandle) Close() error { h.once.Do(func() { close(h.closed) }); return nil }

// counter is an Emitter that only counts, like a decoder that keeps up.
type counter struct {
	packets atomic.Int64
	credits chan struct{}
	mu      sync.Mutex
	dropped int
}

var totalDropped = regexp.MustCompile(`\((\d+) in total\)`)

func (c *counter) Packet(sources.Packet) {
	c.packets.Add(1)
	if c.credits != nil {
		select {
		case c.credits <- struct{}{}:
		default:
		}
	}
}

func (c *counter) Status(s sources.Status) {
	if s.Kind == "CONGESTED" {
		if m := totalDropped.FindStringSubmatch(s.Message); m != nil {
			n, _ := strconv.Atoi(m[1])
			c.mu.Lock()
			c.dropped = n
			c.mu.Unlock()
		}
	}
}

// BenchmarkAgentStream streams b.N synthetic packets from tapview's agent
// server to the agent Source over in-process gRPC on loopback. "paced"
// offers 200,000 packets/s (and 20,000, to measure CPU per packet on a
// busy machine) and should lose nothing (drops are reported, and logged,
// not failed: the rate depends on the machine); "lossless" produces a packet only
// when the client has taken one (8192 in flight), which measures the
// fastest rate without loss; "max" offers as fast as the agent reads
// (drops allowed there).
func BenchmarkAgentStream(b *testing.B) {
	for _, size := range []int{128, 1514} {
		for _, rate := range []int{20_000, 200_000, -1, 0} {
			name := fmt.Sprintf("size=%d/paced=%d", size, rate)
			switch rate {
			case 0:
				name = fmt.Sprintf("size=%d/max", size)
			case -1:
				name = fmt.Sprintf("size=%d/lossless", size)
			}
			b.Run(name, func(b *testing.B) { benchStream(b, size, rate) })
		}
	}
}

func benchStream(b *testing.B, size, rate int) {
	frame := make([]byte, size)
	for i := range frame {
		frame[i] = byte(i)
	}
	handles := make(chan *synthHandle, 1)
	var credits chan struct{}
	if rate < 0 {
		credits = make(chan struct{}, 8192)
		for i := 0; i < cap(credits); i++ {
			credits <- struct{}{}
		}
		rate = 0
	}
	srv := server.New(server.Config{Open: func(string, uint32, []bpf.Instruction) (server.Handle, error) {
		h := &synthHandle{n: b.N, rate: rate, frame: frame, credits: credits, done: make(chan struct{}), closed: make(chan struct{})}
		handles <- h
		return h, nil
	}})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	g := grpc.NewServer(server.GRPCOptions()...)
	srv.Register(g)
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()

	src, err := New(Config{Addrs: []string{lis.Addr().String()}})
	if err != nil {
		b.Fatal(err)
	}
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	c := &counter{credits: credits}
	ctx, cancel := context.WithCancel(context.Background())
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx, c) }()
	h := <-handles
	<-h.done
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	close(stopSampling)
	got := c.packets.Load()
	c.mu.Lock()
	dropped := c.dropped
	c.mu.Unlock()
	if got+int64(dropped) != int64(b.N) {
		b.Fatalf("received %d + dropped %d != sent %d", got, dropped, b.N)
	}
	if (rate > 0 || credits != nil) && dropped > 0 && b.N >= 10000 {
		b.Logf("%d of %d packets dropped at %d packets/s", dropped, b.N, rate)
	}
	b.ReportMetric(float64(got)/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(float64(dropped), "dropped")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	// CPU per delivered packet (agent and client together) tells the
	// capacity even when other work shares the machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(max(got, 1)), "cpu-µs/pkt")
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
