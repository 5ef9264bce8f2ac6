package s3test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
	s3store "github.com/tapview/tapview/storage/s3"
)

// UploadSegments splits the capture at path into pcapng segments of
// perSegment packets with editcap (as a recorder rolls its files), and
// uploads them under prefix in the key layout, as one capture's source.
// It returns the segments in order. Tests are skipped without editcap
// (part of Wireshark, installed by scripts/test-deps.sh).
func (s *Server) UploadSegments(t testing.TB, bucket, prefix, captureID, source, path string, perSegment int) []s3store.Segment {
	t.Helper()
	if _, err := exec.LookPath("editcap"); err != nil {
		t.Skip("editcap (Wireshark) not installed: run scripts/test-deps.sh")
	}
	dir := t.TempDir()
	out, err := exec.Command("editcap", "-F", "pcapng", "-c", strconv.Itoa(perSegment), path, filepath.Join(dir, "seg.pcapng")).CombinedOutput()
	if err != nil {
		t.Fatalf("editcap: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "seg_*.pcapng"))
	sort.Strings(files) // editcap numbers them seg_00000_..., seg_00001_...
	if len(files) < 2 {
		t.Fatalf("editcap made %d segments of %s; the test needs a capture of more than %d packets", len(files), path, perSegment)
	}
	var segs []s3store.Segment
	for i, f := range files {
		first, last := span(t, f)
		seg := s3store.Segment{CaptureID: captureID, Source: source, Seq: i + 1, Start: first, End: last, Ext: s3store.ExtPcapng}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s.Put(t, bucket, seg.Key(prefix), data)
		segs = append(segs, seg)
	}
	return segs
}

// span reads the first and last packet times of a capture file.
func span(t testing.TB, path string) (first, last time.Time) {
	src, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var c times
	if err := src.Run(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	return c.first, c.last
}

type times struct{ first, last time.Time }

func (c *times) Packet(p sources.Packet) {
	if c.first.IsZero() {
		c.first = p.Timestamp
	}
	c.last = p.Timestamp
}
func (c *times) Status(sources.Status) {}
