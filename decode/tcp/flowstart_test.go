package tcp

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode/link/corpustest"
)

// TestFlowStartIsEarliestPacket: captures merged from several interfaces
// or files deliver packets out of time order, and a flow starts at its
// earliest packet, whichever was read first. A real capture is read with
// its second packet first (as a merge of two interfaces can deliver it);
// the start must still be the first packet's time, which tshark gives as
// the stream's earliest frame.
func TestFlowStartIsEarliestPacket(t *testing.T) {
	const name = "http11_get_plain.pcap"
	pkts := corpustest.Read(t, name)
	if len(pkts) < 3 {
		t.Fatalf("%s: %d packets", name, len(pkts))
	}
	pkts[0], pkts[1] = pkts[1], pkts[0]
	out := newCollector()
	d := NewDecoder(out, Config{})
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	d.Finish(time.Time{})
	fs := out.transport("tcp")
	if len(fs) != 1 {
		t.Fatalf("%d TCP flows", len(fs))
	}
	earliest := pkts[0].Timestamp
	for _, p := range pkts {
		if p.Timestamp.Before(earliest) {
			earliest = p.Timestamp
		}
	}
	if !fs[0].First.Equal(earliest) {
		t.Errorf("flow starts %v, its earliest packet is %v", fs[0].First, earliest)
	}
	if !fs[0].First.Before(pkts[0].Timestamp) {
		t.Fatalf("the reordered capture does not put a later packet first")
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		return
	}
	raw, err := exec.Command("tshark", "-r", filepath.Join(corpustest.Dir(t), name), "-Y", "tcp.stream == 0",
		"-T", "fields", "-e", "frame.time_epoch", "-c", "1").Output()
	if err != nil {
		t.Fatal(err)
	}
	sec, frac, _ := strings.Cut(strings.TrimSpace(string(raw)), ".")
	secs, err1 := strconv.ParseInt(sec, 10, 64)
	nanos, err2 := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("tshark printed %q", raw)
	}
	want := time.Unix(secs, nanos)
	if !fs[0].First.Equal(want) {
		t.Errorf("flow starts %v, tshark's first frame of the stream is at %v", fs[0].First, want)
	}
}
