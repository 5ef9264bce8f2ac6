package upload

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
	s3store "github.com/tapview/tapview/storage/s3"
	"github.com/tapview/tapview/storage/s3/s3test"
	"github.com/tapview/tapview/storage/segment"
)

type collect struct {
	mu      sync.Mutex
	packets []sources.Packet
}

func (c *collect) Packet(p sources.Packet) {
	c.mu.Lock()
	c.packets = append(c.packets, p)
	c.mu.Unlock()
}
func (c *collect) Status(sources.Status) {}

func readPackets(t *testing.T, name string, r io.Reader) []sources.Packet {
	t.Helper()
	src, err := pcapfile.New(name, r)
	if err != nil {
		t.Fatal(err)
	}
	var c collect
	if err := src.Run(context.Background(), &c); err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return c.packets
}

func corpus(t *testing.T) []sources.Packet {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "leak", "h1.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return readPackets(t, "h1.pcap", f)
}

// notes collects the recorder's notes.
type notes struct {
	mu   sync.Mutex
	list []sources.Status
}

func (n *notes) add(s sources.Status) { n.mu.Lock(); n.list = append(n.list, s); n.mu.Unlock() }
func (n *notes) text() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var b strings.Builder
	for _, s := range n.list {
		b.WriteString(s.Message + "\n")
	}
	return b.String()
}

const testID = "20261207T110000Z-0badf00d"

func startRecorder(t *testing.T, srv *s3test.Server, bucket string, maxBytes int64, n *notes) *Recorder {
	t.Helper()
	meta := segment.Meta{CaptureID: testID, Source: "h1.pcap", User: "alice", Masked: false}
	r, err := Start(Options{
		Dir: filepath.Join(t.TempDir(), testID), MaxBytes: maxBytes, Meta: meta,
		Putter: NewS3Putter(srv.Client(t).S3(), bucket),
		Key: func(s segment.Segment) string {
			return s3store.Segment{CaptureID: testID, Source: meta.Source, Seq: s.Seq, Start: s.First, End: s.Last, Ext: s.Kind.Ext()}.Key("caps")
		},
		Tags:       func(segment.Segment) string { return s3store.Tags(testID, meta.Source, meta.User, false) },
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		Note: n.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fetchAll downloads every segment of the capture in key order and
// returns its packets, checking keys and tags on the way.
func fetchAll(t *testing.T, srv *s3test.Server, bucket string) (packets []sources.Packet, objects int) {
	t.Helper()
	cli := srv.Client(t)
	ctx := context.Background()
	objs, err := cli.List(ctx, bucket, "caps/"+testID+"/")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		seg, ok := s3store.ParseKey(o.Key)
		if !ok || seg.CaptureID != testID || seg.Source != "h1.pcap" {
			t.Errorf("object %s does not follow the key layout", o.Key)
		}
		tags, err := cli.S3().GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(o.Key)})
		if err != nil {
			t.Fatalf("tags of %s: %v", o.Key, err)
		}
		got := map[string]string{}
		for _, tg := range tags.TagSet {
			got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		want := map[string]string{s3store.TagCaptureID: testID, s3store.TagSource: "h1.pcap", s3store.TagUser: "alice", s3store.TagMasked: "false"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: tag %s = %q, want %q (all: %v)", o.Key, k, got[k], v, got)
			}
		}
		body, err := cli.Get(ctx, bucket, o.Key, 0)
		if err != nil {
			t.Fatal(err)
		}
		pk := readPackets(t, o.Key, body)
		body.Close()
		if len(pk) > 0 && (!pk[0].Timestamp.Equal(seg.Start) || !pk[len(pk)-1].Timestamp.Equal(seg.End)) {
			t.Errorf("%s: key says %v..%v, packets %v..%v", o.Key, seg.Start, seg.End, pk[0].Timestamp, pk[len(pk)-1].Timestamp)
		}
		packets = append(packets, pk...)
	}
	return packets, len(objs)
}

func samePackets(t *testing.T, got, want []sources.Packet) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d packets in the store, %d captured", len(got), len(want))
	}
	for i := range want {
		if string(got[i].Data) != string(want[i].Data) || !got[i].Timestamp.Equal(want[i].Timestamp) {
			t.Fatalf("packet %d differs in the store", i+1)
		}
	}
}

// TestStore runs the store tests on one real S3 server (SeaweedFS on
// loopback, scripts/s3-server.sh): starting one takes seconds. The
// subtests that stop it come last.
func TestStore(t *testing.T) {
	srv := s3test.Start(t)
	t.Run("upload", func(t *testing.T) { testUploadToStore(t, srv) })
	t.Run("multipart", func(t *testing.T) { testMultipart(t, srv) })
	t.Run("store-away", func(t *testing.T) { testStoreAwayLosesNothing(t, srv) })
	t.Run("push", func(t *testing.T) { testPushLeftBehind(t, srv) })
	t.Run("push-killed", func(t *testing.T) { testPushKilledRun(t, srv) })
	t.Run("left-behind", func(t *testing.T) { testLeftBehindIsReported(t, srv) })
}

// testUploadToStore records a capture in small segments to a real S3
// server (SeaweedFS on loopback): every segment arrives under the key
// layout with its tags, and together they hold every packet in order.
func testUploadToStore(t *testing.T, srv *s3test.Server) {
	bucket := srv.Bucket(t, "upload")
	in := corpus(t)
	var n notes
	r := startRecorder(t, srv, bucket, 8<<10, &n)
	for _, p := range in {
		r.Packet(p)
	}
	rep := r.Close(30 * time.Second)
	msg, problem := rep.Summary("s3://upload/caps/" + testID)
	if problem || rep.Uploaded < 3 || len(rep.Left) != 0 {
		t.Fatalf("report: %+v\n%s\nnotes:\n%s", rep, msg, n.text())
	}
	got, objs := fetchAll(t, srv, bucket)
	if objs != rep.Uploaded {
		t.Errorf("%d objects listed, %d uploaded", objs, rep.Uploaded)
	}
	samePackets(t, got, in)
	if _, err := os.Stat(rep.Dir); !os.IsNotExist(err) {
		t.Errorf("spool directory %s left behind after a complete upload", rep.Dir)
	}
}

// testStoreAwayLosesNothing stops the store while segments are being
// written, brings it back, and finds every packet uploaded: segments
// wait in the spool and are retried with backoff.
func testStoreAwayLosesNothing(t *testing.T, srv *s3test.Server) {
	bucket := srv.Bucket(t, "away")
	in := corpus(t)
	var n notes
	r := startRecorder(t, srv, bucket, 4<<10, &n)
	half := len(in) / 2
	for _, p := range in[:half] {
		r.Packet(p)
	}
	srv.Stop()
	for _, p := range in[half:] {
		r.Packet(p)
	}
	time.Sleep(2 * time.Second)
	if _, queued, _ := r.Stats(); queued == 0 {
		t.Errorf("no segment waiting in the spool while the store is down")
	}
	srv.Restart()
	// A restarted weed can take many seconds to accept writes on a
	// loaded machine; the drain bound is generous.
	rep := r.Close(90 * time.Second)
	if msg, problem := rep.Summary("s3://away"); problem {
		t.Fatalf("%s\nnotes:\n%s", msg, n.text())
	}
	if !strings.Contains(n.text(), "retrying") || !strings.Contains(n.text(), "answers again") {
		t.Errorf("notes do not say the store went away and came back:\n%s", n.text())
	}
	got, _ := fetchAll(t, srv, bucket)
	samePackets(t, got, in)
}

// testLeftBehindIsReported ends a capture while the store is down: the
// segments stay on disk and the report names each one and what to do.
func testLeftBehindIsReported(t *testing.T, srv *s3test.Server) {
	bucket := srv.Bucket(t, "left")
	in := corpus(t)
	var n notes
	r := startRecorder(t, srv, bucket, 8<<10, &n)
	srv.Stop()
	for _, p := range in {
		r.Packet(p)
	}
	rep := r.Close(time.Second)
	msg, problem := rep.Summary("s3://left/caps")
	if !problem || len(rep.Left) < 3 {
		t.Fatalf("report %+v after an upload to a stopped store:\n%s", rep, msg)
	}
	var kept []sources.Packet
	for _, f := range rep.Left {
		if !strings.Contains(msg, f.Path) {
			t.Errorf("summary does not name %s:\n%s", f.Path, msg)
		}
		fh, err := os.Open(f.Path)
		if err != nil {
			t.Fatalf("left-behind file: %v", err)
		}
		kept = append(kept, readPackets(t, f.Path, fh)...)
		fh.Close()
	}
	if len(kept) != len(in) {
		t.Errorf("%d packets kept on disk, %d captured", len(kept), len(in))
	}
	if !strings.Contains(msg, "tapview open") {
		t.Errorf("summary does not say how to upload them:\n%s", msg)
	}
}

// testMultipart uploads a segment larger than the multipart threshold,
// so it goes up in parts, and reads it back whole.
func testMultipart(t *testing.T, srv *s3test.Server) {
	bucket := srv.Bucket(t, "multi")
	var n notes
	r := startRecorder(t, srv, bucket, 40<<20, &n)
	base := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
	frame := make([]byte, 60000)
	const count = 400 // 24 MB: three parts of 8 MiB
	for i := range count {
		r.Packet(sources.Packet{Timestamp: base.Add(time.Duration(i) * time.Millisecond), LinkType: sources.LinkRaw, Data: append([]byte(nil), frame...), OrigLen: len(frame), Source: "h1.pcap"})
	}
	rep := r.Close(60 * time.Second)
	if msg, problem := rep.Summary("s3://multi"); problem || rep.Uploaded != 1 {
		t.Fatalf("%s\nnotes:\n%s", msg, n.text())
	}
	if rep.UploadedBytes <= multipartAbove {
		t.Fatalf("segment of %d bytes does not exercise multipart (above %d)", rep.UploadedBytes, multipartAbove)
	}
	got, _ := fetchAll(t, srv, bucket)
	if len(got) != count {
		t.Errorf("%d packets read back from the multipart object, want %d", len(got), count)
	}
}

// TestBackoff doubles from lo to hi with jitter in the upper half.
func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, time.Second
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		for range 50 {
			d := Backoff(attempt, lo, hi)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}
