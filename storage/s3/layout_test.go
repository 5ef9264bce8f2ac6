package s3store

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in, bucket, prefix string
		bad                string // substring of the error
	}{
		{in: "s3://captures/team/a/", bucket: "captures", prefix: "team/a/"},
		{in: "S3://captures", bucket: "captures"},
		{in: "s3://my.bucket-1/x.pcapng", bucket: "my.bucket-1", prefix: "x.pcapng"},
		{in: "s3:///x", bad: "no bucket name"},
		{in: "s3://Caps/x", bad: "lower-case"},
		{in: "s3://ab/x", bad: "3 to 63"},
		{in: "s3://-ab/x", bad: "starting and ending"},
		{in: "/tmp/x.pcap", bad: "not an s3:// URL"},
	} {
		loc, err := ParseURL(c.in)
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("ParseURL(%q) = %v, %v; want error with %q", c.in, loc, err, c.bad)
			}
			continue
		}
		if err != nil || loc.Bucket != c.bucket || loc.Prefix != c.prefix {
			t.Errorf("ParseURL(%q) = %+v, %v; want %s %q", c.in, loc, err, c.bucket, c.prefix)
		}
	}
	if got := (Location{Bucket: "b", Prefix: "p"}).Join("/x"); got.Prefix != "p/x" {
		t.Errorf("Join = %q", got.Prefix)
	}
}

func TestSegmentKeyRoundTrip(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.UTC)
	s := Segment{CaptureID: NewCaptureID(start), Source: "default/web-1 (eth0)", Seq: 12,
		Start: start, End: start.Add(90 * time.Second), Ext: ExtPcapng}
	key := s.Key("team/a")
	if !strings.HasPrefix(key, "team/a/20261207T100000Z-") || strings.Count(key, "/") != 4 {
		t.Fatalf("key %q: want team/a/<id>/<escaped source>/<name>", key)
	}
	got, ok := ParseKey(key)
	if !ok || got != s {
		t.Fatalf("ParseKey(%q) = %+v, %v; want %+v", key, got, ok, s)
	}
	// Keys sort in segment order within a source.
	s2 := s
	s2.Seq, s2.Start = 13, s.End
	if k2 := s2.Key("team/a"); k2 <= key {
		t.Errorf("segment 13 key %q sorts before segment 12 %q", k2, key)
	}
	tr := s
	tr.Ext = ExtTraces
	if got, ok := ParseKey(tr.Key("")); !ok || got.Ext != ExtTraces {
		t.Errorf("trace segment key does not parse back: %+v %v", got, ok)
	}
	for _, k := range []string{"x.pcapng", "a/b/capture.pcap", "a/b/1-2.pcapng", "a/b/x-1-2.pcapng", "a/b/1-2-3.txt"} {
		if _, ok := ParseKey(k); ok {
			t.Errorf("ParseKey(%q) accepted a key outside the layout", k)
		}
	}
}

func TestTags(t *testing.T) {
	v, err := url.ParseQuery(Tags("id1", "ns/pod#1", "alice@example.com", false))
	if err != nil {
		t.Fatal(err)
	}
	if v.Get(TagSource) != "ns/pod_1" || v.Get(TagUser) != "alice@example.com" || v.Get(TagMasked) != "false" || v.Get(TagCaptureID) != "id1" {
		t.Errorf("tags = %v", v)
	}
	if n := len(TagValue(strings.Repeat("x", 300))); n != 256 {
		t.Errorf("TagValue kept %d characters, S3 allows 256", n)
	}
}
