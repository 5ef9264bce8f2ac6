package http2

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/tapview/tapview/decode"
)

// chunk is one write of one direction.
type chunk struct {
	dir  decode.Direction
	data []byte
}

// wire writes a synthetic HTTP/2 connection with x/net's Framer and
// HPACK encoder, one encoder per direction, keeping the order of writes.
type wire struct {
	t      testing.TB
	chunks []chunk
	buf    bytes.Buffer
	fr     *http2.Framer
	enc    [2]*hpack.Encoder
	hbuf   [2]bytes.Buffer
}

func newWire(t testing.TB) *wire {
	w := &wire{t: t}
	w.fr = http2.NewFramer(&w.buf, nil)
	for d := range w.enc {
		w.enc[d] = hpack.NewEncoder(&w.hbuf[d])
	}
	return w
}

// start writes the client preface and both SETTINGS.
func (w *wire) start() *wire {
	w.raw(decode.ClientToServer, []byte(preface))
	w.do(decode.ClientToServer, func() error {
		return w.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	})
	w.do(decode.ServerToClient, func() error {
		return w.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 250})
	})
	w.do(decode.ServerToClient, func() error { return w.fr.WriteSettingsAck() })
	w.do(decode.ClientToServer, func() error { return w.fr.WriteSettingsAck() })
	return w
}

func (w *wire) raw(dir decode.Direction, b []byte) {
	w.chunks = append(w.chunks, chunk{dir, bytes.Clone(b)})
}

// do runs a Framer write and records its bytes as one chunk of dir.
func (w *wire) do(dir decode.Direction, write func() error) {
	w.t.Helper()
	w.buf.Reset()
	if err := write(); err != nil {
		w.t.Fatal(err)
	}
	w.raw(dir, w.buf.Bytes())
}

// block HPACK-encodes name/value pairs with dir's encoder.
func (w *wire) block(dir decode.Direction, kv ...string) []byte {
	w.hbuf[dir].Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		w.enc[dir].WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(w.hbuf[dir].Bytes())
}

func (w *wire) headers(dir decode.Direction, sid uint32, end bool, kv ...string) {
	blk := w.block(dir, kv...)
	w.do(dir, func() error {
		return w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: sid, BlockFragment: blk, EndStream: end, EndHeaders: true})
	})
}

func (w *wire) data(dir decode.Direction, sid uint32, end bool, b []byte) {
	w.do(dir, func() error { return w.fr.WriteData(sid, end, b) })
}

func (w *wire) get(sid uint32, path string) {
	w.headers(decode.ClientToServer, sid, true, ":method", "GET", ":scheme", "http", ":authority", "example.test", ":path", path, "user-agent", "wire-test")
}

func (w *wire) ok(sid uint32, body string) {
	w.headers(decode.ServerToClient, sid, body == "", ":status", "200", "content-type", "text/plain")
	if body != "" {
		w.data(decode.ServerToClient, sid, true, []byte(body))
	}
}

// stream concatenates each direction's bytes.
func (w *wire) stream() [2][]byte {
	var out [2][]byte
	for _, c := range w.chunks {
		out[c.dir] = append(out[c.dir], c.data...)
	}
	return out
}

// run feeds the chunks to a new handler (one Data call per chunk, 1 ms
// apart) and ends the connection.
func (w *wire) run(p *Parser, c *fakeConn, end decode.FlowState) *collector {
	h := p.New(c)
	ts := time.Unix(1000, 0)
	for _, ch := range w.chunks {
		ts = ts.Add(time.Millisecond)
		h.Data(ch.dir, ch.data, ts)
	}
	h.End(end, ts.Add(time.Millisecond))
	c.out.checkFinal()
	return c.out
}

// runSplit feeds each direction in pieces of n bytes, alternating
// directions in the original chunk order as far as possible.
func (w *wire) runSplit(p *Parser, c *fakeConn, n int) *collector {
	h := p.New(c)
	ts := time.Unix(1000, 0)
	for _, ch := range w.chunks {
		for off := 0; off < len(ch.data); off += n {
			ts = ts.Add(time.Microsecond)
			h.Data(ch.dir, ch.data[off:min(off+n, len(ch.data))], ts)
		}
	}
	h.End(decode.FlowClosed, ts.Add(time.Millisecond))
	c.out.checkFinal()
	return c.out
}
