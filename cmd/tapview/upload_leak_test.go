package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
	s3store "github.com/tapview/tapview/storage/s3"
	"github.com/tapview/tapview/storage/s3/s3test"
	"github.com/tapview/tapview/storage/segment"
	"github.com/tapview/tapview/storage/upload"
)

// TestUploadMaskedLeakCorpus records the leak corpus (testdata/leak) to
// a real S3 server (SeaweedFS on loopback) the way --upload does, masked
// and with --no-mask, downloads the segments and looks at them with
// tshark: the masked ones show none of the planted secrets, the unmasked
// ones all of them (so the test would see a leak), and both are valid
// pcapng with every packet. Its subtest does the same with Envoy traces.
func TestUploadMaskedLeakCorpus(t *testing.T) {
	needTshark(t)
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "leak")
	secrets := loadPlanted(t)
	var pkts []sources.Packet
	var decodeAs []string
	for _, c := range leakCaptures {
		pkts = append(pkts, readCapture(t, filepath.Join("..", "..", "testdata", "leak", c.file))...)
		decodeAs = append(decodeAs, c.decodeAs...)
	}
	for _, masked := range []bool{true, false} {
		name := map[bool]string{true: "masked", false: "unmasked"}[masked]
		id, key, local := recordOne(t, srv, bucket, "leak", name, masked, ".pcapng", func(rec *upload.Recorder) {
			for _, p := range pkts {
				rec.Packet(p)
			}
		})
		if n := len(readCapture(t, local)); n != len(pkts) {
			t.Errorf("%s segment holds %d packets, %d captured", name, n, len(pkts))
		}
		view := tsharkView(t, local, decodeAs)
		found := 0
		for _, s := range secrets {
			if s.in(view) {
				found++
				if masked {
					t.Errorf("masked segment: secret %s (%s) is readable", s.name, s.where)
				}
			} else if !masked {
				t.Errorf("unmasked segment: secret %s (%s) not found: the test would not see it leak", s.name, s.where)
			}
		}
		if c := sectionCommentOf(t, local); !strings.Contains(c, id) || !strings.Contains(c, "user: tester") ||
			strings.Contains(c, "NOT masked") == masked {
			t.Errorf("%s segment section comment %q does not name the capture, user and masking", name, c)
		}
		t.Logf("%s segment %s: tshark finds %d of %d planted secrets", name, key, found, len(secrets))
	}
	t.Run("traces", func(t *testing.T) { uploadMaskedLeakTraces(t, srv) })
}

// recordOne runs the real recorder (with the export sealer when masked)
// over what feed gives it, checks that it stored exactly one segment under
// the prefix name with a truthful masked tag, and downloads that segment
// to a local file ending in ext. It returns the capture id, the object key
// and the local path.
func recordOne(t *testing.T, srv *s3test.Server, bucket, source, name string, masked bool, ext string, feed func(*upload.Recorder)) (id, key, local string) {
	t.Helper()
	id = s3store.NewCaptureID(time.Now())
	meta := segment.Meta{CaptureID: id, Source: source, User: "tester", Masked: masked}
	opts := upload.Options{
		Dir: filepath.Join(t.TempDir(), id), Meta: meta, Application: "tapview test",
		Putter: upload.NewS3Putter(srv.Client(t).S3(), bucket),
		Key: func(s segment.Segment) string {
			return s3store.Segment{CaptureID: id, Source: source, Seq: s.Seq, Start: s.First, End: s.Last, Ext: s.Kind.Ext()}.Key(name)
		},
		Tags: func(segment.Segment) string { return s3store.Tags(id, source, "tester", masked) },
	}
	if masked {
		opts.Sealer = &exportSealer{masker: mask.Default(), meta: meta}
	}
	rec, err := upload.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	feed(rec)
	if msg, problem := rec.Close(30 * time.Second).Summary(name); problem {
		t.Fatal(msg)
	}
	cli := srv.Client(t)
	objs, err := cli.List(context.Background(), bucket, name+"/")
	if err != nil || len(objs) != 1 {
		t.Fatalf("%s: objects %v, %v; want one segment", name, objs, err)
	}
	key = objs[0].Key
	tags, err := cli.S3().GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tags.TagSet {
		if aws.ToString(tg.Key) == s3store.TagMasked && aws.ToString(tg.Value) != fmt.Sprint(masked) {
			t.Errorf("%s: tag masked=%s", key, aws.ToString(tg.Value))
		}
	}
	local = filepath.Join(t.TempDir(), name+ext)
	download(t, cli, bucket, key, local)
	return id, key, local
}

// readCapture reads a capture file with tapview's own file source.
func readCapture(t *testing.T, path string) []sources.Packet {
	t.Helper()
	src, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var c packetCollector
	if err := src.Run(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	return c.pkts
}

func download(t *testing.T, cli *s3store.Client, bucket, key, path string) {
	t.Helper()
	body, err := cli.Get(context.Background(), bucket, key, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadFrom(body); err != nil {
		t.Fatal(err)
	}
}

// sectionCommentOf reads the section comment of a pcapng file.
func sectionCommentOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 28 {
		t.Fatalf("%s is too short for a pcapng file", path)
	}
	// The comment is an option of the section header block.
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
