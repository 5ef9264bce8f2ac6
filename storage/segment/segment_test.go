package segment

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
	"github.com/tapview/tapview/sources/taptrace"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// collect gathers what a source emits.
type collect struct {
	mu      sync.Mutex
	packets []sources.Packet
	traces  []sources.Trace
}

func (c *collect) Packet(p sources.Packet) {
	c.mu.Lock()
	c.packets = append(c.packets, p)
	c.mu.Unlock()
}
func (c *collect) Trace(t sources.Trace) { c.mu.Lock(); c.traces = append(c.traces, t); c.mu.Unlock() }
func (c *collect) Status(sources.Status) {}

func readPackets(t *testing.T, path string) []sources.Packet {
	t.Helper()
	src, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var c collect
	if err := src.Run(context.Background(), &c); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return c.packets
}

// segments records what Done delivers.
type segments struct {
	mu   sync.Mutex
	list []Segment
}

func (s *segments) done(seg Segment) { s.mu.Lock(); s.list = append(s.list, seg); s.mu.Unlock() }
func (s *segments) all() []Segment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Segment(nil), s.list...)
}

var testMeta = Meta{CaptureID: "20261207T110000Z-0badf00d", Source: "agent 10.0.0.7:8083", User: "kube:alice", Masked: false}

// TestRollsBySize cuts a real capture (the leak corpus's HTTP/1 one) into
// small segments: every segment stands alone (tshark reads it and counts
// its packets), names its capture in the section comment, and together
// they hold every packet, byte for byte, in order.
func TestRollsBySize(t *testing.T) {
	in := readPackets(t, filepath.Join("..", "..", "testdata", "leak", "h1.pcap"))
	var got segments
	w, err := New(Options{Dir: t.TempDir(), MaxBytes: 8 << 10, Meta: testMeta, Application: "tapview test", Done: got.done})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range in {
		w.Packet(p)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	segs := got.all()
	if len(segs) < 3 {
		t.Fatalf("%d segments of a %d-packet capture at 8 KiB each, want at least 3", len(segs), len(in))
	}
	var back []sources.Packet
	for i, s := range segs {
		if s.Seq != i+1 || s.Kind != Packets || !strings.HasSuffix(s.Path, ".pcapng") {
			t.Errorf("segment %d: seq %d kind %d path %s", i, s.Seq, s.Kind, s.Path)
		}
		st, err := os.Stat(s.Path)
		if err != nil || st.Size() != s.Bytes {
			t.Errorf("segment %d: Bytes %d, file %v %v", s.Seq, s.Bytes, st, err)
		}
		// A segment may pass MaxBytes by the packet that crossed it.
		if s.Bytes > 8<<10+2048 {
			t.Errorf("segment %d is %d bytes, want about 8 KiB", s.Seq, s.Bytes)
		}
		pk := readPackets(t, s.Path)
		if int64(len(pk)) != s.Items {
			t.Errorf("segment %d: %d packets read back, Items says %d", s.Seq, len(pk), s.Items)
		}
		if !pk[0].Timestamp.Equal(s.First) || !pk[len(pk)-1].Timestamp.Equal(s.Last) {
			t.Errorf("segment %d: First/Last %v/%v, packets %v..%v", s.Seq, s.First, s.Last, pk[0].Timestamp, pk[len(pk)-1].Timestamp)
		}
		back = append(back, pk...)
		comment := sectionComment(t, s.Path)
		for _, want := range []string{testMeta.CaptureID, "segment " + strconv.Itoa(s.Seq), testMeta.Source, testMeta.User, "NOT masked"} {
			if !strings.Contains(comment, want) {
				t.Errorf("segment %d section comment %q lacks %q", s.Seq, comment, want)
			}
		}
		// tshark takes seconds to start: the first and last segments
		// stand for the others.
		if i == 0 || i == len(segs)-1 {
			tsharkCount(t, s.Path, len(pk))
		}
	}
	if len(back) != len(in) {
		t.Fatalf("%d packets in the segments, %d captured", len(back), len(in))
	}
	for i := range in {
		if !bytes.Equal(back[i].Data, in[i].Data) || !back[i].Timestamp.Equal(in[i].Timestamp) || back[i].OrigLen != in[i].OrigLen {
			t.Fatalf("packet %d differs after the round trip", i+1)
		}
	}
}

// sectionComment is the first opt_comment of the file's section header.
func sectionComment(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 28 || string(b[:4]) != "\x0a\x0d\x0d\x0a" {
		t.Fatalf("%s does not start with a section header", path)
	}
	n := int(b[4]) | int(b[5])<<8 | int(b[6])<<16 | int(b[7])<<24
	opts := b[24 : n-4]
	for len(opts) >= 4 {
		code, l := int(opts[0])|int(opts[1])<<8, int(opts[2])|int(opts[3])<<8
		if code == 1 {
			return string(opts[4 : 4+l])
		}
		opts = opts[4+(l+3)&^3:]
	}
	return ""
}

// tsharkCount checks that tshark reads the file whole and counts n
// packets, when tshark is installed (scripts/test-deps.sh installs it).
func tsharkCount(t *testing.T, path string, n int) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed: run scripts/test-deps.sh")
	}
	var stderr bytes.Buffer
	cmd := exec.Command("tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.number")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v\n%s", path, err, stderr.String())
	}
	if got := strings.Count(string(out), "\n"); got != n {
		t.Errorf("tshark reads %d packets from %s, want %d", got, path, n)
	}
}

// TestRollsByTime ends a segment that has been open for MaxAge even when
// no more packets come, so a quiet capture still reaches the store.
func TestRollsByTime(t *testing.T) {
	in := readPackets(t, filepath.Join("..", "..", "testdata", "leak", "dns.pcap"))
	var got segments
	w, err := New(Options{Dir: t.TempDir(), MaxAge: 150 * time.Millisecond, Meta: testMeta, Done: got.done})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Packet(in[0])
	deadline := time.Now().Add(5 * time.Second)
	for len(got.all()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if segs := got.all(); len(segs) != 1 || segs[0].Items != 1 {
		t.Fatalf("after MaxAge: segments %+v, want one of 1 packet", segs)
	}
	w.Packet(in[1])
	w.Close()
	segs := got.all()
	if len(segs) != 2 || segs[1].Seq != 2 || segs[1].Items != 1 {
		t.Fatalf("segments %+v, want a second one of 1 packet", segs)
	}
	tsharkCount(t, segs[1].Path, 1)
}

// TestBudgetDrops refuses what does not fit in the budget and counts it,
// instead of writing past the bound.
func TestBudgetDrops(t *testing.T) {
	in := readPackets(t, filepath.Join("..", "..", "testdata", "leak", "h1.pcap"))
	var got segments
	w, err := New(Options{Dir: t.TempDir(), Meta: testMeta, Budget: fixedRoom(4 << 10), Done: got.done})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range in {
		w.Packet(p)
	}
	w.Close()
	segs := got.all()
	if len(segs) != 1 {
		t.Fatalf("%d segments, want 1", len(segs))
	}
	if segs[0].Bytes > 4<<10 {
		t.Errorf("segment of %d bytes in a 4 KiB budget", segs[0].Bytes)
	}
	if kept := segs[0].Items; kept == 0 || kept+w.Dropped() != int64(len(in)) {
		t.Errorf("kept %d + dropped %d packets, captured %d", kept, w.Dropped(), len(in))
	}
}

type fixedRoom int64

func (f fixedRoom) Room() int64 { return int64(f) }

// TestTraceSegments writes Envoy traces as length-delimited segments
// that tapview's trace reader reads back whole.
func TestTraceSegments(t *testing.T) {
	var got segments
	w, err := New(Options{Dir: t.TempDir(), MaxBytes: 2 << 10, Meta: testMeta, Done: got.done})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := 1; i <= n; i++ {
		w.Trace(sources.Trace{Wrapper: tracetest.HTTPBuffered(i, "/t/"+strconv.Itoa(i), 200, "ok"), Arrival: time.Now()})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	segs := got.all()
	if len(segs) < 2 {
		t.Fatalf("%d trace segments, want several at 2 KiB each", len(segs))
	}
	total := 0
	for _, s := range segs {
		if s.Kind != Traces || !strings.HasSuffix(s.Path, ".pb_length_delimited") {
			t.Errorf("segment %+v is not a trace segment", s)
		}
		src, err := taptrace.Open(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		var c collect
		if err := src.Run(context.Background(), &c); err != nil {
			t.Fatal(err)
		}
		if int64(len(c.traces)) != s.Items {
			t.Errorf("segment %d: %d traces read back, Items %d", s.Seq, len(c.traces), s.Items)
		}
		total += len(c.traces)
	}
	if total != n {
		t.Errorf("%d traces in the segments, want %d", total, n)
	}
}

// TestKeysRepeatedPerSegment puts the TLS keys seen so far at the start
// of every later segment, so a segment alone still decrypts.
func TestKeysRepeatedPerSegment(t *testing.T) {
	in := readPackets(t, filepath.Join("..", "..", "testdata", "leak", "dns.pcap"))
	var got segments
	w, err := New(Options{Dir: t.TempDir(), MaxBytes: 1, Meta: testMeta, Done: got.done})
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("CLIENT_RANDOM 0011 2233\n")
	w.Secrets(0x544c534b, key)
	w.Packet(in[0])
	w.Packet(in[1])
	w.Close()
	segs := got.all()
	if len(segs) != 2 {
		t.Fatalf("%d segments, want 2 (MaxBytes 1)", len(segs))
	}
	for _, s := range segs {
		b, _ := os.ReadFile(s.Path)
		if !bytes.Contains(b, key) {
			t.Errorf("segment %d lacks the key log seen before it", s.Seq)
		}
	}
}
