package mysql

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tcp"
)

// event is one call a handler received.
type event struct {
	dir  decode.Direction
	data []byte
}

// recorder is a parser that keeps, per connection, the Data calls a real
// handler would get, to seed the fuzzer with real conversations.
type recorder struct{ out *[][]event }

func (recorder) Name() string                                                 { return "rec" }
func (recorder) Detect(*decode.Flow, decode.Direction, []byte) decode.Verdict { return decode.Yes }
func (r recorder) New(decode.Conn) decode.StreamHandler {
	*r.out = append(*r.out, nil)
	return recHandler{r.out, len(*r.out) - 1}
}

type recHandler struct {
	out *[][]event
	i   int
}

func (h recHandler) Data(d decode.Direction, b []byte, _ time.Time) {
	(*h.out)[h.i] = append((*h.out)[h.i], event{d, append([]byte(nil), b...)})
}
func (recHandler) Gap(decode.Direction, int, time.Time) {}
func (recHandler) End(decode.FlowState, time.Time)      {}

// encode turns events into a fuzz input: per event a control byte (bit 0
// direction, bit 1 a gap before the data), a 2-byte length and the data.
func encode(evs []event) []byte {
	var b bytes.Buffer
	for _, e := range evs {
		n := min(len(e.data), 0xffff)
		b.Write([]byte{byte(e.dir), byte(n >> 8), byte(n)})
		b.Write(e.data[:n])
	}
	return b.Bytes()
}

// run replays a fuzz input into a fresh handler.
func run(t *testing.T, in []byte, partial bool) *decodetest.FakeConn {
	c := newFakeConn(t)
	c.FlowInfo.Partial = partial
	c.Lim = decode.Limits{MaxBody: 512, MaxDecoded: 1 << 20}
	h := New().New(c)
	ts := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for len(in) >= 3 {
		ctl, n := in[0], int(in[1])<<8|int(in[2])
		in = in[3:]
		n = min(n, len(in))
		dir := decode.Direction(ctl & 1)
		if ctl&2 != 0 {
			h.Gap(dir, -1, ts)
		}
		h.Data(dir, in[:n], ts)
		in = in[n:]
		ts = ts.Add(time.Millisecond)
	}
	h.End(decode.FlowClosed, ts)
	return c
}

// FuzzMySQL feeds conversations (seeded with every connection of the
// recording) to the handler: it must not panic, must publish every
// exchange final exactly once, and must keep bodies within the limit.
func FuzzMySQL(f *testing.F) {
	pkts, err := corpustest.ReadPath(filepath.Join(recDir, "mysql.pcap"))
	if err != nil {
		f.Fatal(err)
	}
	var conns [][]event
	d := tcp.NewDecoder(decodetest.NewCollector(f), tcp.Config{Parsers: []decode.Parser{recorder{&conns}}})
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	d.Finish(time.Time{})
	for _, c := range conns {
		f.Add(encode(c), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, partial bool) {
		c := run(t, in, partial)
		for _, e := range c.Exchanges() {
			if !e.State.Final() {
				t.Fatalf("exchange %d (%s) left %s", e.ID, e.Request.Method, e.State)
			}
			if e.Query == nil {
				t.Fatalf("exchange %d without Query", e.ID)
			}
			for _, m := range []*decode.Message{e.Request, e.Response} {
				if m != nil && len(m.Body) > 512 {
					t.Fatalf("body of %d bytes over the 512-byte limit", len(m.Body))
				}
			}
		}
	})
}
