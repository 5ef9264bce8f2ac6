package redis

import (
	"bufio"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
)

// t0 is a capture time for handler tests.
var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// recording is the capture scripts/record-redis.sh made, with its truth.
var recDir = filepath.Join("..", "..", "testdata", "redis")

// decodePackets runs packets through the TCP decoder with HTTP/1 and
// Redis, as cmd/tapview does.
func decodePackets(t testing.TB, pkts []sources.Packet) *decodetest.Collector {
	t.Helper()
	return decodetest.Decode(t, []decode.Parser{http1.New(), New()}, pkts)
}

func readRecording(t testing.TB) []sources.Packet {
	t.Helper()
	pkts, err := corpustest.ReadPath(filepath.Join(recDir, "redis.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

// truthLine is one command MONITOR saw.
type truthLine struct {
	db   string
	port uint16
	args []string
}

// readTruth parses monitor.txt: `TIME [DB ADDR:PORT] "CMD" "ARG"...`.
func readTruth(t testing.TB) []truthLine {
	t.Helper()
	f, err := os.Open(filepath.Join(recDir, "monitor.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []truthLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		i, j := strings.IndexByte(l, '['), strings.IndexByte(l, ']')
		if i < 0 || j < i {
			t.Fatalf("monitor.txt: bad line %q", l)
		}
		head := strings.Fields(l[i+1 : j])
		ap, err := netip.ParseAddrPort(head[1])
		if err != nil {
			t.Fatalf("monitor.txt: bad address in %q", l)
		}
		words, ok := splitArgs([]byte(l[j+1:]))
		if !ok {
			t.Fatalf("monitor.txt: bad quoting in %q", l)
		}
		tl := truthLine{db: head[0], port: ap.Port()}
		for _, w := range words {
			tl.args = append(tl.args, string(w))
		}
		out = append(out, tl)
	}
	return out
}

func monitorPort(t testing.TB) uint16 {
	b, err := os.ReadFile(filepath.Join(recDir, "monitor-port.txt"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return uint16(n)
}

func passwords(t testing.TB) []string {
	b, err := os.ReadFile(filepath.Join(recDir, "passwords.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// streams returns the reassembled bytes of every connection of the
// recording, per client port and direction, through a recording parser.
func streams(t testing.TB) map[uint16]*[2][]byte {
	t.Helper()
	out := map[uint16]*[2][]byte{}
	d := tcp.NewDecoder(decodetest.NewCollector(t), tcp.Config{Parsers: []decode.Parser{tap{out}}})
	pkts := readRecording(t)
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	d.Finish(time.Time{})
	return out
}

// tap is a parser that takes every connection and keeps its bytes.
type tap struct{ out map[uint16]*[2][]byte }

func (tap) Name() string                                                 { return "tap" }
func (tap) Detect(*decode.Flow, decode.Direction, []byte) decode.Verdict { return decode.Yes }
func (p tap) New(c decode.Conn) decode.StreamHandler {
	b := &[2][]byte{}
	p.out[c.Flow().Client.Port()] = b
	return tapHandler{b}
}

type tapHandler struct{ b *[2][]byte }

func (h tapHandler) Data(d decode.Direction, data []byte, _ time.Time) {
	h.b[d] = append(h.b[d], data...)
}
func (tapHandler) Gap(decode.Direction, int, time.Time) {}
func (tapHandler) End(decode.FlowState, time.Time)      {}

// newFakeConn returns a decode.Conn for handler unit tests.
func newFakeConn(t testing.TB) *decodetest.FakeConn {
	return decodetest.NewFakeConn(t, "tcp", "10.0.0.2:6379")
}
