// Package tapdecode runs captures through tapview's own decoder, wired
// exactly as `tapview open` wires it, and counts what comes out. The
// benchmark generator uses it to check that what it recorded and wrote
// decodes to the exchanges it promised, and benchmarks use it to time the
// decoder without the CLI around it.
package tapdecode

import (
	"context"
	"fmt"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/dns"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/http2"
	"github.com/tapview/tapview/decode/pipeline"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/decode/tls"
	"github.com/tapview/tapview/decode/ws"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// Parsers returns the stream parsers in the order cmd/tapview offers
// them (cmd/tapview/parts.go streamParsers, without a key log), so counts
// here match what `tapview open` prints.
func Parsers() []decode.Parser {
	h1 := http1.NewWithOptions(http1.Options{GzipTrailerSizes: true})
	return []decode.Parser{h1, http2.New(), tls.New(nil, h1, http2.New()), dns.New(), ws.New()}
}

// NewDecoder returns a TCP decoder with tapview's parsers publishing to
// out.
func NewDecoder(out decode.Output) *tcp.Decoder {
	return tcp.NewDecoder(out, tcp.Config{Parsers: Parsers(), Datagrams: []decode.DatagramParser{dns.New()}})
}

// Counts tallies final exchanges, the way a headless JSON run prints
// them (one line per final exchange).
type Counts struct {
	Exchanges int64
	ByState   map[decode.ExchangeState]int64
	ByProto   map[string]int64
	Flows     map[uint64]struct{}
	Notes     []string
}

// NewCounts returns empty counts.
func NewCounts() *Counts {
	return &Counts{ByState: map[decode.ExchangeState]int64{}, ByProto: map[string]int64{}, Flows: map[uint64]struct{}{}}
}

// Flow implements decode.Output.
func (c *Counts) Flow(f *decode.Flow) { c.Flows[f.ID] = struct{}{} }

// Exchange implements decode.Output: only final publications count.
func (c *Counts) Exchange(e *decode.Exchange) {
	if !e.State.Final() {
		return
	}
	c.Exchanges++
	c.ByState[e.State]++
	c.ByProto[e.Proto]++
}

// Note implements decode.Output.
func (c *Counts) Note(s sources.Status) { c.Notes = append(c.Notes, s.Kind+": "+s.Message) }

// Packets decodes in-memory packets (in order) and returns the counts.
func Packets(pkts []sources.Packet) *Counts {
	c := NewCounts()
	d := NewDecoder(c)
	var last time.Time
	for i := range pkts {
		d.Packet(&pkts[i])
		last = pkts[i].Timestamp
	}
	d.Finish(last)
	return c
}

// File decodes a capture file through the same pipeline `tapview open`
// uses (pcapfile source, batching pipeline, one decoder goroutine).
func File(ctx context.Context, path string) (*Counts, error) {
	src, err := pcapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tapdecode: %w", err)
	}
	return Source(ctx, src)
}

// Source decodes one source through the pipeline, as File does.
func Source(ctx context.Context, src sources.Source) (*Counts, error) {
	c := NewCounts()
	d := NewDecoder(c)
	if err := pipeline.Run(ctx, []pipeline.Input{{Source: src}}, d, pipeline.Options{Notes: c}); err != nil {
		return nil, fmt.Errorf("tapdecode: %w", err)
	}
	return c, nil
}
