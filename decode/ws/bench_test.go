package ws

import (
	"bytes"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// nopConn is a decode.Conn that drops publications.
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

// BenchmarkMaskedFrames is 64 masked 1 KiB text frames per segment.
func BenchmarkMaskedFrames(b *testing.B) {
	var seg []byte
	for i := 0; i < 64; i++ {
		seg = append(seg, frame(true, 0, opText, key, bytes.Repeat([]byte("a"), 1024))...)
	}
	h := New().New(&nopConn{})
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	ts := t0
	for i := 0; i < b.N; i++ {
		ts = ts.Add(time.Millisecond)
		h.Data(decode.ClientToServer, seg, ts)
	}
}

// BenchmarkDeflateMessages is 64 compressed JSON messages (context
// takeover) per segment.
func BenchmarkDeflateMessages(b *testing.B) {
	d := &deflater{takeover: true}
	var seg []byte
	raw := 0
	for i := 0; i < 64; i++ {
		m := []byte(`{"event":"tick","seq":` + string(rune('0'+i%10)) + `,"payload":"` + string(bytes.Repeat([]byte("z"), 300)) + `"}`)
		raw += len(m)
		seg = append(seg, frame(true, 1<<2, opText, nil, d.compress(b, m))...)
	}
	h := New().New(&nopConn{})
	b.SetBytes(int64(raw))
	b.ReportAllocs()
	ts := t0
	for i := 0; i < b.N; i++ {
		ts = ts.Add(time.Millisecond)
		h.Data(decode.ServerToClient, seg, ts)
	}
}
