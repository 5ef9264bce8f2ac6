// Command heapprobe decodes a capture the way `tapview open FILE -o
// json` does (pcapfile source, pipeline, TCP decoder with tapview's
// parsers, masking jsonl.Writer to nowhere) and writes a heap profile of
// what is live after packet N, after a GC. It answers "what does the
// decoder keep while a big file streams through", which a profile at exit
// (everything released) cannot:
//
//	go run ./bench/heapprobe -at 1200000 -o heap.prof /tmp/h1.pcap
//	go tool pprof -sample_index=inuse_space -top heap.prof
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/tapview/tapview/bench/tapdecode"
	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/dns"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/decode/pipeline"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/export/jsonl"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// probe wraps the decoder and takes the profile after packet at.
type probe struct {
	d   *tcp.Decoder
	n   int
	at  int
	out string
	err error
}

func (p *probe) Packet(pk *sources.Packet) {
	p.d.Packet(pk)
	p.n++
	if p.n == p.at {
		p.err = writeHeap(p.out)
	}
}

func (p *probe) Finish(ts time.Time) { p.d.Finish(ts) }

func writeHeap(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}

func main() {
	at := flag.Int("at", 1_000_000, "take the profile after this many packets")
	out := flag.String("o", "heap.prof", "heap profile `FILE`")
	skip := flag.Bool("skip-ordinals", false, "decode with tcp.Config.SkipOrdinals")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: heapprobe [-at N] [-o FILE] [-skip-ordinals] CAPTURE")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *at, *out, *skip); err != nil {
		fmt.Fprintln(os.Stderr, "heapprobe:", err)
		os.Exit(1)
	}
}

func run(path string, at int, out string, skip bool) error {
	src, err := pcapfile.Open(path)
	if err != nil {
		return err
	}
	w := jsonl.NewWriter(io.Discard, jsonl.Options{Mask: mask.Default().Exchange})
	cfg := tcp.Config{Parsers: tapdecode.Parsers(), Datagrams: []decode.DatagramParser{dns.New()}, SkipOrdinals: skip}
	p := &probe{d: tcp.NewDecoder(w, cfg), at: at, out: out}
	if err := pipeline.Run(context.Background(), []pipeline.Input{{Source: src}}, p, pipeline.Options{Notes: w}); err != nil {
		return err
	}
	if p.n < at {
		return errors.New("the capture has fewer packets than -at")
	}
	return p.err
}
