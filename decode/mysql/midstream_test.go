package mysql

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// TestMidStreamJoin starts the capture in the middle of the main
// connection, at the UPDATE: the handshake is missing, so the decoder
// joins at the first command and every later exchange must come out as
// with the whole capture (user unknown).
func TestMidStreamJoin(t *testing.T) {
	pkts := readRecording(t)
	start := -1
	for i, p := range pkts {
		if bytes.Contains(p.Data, []byte("UPDATE pets SET qty = 9")) {
			start = i
			break
		}
	}
	if start < 0 {
		t.Fatal("UPDATE not in the recording")
	}
	col := decodePackets(t, pkts[start:])
	conns := connections(col)
	if len(conns) != 8 {
		t.Fatalf("%d connections, want 8", len(conns))
	}
	var methods []string
	for _, e := range conns[0] {
		methods = append(methods, e.Method())
		if e.State != decode.Complete {
			t.Errorf("%s %q: %s %s", e.Method(), e.Path(), e.State, e.Error)
		}
	}
	want := "UPDATE CREATE SET SELECT USE SELECT USE PREPARE SET EXECUTE DEALLOCATE SELECT LOAD DELETE QUIT"
	if strings.Join(methods, " ") != want {
		t.Errorf("joined mid-stream: %s\nwant %s", strings.Join(methods, " "), want)
	}
	up := conns[0][0]
	if up.Query.Rows != 2 || up.Query.User != "" {
		t.Errorf("UPDATE: rows %d user %q", up.Query.Rows, up.Query.User)
	}
	if multi := find(t, col, "SELECT", "COUNT(*)"); string(multi.Response.Body) != "n\n4\n\ntop\n4\n" {
		t.Errorf("multi-result after joining: %q", multi.Response.Body)
	}
}

// TestGapResynchronises loses bytes of a reply: that command ends
// Partial, and the next command decodes normally.
func TestGapResynchronises(t *testing.T) {
	c := newFakeConn(t)
	c.FlowInfo.Partial = true
	h := New().New(c)
	ts := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	q1 := pkt(0, append([]byte{comQuery}, "SELECT 1"...))
	h.Data(decode.ClientToServer, q1, ts)
	h.Data(decode.ServerToClient, []byte{1, 0, 0, 1, 1}, ts) // column count, then bytes go missing
	h.Gap(decode.ServerToClient, 100, ts)
	h.Data(decode.ServerToClient, []byte{0xde, 0xad, 0xbe, 0xef}, ts) // tail of the lost reply
	h.Data(decode.ClientToServer, pkt(0, append([]byte{comQuery}, "DELETE FROM t"...)), ts)
	h.Data(decode.ServerToClient, pkt(1, []byte{0, 3, 0, 2, 0, 0, 0}), ts)
	h.End(decode.FlowClosed, ts)
	xs := c.Exchanges()
	if len(xs) != 2 {
		t.Fatalf("%d exchanges, want 2", len(xs))
	}
	if xs[0].State != decode.Partial || xs[1].State != decode.Complete || xs[1].Query.Rows != 3 || xs[1].Method() != "DELETE" {
		t.Errorf("after the gap: %s, then %s %s rows %d", xs[0].State, xs[1].Method(), xs[1].State, xs[1].Query.Rows)
	}
	if len(c.Notes) == 0 {
		t.Error("the gap was not noted")
	}
}

// pkt frames a payload.
func pkt(seq byte, payload []byte) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}
