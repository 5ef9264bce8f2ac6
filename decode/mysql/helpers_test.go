package mysql

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tls"
	"github.com/tapview/tapview/sources"
)

// recDir holds the capture scripts/record-mysql.sh made, with its truth.
var recDir = filepath.Join("..", "..", "testdata", "mysql")

// decodePackets runs packets through the TCP decoder with HTTP/1, TLS and
// MySQL, as cmd/tapview does, and checks every exchange ended final.
func decodePackets(t testing.TB, pkts []sources.Packet) *decodetest.Collector {
	t.Helper()
	h1 := http1.New()
	return decodetest.Decode(t, []decode.Parser{h1, tls.New(nil, h1), New()}, pkts)
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

// newFakeConn returns a decode.Conn for handler unit tests.
func newFakeConn(t testing.TB) *decodetest.FakeConn {
	return decodetest.NewFakeConn(t, "tcp", "10.0.0.2:3306")
}
