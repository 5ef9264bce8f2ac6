// Command flood floods a tapview sink with Envoy tap traces over gRPC
// StreamTaps for a duration and, with -pid, samples that process's RSS
// every second. bench/soak.sh runs it against the real binary in tmux.
//
//	go run ./bench/soak/flood -addr 127.0.0.1:18080 -duration 5m -pid 1234 -csv rss.csv
//	go run ./bench/soak/flood -free-port      # print a free loopback port
//
// At the end it prints the RSS table (one row per 10 s), the peak, the
// growth check, and one line "result sent=... unacked=..." for scripts.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tapview/tapview/bench/soak"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "the sink's gRPC address")
	streams := flag.Int("streams", 8, "concurrent StreamTaps streams")
	conns := flag.Int("conns", 2, "gRPC connections the streams share")
	perStream := flag.Int("per-stream", 2000, "traces per stream before it is closed and acknowledged")
	duration := flag.Duration("duration", 30*time.Second, "how long to flood")
	token := flag.String("token", "", "bearer token for the sink")
	templates := flag.Int("templates", 1024, "distinct trace templates")
	pid := flag.Int("pid", 0, "sample this process's RSS (VmRSS) every second; 0: no sampling")
	csv := flag.String("csv", "", "write the RSS samples to this CSV file")
	warm := flag.Duration("warm", 30*time.Second, "warm-up left out of the growth check")
	wait := flag.Duration("wait", 20*time.Second, "wait this long for the address to accept connections")
	freePort := flag.Bool("free-port", false, "print a free loopback TCP port and exit")
	flag.Parse()

	if *freePort {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fail(err)
		}
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		return
	}
	if err := waitListening(*addr, *wait); err != nil {
		fail(err)
	}
	p, err := soak.NewTemplates(*templates, 1)
	if err != nil {
		fail(err)
	}
	fl, err := soak.New(soak.Config{Addr: *addr, Streams: *streams, Conns: *conns, PerStream: *perStream, Duration: *duration, Token: *token, Templates: p})
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var sampler *soak.Sampler
	sctx, stopSampling := context.WithCancel(ctx)
	if *pid > 0 {
		sampler = soak.StartSampler(sctx, *pid, time.Second, fl.Written)
	}
	fmt.Printf("flooding %s for %v: %d streams over %d connections, %d templates of %d bytes on average\n",
		*addr, *duration, *streams, *conns, p.Len(), p.MeanSize())
	res, runErr := fl.Run(ctx)
	stopSampling()
	fmt.Printf("sent %d traces (acknowledged by the server) in %v: %.0f traces/s, %.1f MB/s; %d streams; unacked %d on %d failed streams\n",
		res.Sent, res.Elapsed.Round(time.Millisecond), res.Rate(), float64(res.Bytes)/res.Elapsed.Seconds()/1e6, res.Streams, res.Unacked, res.Failed)
	for _, e := range res.Errors {
		fmt.Println("  stream error:", e)
	}
	if sampler != nil {
		ss, serr := sampler.Wait()
		if serr != nil {
			fmt.Println("sampling stopped:", serr)
		}
		if *csv != "" {
			f, err := os.Create(*csv)
			if err != nil {
				fail(err)
			}
			if err := soak.WriteCSV(f, ss); err != nil {
				fail(err)
			}
			f.Close()
		}
		fmt.Println()
		soak.Table(os.Stdout, ss, 10*time.Second)
		g := soak.CheckGrowth(ss, int(*warm/time.Second))
		fmt.Printf("\npeak RSS %s; growth after %v warm-up: %s\n", soak.MiB(soak.Peak(ss)), *warm, g.Description)
		fmt.Printf("result sent=%d unacked=%d failed=%d rate=%.0f peak_rss=%d middle_max=%d last_max=%d samples=%d\n",
			res.Sent, res.Unacked, res.Failed, res.Rate(), soak.Peak(ss), g.MiddleMax, g.LastMax, len(ss))
	} else {
		fmt.Printf("result sent=%d unacked=%d failed=%d rate=%.0f\n", res.Sent, res.Unacked, res.Failed, res.Rate())
	}
	if runErr != nil {
		fail(runErr)
	}
}

func waitListening(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not accept connections after %v: %w", addr, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "flood:", err)
	os.Exit(1)
}
