// Command gen writes large, realistic capture files for benchmarks:
//
//	go run ./bench/gen -requests 300000 -o /tmp/big.pcap
//	go run ./bench/gen -size 600M -mix mixed -o /tmp/mixed.pcapng
//
// It records a few hundred real exchanges between net/http, h2c and
// grpc-go clients and servers on 127.0.0.1, then replays those byte
// streams as packets (export/synth) into a streaming pcap or pcapng
// writer (export/pcapw) until the requested number of exchanges or
// bytes is written. See bench/README.md.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/bench/capgen"
	"github.com/tapview/tapview/bench/tapdecode"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/sources"
)

type config struct {
	out         string
	requests    int64
	size        int64
	mix         string
	seed        uint64
	concurrency int
	verify      bool
}

func main() {
	var c config
	var size string
	flag.StringVar(&c.out, "o", "", "capture `FILE` to write (.pcapng for pcapng, anything else pcap)")
	flag.Int64Var(&c.requests, "requests", 0, "exchanges to write")
	flag.StringVar(&size, "size", "", "bytes to write at least, e.g. 150M, 1G (with -requests: both)")
	flag.StringVar(&c.mix, "mix", capgen.MixHTTP1, "traffic: http1 (HTTP/1.1 keep-alive) or mixed (+ h2c and gRPC)")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed of the request mix and the replay")
	flag.IntVar(&c.concurrency, "conns", 64, "connections open at once")
	flag.BoolVar(&c.verify, "verify", false, "decode the written file with tapview's decoder and check the exchange count")
	flag.Parse()
	if size != "" {
		n, err := parseSize(size)
		if err != nil {
			fail(err)
		}
		c.size = n
	}
	if c.out == "" || (c.requests <= 0 && c.size <= 0) {
		fmt.Fprintln(os.Stderr, "usage: gen -o FILE (-requests N | -size BYTES) [-mix http1|mixed]")
		os.Exit(2)
	}
	if err := run(context.Background(), c, os.Stderr); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gen:", err)
	os.Exit(1)
}

// parseSize reads "150M", "1G", "600MB" or a plain byte count.
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSuffix(strings.ToUpper(s), "B"))
	mult := int64(1)
	switch {
	case strings.HasSuffix(u, "K"):
		mult, u = 1<<10, u[:len(u)-1]
	case strings.HasSuffix(u, "M"):
		mult, u = 1<<20, u[:len(u)-1]
	case strings.HasSuffix(u, "G"):
		mult, u = 1<<30, u[:len(u)-1]
	}
	n, err := strconv.ParseFloat(u, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("-size %q: want a size like 150M", s)
	}
	return int64(n * float64(mult)), nil
}

// countingWriter counts the bytes that reach the file.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func run(ctx context.Context, c config, log io.Writer) error {
	t0 := time.Now()
	opts := capgen.RecordOptions{Seed: c.seed}
	if c.mix != capgen.MixMixed {
		opts.H2C, opts.GRPC = -1, -1
	}
	corpus, err := capgen.Record(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "recorded %d HTTP/1.1 exchanges, %d h2c and %d gRPC connections in %v\n",
		len(corpus.HTTP1), len(corpus.H2C), len(corpus.GRPC), time.Since(t0).Round(time.Millisecond))

	f, err := os.Create(c.out)
	if err != nil {
		return fmt.Errorf("creating the capture: %w", err)
	}
	defer f.Close()
	cw := &countingWriter{w: f}
	bw := bufio.NewWriterSize(cw, 1<<20)
	var pw pcapw.PacketWriter
	if strings.EqualFold(filepath.Ext(c.out), ".pcapng") {
		pw, err = pcapw.NewPcapng(bw, pcapw.NgOptions{Application: "tapview bench/gen",
			Comment: "real net/http, h2c and grpc-go traffic recorded on 127.0.0.1 and replayed (bench/gen)"})
	} else {
		pw, err = pcapw.NewPcap(bw, sources.LinkEthernet, 0, true)
	}
	if err != nil {
		return fmt.Errorf("starting the capture: %w", err)
	}
	t1 := time.Now()
	st, err := capgen.Replay(pw, corpus, capgen.ReplayOptions{
		Requests: c.requests, Bytes: c.size, Written: func() int64 { return cw.n + int64(bw.Buffered()) },
		Mix: c.mix, Seed: c.seed, Concurrency: c.concurrency,
	})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the capture: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the capture: %w", err)
	}
	fmt.Fprintf(log, "wrote %s: %d exchanges %v, %d connections, %d packets, %d bytes in %v\n",
		c.out, st.Exchanges, st.ByProto, st.Connections, st.Packets, cw.n, time.Since(t1).Round(time.Millisecond))
	if c.verify {
		return verify(ctx, c.out, st, log)
	}
	return nil
}

// verify decodes the file as `tapview open` would and compares counts.
func verify(ctx context.Context, path string, st capgen.Stats, log io.Writer) error {
	got, err := tapdecode.File(ctx, path)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "verified: %d exchanges %v %v\n", got.Exchanges, got.ByState, got.ByProto)
	if got.Exchanges != st.Exchanges {
		return errors.New("decoded exchange count differs from the written one")
	}
	return nil
}
