package mysql

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/decode/tls"
	"github.com/tapview/tapview/sources"
)

// recDir holds the capture scripts/record-mysql.sh made, with its truth.
var recDir = filepath.Join("..", "..", "testdata", "mysql")

// collector is a decode.Output keeping the latest version of every
// exchange; a publication after the final one fails the test.
type collector struct {
	t     testing.TB
	ex    map[uint64]*decode.Exchange
	order []uint64
	flows map[uint64]*decode.Flow
	notes []sources.Status
}

func newCollector(t testing.TB) *collector {
	return &collector{t: t, ex: map[uint64]*decode.Exchange{}, flows: map[uint64]*decode.Flow{}}
}

func (c *collector) Flow(f *decode.Flow) { c.flows[f.ID] = f }

func (c *collector) Exchange(e *decode.Exchange) {
	if old, ok := c.ex[e.ID]; ok {
		if old.State.Final() {
			c.t.Errorf("exchange %d (%s) published after its final version", e.ID, e.Method())
		}
	} else {
		c.order = append(c.order, e.ID)
	}
	c.ex[e.ID] = e
}

func (c *collector) Note(s sources.Status) { c.notes = append(c.notes, s) }

// exchanges returns the latest versions in first-publication order.
func (c *collector) exchanges() []*decode.Exchange {
	out := make([]*decode.Exchange, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.ex[id])
	}
	return out
}

// decodePackets runs packets through the TCP decoder with HTTP/1, TLS and
// MySQL, as cmd/tapview does, and checks every exchange ended final.
func decodePackets(t testing.TB, pkts []sources.Packet) *collector {
	t.Helper()
	col := newCollector(t)
	h1 := http1.New()
	d := tcp.NewDecoder(col, tcp.Config{Parsers: []decode.Parser{h1, tls.New(nil, h1), New()}})
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	d.Finish(time.Time{})
	for _, e := range col.ex {
		if !e.State.Final() {
			t.Errorf("exchange %d (%s) left %s", e.ID, e.Method(), e.State)
		}
	}
	return col
}

func readRecording(t testing.TB) []sources.Packet {
	t.Helper()
	pkts, err := corpustest.ReadPath(filepath.Join(recDir, "mysql.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

// logEntry is one command of the general log.
type logEntry struct {
	thread  string
	command string // "Connect", "Query", "Prepare", "Execute", "Close stmt", "Init DB", "Quit"
	arg     string
}

// readGeneralLog parses the server's general log: after the three
// header lines, entries are "[date time]\tID Command\tArgument".
func readGeneralLog(t testing.TB) []logEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(recDir, "general.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []logEntry
	sc := bufio.NewScanner(f)
	for n := 0; sc.Scan(); n++ {
		l := sc.Text()
		if n < 3 {
			continue
		}
		parts := strings.SplitN(l, "\t", 4)
		if len(parts) < 3 {
			t.Fatalf("general.log: bad line %q", l)
		}
		// "261207 11:11:55\t     4 Connect\targ" or "\t\t     4 Query\targ"
		var head, arg string
		if parts[0] == "" && parts[1] == "" {
			head = parts[2]
			if len(parts) == 4 {
				arg = parts[3]
			}
		} else {
			head = parts[1]
			arg = parts[2]
		}
		w := strings.Fields(head)
		if len(w) < 2 {
			t.Fatalf("general.log: bad line %q", l)
		}
		out = append(out, logEntry{thread: w[0], command: strings.Join(w[1:], " "), arg: arg})
	}
	return out
}

// fakeConn is a decode.Conn for handler tests.
type fakeConn struct {
	t       testing.TB
	flow    decode.Flow
	lim     decode.Limits
	nextID  uint64
	latest  map[uint64]*decode.Exchange
	order   []uint64
	notes   []string
	swapped int
}

func newFakeConn(t testing.TB) *fakeConn {
	return &fakeConn{t: t, flow: decode.Flow{Transport: "tcp"}, latest: map[uint64]*decode.Exchange{}}
}

func (c *fakeConn) Flow() *decode.Flow { return &c.flow }
func (c *fakeConn) NewExchange(proto string) *decode.Exchange {
	c.nextID++
	return &decode.Exchange{ID: c.nextID, Proto: proto, State: decode.Pending}
}
func (c *fakeConn) Publish(e *decode.Exchange) {
	if old, ok := c.latest[e.ID]; ok {
		if old.State.Final() {
			c.t.Errorf("exchange %d published after its final version", e.ID)
		}
	} else {
		c.order = append(c.order, e.ID)
	}
	cp := *e
	c.latest[e.ID] = &cp
}
func (c *fakeConn) SetProto(string)                     {}
func (c *fakeConn) SetTLS(*decode.TLSInfo)              {}
func (c *fakeConn) SwapDirections()                     { c.swapped++ }
func (c *fakeConn) Handoff(string) decode.StreamHandler { return nil }
func (c *fakeConn) Limits() decode.Limits               { return c.lim }
func (c *fakeConn) Note(msg string)                     { c.notes = append(c.notes, msg) }
func (c *fakeConn) exchanges() (out []*decode.Exchange) {
	for _, id := range c.order {
		out = append(out, c.latest[id])
	}
	return out
}
