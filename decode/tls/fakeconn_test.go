package tls

import (
	"bufio"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// fakeConn is a decode.Conn recording what a handler does with it.
type fakeConn struct {
	flow   decode.Flow
	tls    []decode.TLSInfo
	notes  []string
	ex     map[uint64]*decode.Exchange
	nextID uint64
	swaps  int
	protos []string
}

func newFakeConn() *fakeConn { return &fakeConn{ex: map[uint64]*decode.Exchange{}} }

func (c *fakeConn) Flow() *decode.Flow { return &c.flow }
func (c *fakeConn) NewExchange(proto string) *decode.Exchange {
	c.nextID++
	return &decode.Exchange{ID: c.nextID, Proto: proto, State: decode.Pending, SNI: c.flow.SNI}
}
func (c *fakeConn) Publish(e *decode.Exchange) {
	cp := *e
	c.ex[e.ID] = &cp
}
func (c *fakeConn) SetProto(p string) {
	c.flow.Proto = p
	c.protos = append(c.protos, p)
}
func (c *fakeConn) SetTLS(info *decode.TLSInfo) {
	c.tls = append(c.tls, *info)
	c.flow.TLS = info
	if info.SNI != "" {
		c.flow.SNI = info.SNI
	}
}
func (c *fakeConn) SwapDirections()                     { c.swaps++ }
func (c *fakeConn) Handoff(string) decode.StreamHandler { return nil }
func (c *fakeConn) Limits() decode.Limits               { return decode.Limits{}.WithDefaults() }
func (c *fakeConn) Note(msg string)                     { c.notes = append(c.notes, msg) }

// lastTLS returns the latest TLS facts given to the conn.
func (c *fakeConn) lastTLS() decode.TLSInfo {
	if len(c.tls) == 0 {
		return decode.TLSInfo{}
	}
	return c.tls[len(c.tls)-1]
}

// sink is an inner parser that takes any plaintext and keeps it per
// direction, with gaps marked as "<gap>".
type sink struct {
	got   [2][]byte
	gaps  [2]int
	ended bool
}

func (s *sink) Name() string { return "sink" }
func (s *sink) Detect(*decode.Flow, decode.Direction, []byte) decode.Verdict {
	return decode.Yes
}
func (s *sink) New(decode.Conn) decode.StreamHandler { return sinkHandler{s} }

type sinkHandler struct{ s *sink }

func (h sinkHandler) Data(dir decode.Direction, data []byte, _ time.Time) {
	h.s.got[dir] = append(h.s.got[dir], data...)
}
func (h sinkHandler) Gap(dir decode.Direction, _ int, _ time.Time) { h.s.gaps[dir]++ }
func (h sinkHandler) End(decode.FlowState, time.Time)              { h.s.ended = true }

// vectors reads a "name hex" test vector file from testdata.
func vectors(t testing.TB, name string) map[string][]byte {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		b, err := hex.DecodeString(strings.ReplaceAll(v, " ", ""))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		out[k] = b
	}
	return out
}

// event is one Data call of a scripted session.
type event struct {
	dir  decode.Direction
	data []byte
}

// play feeds events to a handler, each split into pieces of at most
// chunk bytes (0: whole), and ends it.
func play(h decode.StreamHandler, events []event, chunk int) {
	ts := time.Unix(1700000000, 0)
	for _, e := range events {
		d := e.data
		for len(d) > 0 {
			n := len(d)
			if chunk > 0 && n > chunk {
				n = chunk
			}
			ts = ts.Add(time.Millisecond)
			h.Data(e.dir, d[:n], ts)
			d = d[n:]
		}
	}
	h.End(decode.FlowClosed, ts.Add(time.Millisecond))
}

func hexs(b []byte) string { return hex.EncodeToString(b) }
