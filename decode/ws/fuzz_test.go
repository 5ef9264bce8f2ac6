package ws

import (
	"testing"

	"github.com/tapview/tapview/decode"
)

// FuzzFrames feeds arbitrary bytes as a WebSocket connection: each chunk
// is a control byte (direction, gap), a length byte and that many bytes.
// The handler must not panic, must respect the limits, must never change
// what it published, and must leave every exchange final.
func FuzzFrames(f *testing.F) {
	add := func(feeds []feed) {
		var b []byte
		for _, fd := range feeds {
			for d := fd.data; len(d) > 0; {
				n := min(len(d), 255)
				b = append(b, byte(fd.dir), byte(n))
				b = append(b, d[:n]...)
				d = d[n:]
			}
		}
		f.Add(b)
	}
	add(conversation()[:3])
	d := &deflater{takeover: true}
	add([]feed{
		{decode.ServerToClient, frame(true, 1<<2, opText, nil, d.compress(f, []byte("hello hello hello"))), 0},
		{decode.ServerToClient, frame(false, 1<<2, opText, nil, d.compress(f, []byte("hello again"))), 0},
		{decode.ServerToClient, frame(true, 0, opContinuation, nil, []byte{0}), 0},
	})
	f.Add([]byte{0x80, 0, 1, 2, 0x82, 0x7f})
	lim := decode.Limits{MaxBody: 1 << 10, MaxDecoded: 64 << 10, MaxParts: 50}
	f.Fuzz(func(t *testing.T, b []byte) {
		c := newFakeConn(t, lim)
		h := New().New(c)
		i := 0
		for len(b) >= 2 {
			ctl, n := b[0], min(int(b[1]), len(b)-2)
			dir := decode.Direction(ctl & 1)
			if ctl&0x80 != 0 {
				h.Gap(dir, int(ctl>>1&0x3f)-1, at(i))
			}
			h.Data(dir, b[2:2+n], at(i))
			b = b[2+n:]
			i++
		}
		h.End(decode.FlowClosed, at(i))
		c.checkImmutable()
		for id, x := range c.latest {
			if !x.State.Final() {
				t.Fatalf("exchange %d left %s", id, x.State)
			}
			if len(x.Response.Parts) > lim.MaxParts {
				t.Fatalf("exchange %d has %d parts", id, len(x.Response.Parts))
			}
			for _, p := range x.Response.Parts {
				if len(p.Data) > lim.MaxBody+32 { // close text adds a status name
					t.Fatalf("part of %d bytes kept", len(p.Data))
				}
			}
		}
	})
}
