package mesh_test

import (
	"net/netip"
	"sync"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/dns"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/http2"
	"github.com/tapview/tapview/decode/mesh"
	"github.com/tapview/tapview/decode/tcp"
	dtls "github.com/tapview/tapview/decode/tls"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/sources"
)

// Captures of a sidecar pod come from the mesh bed (scripts/meshbed.sh,
// testdata/meshbed, bed_test.go), which records real iptables NAT and a
// real proxy; the hand-made sidecar capture this file used to build
// (loopback traffic recorded under chosen addresses) showed redirected
// connections with the same addresses both ways, which no capture does.

// decodeInto runs packets through the decoder the way cmd/tapview builds
// it (HTTP/1, HTTP/2, TLS with the given key log, DNS) into out; a
// Labeler's Wire goes in front of the decoder, as in cmd/tapview.
func decodeInto(pkts []sources.Packet, keys []byte, out decode.Output) {
	kl := keylog.New()
	kl.AddText(keys)
	h1 := http1.New()
	d := tcp.NewDecoder(out, tcp.Config{
		Parsers:   []decode.Parser{h1, http2.New(), dtls.New(kl, h1, http2.New()), dns.New()},
		Datagrams: []decode.DatagramParser{dns.New()},
	})
	var in mesh.PacketDecoder = d
	if l, ok := out.(*mesh.Labeler); ok {
		in = l.Wire(d)
	}
	var last time.Time
	for i := range pkts {
		p := pkts[i]
		in.Packet(&p)
		last = p.Timestamp
	}
	d.Finish(last.Add(time.Second))
}

// collector keeps the latest version of every flow and exchange.
type collector struct {
	mu    sync.Mutex
	ex    map[uint64]*decode.Exchange
	order []uint64
	flows map[uint64]*decode.Flow
}

func newCollector() *collector {
	return &collector{ex: map[uint64]*decode.Exchange{}, flows: map[uint64]*decode.Flow{}}
}

func (c *collector) Flow(f *decode.Flow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flows[f.ID] = f
}

func (c *collector) Exchange(e *decode.Exchange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ex[e.ID]; !ok {
		c.order = append(c.order, e.ID)
	}
	c.ex[e.ID] = e
}

func (c *collector) Note(sources.Status) {}

func (c *collector) exchanges() []*decode.Exchange {
	out := make([]*decode.Exchange, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.ex[id])
	}
	return out
}

// flowByClient finds the flow whose client is ap.
func (c *collector) flowByClient(ap netip.AddrPort) *decode.Flow {
	for _, f := range c.flows {
		if f.Client == ap {
			return f
		}
	}
	return nil
}
