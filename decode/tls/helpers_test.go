package tls

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/http2"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// collector is a decode.Output keeping the latest version of every flow
// and exchange.
type collector struct {
	flows map[uint64]*decode.Flow
	ex    map[uint64]*decode.Exchange
	notes []sources.Status
}

func newCollector() *collector {
	return &collector{flows: map[uint64]*decode.Flow{}, ex: map[uint64]*decode.Exchange{}}
}

func (c *collector) Flow(f *decode.Flow)         { c.flows[f.ID] = f }
func (c *collector) Exchange(e *decode.Exchange) { c.ex[e.ID] = e }
func (c *collector) Note(s sources.Status)       { c.notes = append(c.notes, s) }

// exchanges returns the exchanges in ID order.
func (c *collector) exchanges() []*decode.Exchange {
	var out []*decode.Exchange
	for _, e := range c.ex {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// tcpFlows returns the TCP flows in ID order.
func (c *collector) tcpFlows() []*decode.Flow {
	var out []*decode.Flow
	for _, f := range c.flows {
		if f.Transport == "tcp" {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// emitter feeds a pcapfile source into a decoder and hands Decryption
// Secrets Blocks to the key log, as the pipeline does.
type emitter struct {
	dec  *tcp.Decoder
	keys *keylog.KeyLog
	last time.Time
}

func (e *emitter) Packet(p sources.Packet) {
	e.last = p.Timestamp
	e.dec.Packet(&p)
}
func (e *emitter) Status(sources.Status) {}
func (e *emitter) Secrets(kind uint32, data []byte) {
	if e.keys != nil {
		e.keys.Secrets(kind, data)
	}
}

// corpusFile returns the path of a shared corpus capture, skipping the
// test when the corpus is not there.
func corpusFile(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "corpus")
	if d := os.Getenv("TAPVIEW_CORPUS"); d != "" {
		dir = d
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	return p
}

// decodeFile runs a capture through pcapfile and the TCP decoder with
// the TLS parser (keys from the file's DSB plus extra) and HTTP/1 inside.
func decodeFile(t testing.TB, path string, keys *keylog.KeyLog) *collector {
	t.Helper()
	src, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	out := newCollector()
	dec := tcp.NewDecoder(out, tcp.Config{Parsers: parsers(keys)})
	em := &emitter{dec: dec, keys: keys}
	_ = src.Run(context.Background(), em) // damaged corpus files end with an error by design
	dec.Finish(em.last)
	return out
}

// parsers is the parser set of the tests: TLS with HTTP/1 (and HTTP/2
// when available) inside, and the same cleartext parsers beside it.
func parsers(keys *keylog.KeyLog) []decode.Parser {
	inner := innerParsers()
	return append([]decode.Parser{New(keys, inner...)}, inner...)
}

func innerParsers() []decode.Parser {
	return []decode.Parser{http1.New(), http2.New()}
}

// keylogFrom returns a key store holding the given key log text.
func keylogFrom(text []byte) *keylog.KeyLog {
	k := keylog.New()
	k.AddText(text)
	return k
}

// newDecoder returns a TCP decoder with the given parsers.
func newDecoder(out decode.Output, ps []decode.Parser) *tcp.Decoder {
	return tcp.NewDecoder(out, tcp.Config{Parsers: ps})
}

// decodePackets runs recorded packets through the decoder.
func decodePackets(t testing.TB, pkts []sources.Packet, keys *keylog.KeyLog) *collector {
	t.Helper()
	out := newCollector()
	dec := tcp.NewDecoder(out, tcp.Config{Parsers: parsers(keys)})
	var last time.Time
	for i := range pkts {
		dec.Packet(&pkts[i])
		last = pkts[i].Timestamp
	}
	dec.Finish(last)
	return out
}
