package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

type emitter struct{ d *tcp.Decoder }

func (e emitter) Packet(p sources.Packet) { e.d.Packet(&p) }
func (e emitter) Status(sources.Status)   {}

// decodeFile decodes a capture with HTTP/1 and Kafka offered, as
// cmd/tapview offers them (HTTP/1 first, so Kafka must not be needed to
// refuse HTTP).
func decodeFile(t testing.TB, path string) *decodetest.Collector {
	t.Helper()
	src, err := pcapfile.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	col := decodetest.NewCollector(t)
	d := tcp.NewDecoder(naming{col, NewNamer()}, tcp.Config{Parsers: []decode.Parser{http1.New(), New()}})
	if err := src.Run(context.Background(), emitter{d}); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	d.Finish(time.Time{})
	return col
}

// naming passes exchanges through a Namer on their way to the
// collector, as the merge of cmd/tapview's decoder lanes does.
type naming struct {
	*decodetest.Collector
	n *Namer
}

func (o naming) Exchange(e *decode.Exchange) {
	o.n.Name(e)
	o.Collector.Exchange(e)
}

// newFakeConn returns a decode.Conn for handler unit tests.
func newFakeConn(t testing.TB) *decodetest.FakeConn {
	return decodetest.NewFakeConn(t, "tcp", "10.0.0.9:9092")
}
