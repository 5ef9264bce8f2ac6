package dns

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// decoderEmitter feeds a pcapfile source into a decoder.
type decoderEmitter struct{ d *tcp.Decoder }

func (e decoderEmitter) Packet(p sources.Packet) { e.d.Packet(&p) }
func (e decoderEmitter) Status(sources.Status)   {}

// newDecoder builds the decoder the way cmd/tapview does, with HTTP/1 so
// HTTP in the same capture is still decoded.
func newDecoder(out decode.Output) *tcp.Decoder {
	p := New()
	return tcp.NewDecoder(out, tcp.Config{
		Parsers:   []decode.Parser{http1.New(), p},
		Datagrams: []decode.DatagramParser{p},
	})
}

// decodeCorpus reads a corpus file through pcapfile and the TCP/UDP
// decoder and returns what was published.
func decodeCorpus(t testing.TB, name string) *decodetest.Collector {
	t.Helper()
	src, err := pcapfile.Open(filepath.Join(corpustest.Dir(t), name))
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	col := decodetest.NewCollector(t)
	d := newDecoder(col)
	if err := src.Run(context.Background(), decoderEmitter{d}); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	d.Finish(time.Time{})
	return col
}

// newFakeConn returns a decode.Conn for handler unit tests.
func newFakeConn(t testing.TB, transport string) *decodetest.FakeConn {
	return decodetest.NewFakeConn(t, transport, "10.0.0.53:53")
}
