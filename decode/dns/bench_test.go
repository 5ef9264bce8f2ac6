package dns

import (
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tapview/tapview/decode"
)

// nopConn is a decode.Conn that drops publications, so benchmarks
// measure the parser.
type nopConn struct {
	flow decode.Flow
	id   uint64
}

func (c *nopConn) Flow() *decode.Flow { return &c.flow }
func (c *nopConn) NewExchange(proto string) *decode.Exchange {
	c.id++
	return &decode.Exchange{ID: c.id, Proto: proto, State: decode.Pending}
}
func (c *nopConn) Publish(*decode.Exchange)            {}
func (c *nopConn) SetProto(string)                     {}
func (c *nopConn) SetTLS(*decode.TLSInfo)              {}
func (c *nopConn) SwapDirections()                     {}
func (c *nopConn) Handoff(string) decode.StreamHandler { return nil }
func (c *nopConn) Limits() decode.Limits               { return decode.Limits{} }
func (c *nopConn) Note(string)                         {}

// BenchmarkDatagramPair is one query and its (rich) response per op.
func BenchmarkDatagramPair(b *testing.B) {
	qry := query(b, 2, "www.example.org.", dnsmessage.TypeA)
	resp := richResponse(b, 2)
	h := New().NewDatagram(&nopConn{flow: decode.Flow{Transport: "udp"}})
	b.SetBytes(int64(len(qry) + len(resp)))
	b.ReportAllocs()
	ts := t0
	for i := 0; i < b.N; i++ {
		ts = ts.Add(time.Millisecond)
		h.Datagram(decode.ClientToServer, qry, ts)
		h.Datagram(decode.ServerToClient, resp, ts)
	}
}

// BenchmarkDetectDatagram is the cost of offering a DNS payload.
func BenchmarkDetectDatagram(b *testing.B) {
	resp := richResponse(b, 2)
	p := New()
	f := &decode.Flow{Transport: "udp"}
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if p.Detect(f, decode.ServerToClient, resp) != decode.Yes {
			b.Fatal("not detected")
		}
	}
}
