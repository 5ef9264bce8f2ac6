package postgres

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
)

// t0 is a capture time for handler tests.
var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// recDir holds the capture scripts/record-postgres.sh made, with its
// truth.
var recDir = filepath.Join("..", "..", "testdata", "postgres")

// decodePackets runs packets through the TCP decoder with PostgreSQL as
// the only parser.
func decodePackets(t testing.TB, pkts []sources.Packet) *decodetest.Collector {
	t.Helper()
	return decodetest.Decode(t, []decode.Parser{New()}, pkts)
}

func readRecording(t testing.TB) []sources.Packet {
	t.Helper()
	pkts, err := corpustest.ReadPath(filepath.Join(recDir, "postgres.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

// newFakeConn returns a decode.Conn for handler unit tests.
func newFakeConn(t testing.TB) *decodetest.FakeConn {
	return decodetest.NewFakeConn(t, "tcp", "10.0.0.2:5432")
}
