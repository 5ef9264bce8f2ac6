package s3store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Segment kinds, by key extension.
const (
	ExtPcapng = ".pcapng"              // packet segment: a complete pcapng file
	ExtTraces = ".pb_length_delimited" // Envoy trace segment: length-delimited TraceWrappers
)

// Object tag keys every segment carries. Values are sanitised with
// TagValue, since S3 allows only a small character set in tags.
const (
	TagCaptureID = "capture-id"
	TagSource    = "source"
	TagUser      = "user"
	TagMasked    = "masked" // "true" or "false" (--no-mask)
)

// Segment is one object of the key layout (see the package comment).
type Segment struct {
	CaptureID string
	Source    string
	Seq       int
	// Start and End are the first and last timestamps in the segment.
	Start, End time.Time
	Ext        string // ExtPcapng or ExtTraces
}

// Key is the segment's object key under prefix (a "folder" prefix such as
// "captures" or "captures/"; empty for the bucket's root).
func (s Segment) Key(prefix string) string {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return fmt.Sprintf("%s%s/%s/%08d-%019d-%019d%s", prefix, s.CaptureID,
		url.PathEscape(s.Source), s.Seq, s.Start.UnixNano(), s.End.UnixNano(), s.Ext)
}

// ParseKey reads a segment's fields back from its key: the last three key
// levels must be <capture-id>/<source>/<seq>-<start>-<end><ext>. Keys of
// other objects (a capture uploaded by hand) report false.
func ParseKey(key string) (Segment, bool) {
	parts := strings.Split(key, "/")
	if len(parts) < 3 {
		return Segment{}, false
	}
	id, esc, name := parts[len(parts)-3], parts[len(parts)-2], parts[len(parts)-1]
	var s Segment
	switch {
	case strings.HasSuffix(name, ExtPcapng):
		s.Ext = ExtPcapng
	case strings.HasSuffix(name, ExtTraces):
		s.Ext = ExtTraces
	default:
		return Segment{}, false
	}
	fields := strings.Split(strings.TrimSuffix(name, s.Ext), "-")
	if len(fields) != 3 || id == "" {
		return Segment{}, false
	}
	seq, err1 := strconv.Atoi(fields[0])
	start, err2 := strconv.ParseInt(fields[1], 10, 64)
	end, err3 := strconv.ParseInt(fields[2], 10, 64)
	src, err4 := url.PathUnescape(esc)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || seq < 0 {
		return Segment{}, false
	}
	s.CaptureID, s.Source, s.Seq = id, src, seq
	s.Start, s.End = time.Unix(0, start).UTC(), time.Unix(0, end).UTC()
	return s, true
}

// NewCaptureID names a recording that starts at t: the UTC time to the
// second, then 8 random hex digits so two recorders starting in the same
// second stay apart.
func NewCaptureID(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Tags encodes segment tags for PutObject's or CreateMultipartUpload's
// Tagging parameter (a URL query string).
func Tags(captureID, source, user string, masked bool) string {
	v := url.Values{}
	v.Set(TagCaptureID, TagValue(captureID))
	v.Set(TagSource, TagValue(source))
	if user != "" {
		v.Set(TagUser, TagValue(user))
	}
	v.Set(TagMasked, strconv.FormatBool(masked))
	return v.Encode()
}

// TagValue makes s a valid S3 tag value: at most 256 characters of
// letters, digits, spaces and + - = . _ : / @; anything else becomes "_".
func TagValue(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 256 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(" +-=._:/@", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
