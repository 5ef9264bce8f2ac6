// Package s3source reads captures back from an S3-compatible object store:
// the segments a recorder uploaded (storage/s3's key layout), a time range
// of them, or any single capture object. Each source's segments are
// streamed in order through the same readers as local files (pcapfile,
// taptrace), so one source's TCP connections continue across segment
// boundaries, and sources become separate inputs that the pipeline merges
// into one timeline the way it merges several files.
package s3source

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/tapview/tapview/sources/taptrace"
	s3store "github.com/tapview/tapview/storage/s3"
)

// Store is what reading needs from an object store (s3store.Client).
type Store interface {
	List(ctx context.Context, bucket, prefix string) ([]s3store.Object, error)
	// Get streams an object's body from a byte offset on.
	Get(ctx context.Context, bucket, key string, offset int64) (io.ReadCloser, error)
}

// Range selects by time: segments overlapping it, and within them only
// packets inside it. A zero bound is open.
type Range struct {
	Since, Until time.Time
}

func (r Range) empty() bool { return r.Since.IsZero() && r.Until.IsZero() }

// overlaps reports whether [start, end] meets the range.
func (r Range) overlaps(start, end time.Time) bool {
	return (r.Since.IsZero() || !end.Before(r.Since)) && (r.Until.IsZero() || !start.After(r.Until))
}

// contains reports whether t is inside the range.
func (r Range) contains(t time.Time) bool { return r.overlaps(t, t) }

// part is one object a Source reads.
type part struct {
	key    string
	size   int64
	traces bool      // an Envoy trace file, not a capture
	start  time.Time // first timestamp (layout segments), for trace arrival times
	seq    int
}

// Plan lists loc and returns one Source per recorded source (or per plain
// capture object), each reading its segments in order. loc may name a
// single object, one capture (PREFIX/<capture-id>/), or a prefix holding
// several captures, which needs a time range to choose from. Progress, if
// not nil, counts the bytes every returned Source reads.
func Plan(ctx context.Context, st Store, loc s3store.Location, rng Range, progress *Progress) ([]*Source, error) {
	objs, err := st.List(ctx, loc.Bucket, loc.Prefix)
	if err != nil {
		return nil, err
	}
	objs = under(objs, loc.Prefix)
	if len(objs) == 0 {
		return nil, fmt.Errorf("%s: nothing stored there: check the bucket and prefix (list them with: aws s3 ls %s)", loc, loc)
	}
	if progress == nil {
		progress = &Progress{}
	}
	groups := map[string]*Source{}
	captures := map[string]*captureInfo{}
	var order []string
	for _, o := range objs {
		key, name, p, ok := classify(o)
		if !ok {
			continue
		}
		if seg, isSeg := s3store.ParseKey(o.Key); isSeg {
			ci := captures[seg.CaptureID]
			if ci == nil {
				ci = &captureInfo{id: seg.CaptureID, start: seg.Start, end: seg.End}
				captures[seg.CaptureID] = ci
			}
			ci.add(seg)
			if !rng.overlaps(seg.Start, seg.End) {
				continue
			}
		}
		g := groups[key]
		if g == nil {
			g = &Source{name: name, store: st, bucket: loc.Bucket, rng: rng, progress: progress}
			groups[key] = g
			order = append(order, key)
		}
		g.parts = append(g.parts, p)
		g.size += p.size
	}
	if len(order) == 0 {
		if len(captures) == 0 {
			return nil, fmt.Errorf("%s: no capture objects there (tapview reads .pcapng/.pcap segments and Envoy trace files): check the prefix (aws s3 ls %s)", loc, loc)
		}
		return nil, fmt.Errorf("%s: no segment between %s and %s; the captures there span %s", loc, when(rng.Since), when(rng.Until), spans(captures))
	}
	if len(captures) > 1 && rng.empty() {
		return nil, fmt.Errorf("%s holds %d captures: %s.\nOpen one with %s<capture-id>/, or choose a time range with --since/--until",
			loc, len(captures), spans(captures), loc.Join(""))
	}
	multi := len(captures) > 1
	out := make([]*Source, 0, len(order))
	for _, k := range order {
		g := groups[k]
		sort.SliceStable(g.parts, func(i, j int) bool { return g.parts[i].seq < g.parts[j].seq })
		if multi {
			// The same pod in two captures is two inputs; say which.
			if id, _, ok := strings.Cut(k, "\x00"); ok && id != "" {
				g.name += " [" + id + "]"
			}
		}
		out = append(out, g)
	}
	progress.addTotal(out)
	return out, nil
}

// under keeps the objects a prefix names: the object itself when the
// prefix is a whole key, else those below it as a folder (so
// "s3://b/cap1" does not also read "cap10/").
func under(objs []s3store.Object, prefix string) []s3store.Object {
	if prefix == "" || strings.HasSuffix(prefix, "/") {
		return objs
	}
	for _, o := range objs {
		if o.Key == prefix {
			return []s3store.Object{o}
		}
	}
	var out []s3store.Object
	for _, o := range objs {
		if strings.HasPrefix(o.Key, prefix+"/") {
			out = append(out, o)
		}
	}
	return out
}

// classify says which Source an object belongs to: layout segments by
// capture and source, any other capture or trace file on its own.
func classify(o s3store.Object) (group, name string, p part, ok bool) {
	if strings.HasSuffix(o.Key, "/") || o.Size == 0 {
		return "", "", part{}, false // folder markers, empty uploads
	}
	p = part{key: o.Key, size: o.Size}
	if seg, isSeg := s3store.ParseKey(o.Key); isSeg {
		p.traces, p.start, p.seq = seg.Ext == s3store.ExtTraces, seg.Start, seg.Seq
		return seg.CaptureID + "\x00" + seg.Source, seg.Source, p, true
	}
	base := path.Base(o.Key)
	if _, isTrace := taptrace.FormatOf(base); isTrace {
		p.traces = true
		return "\x00" + o.Key, base, p, true
	}
	if looksLikeCapture(base) {
		return "\x00" + o.Key, base, p, true
	}
	return "", "", part{}, false
}

// looksLikeCapture accepts the names captures are stored under,
// compressed or not; anything else in the bucket is left alone.
func looksLikeCapture(name string) bool {
	n := strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(name), ".gz"), ".zst")
	for _, ext := range []string{".pcap", ".pcapng", ".cap", ".ntar"} {
		if strings.HasSuffix(n, ext) {
			return true
		}
	}
	// editcap and tcpdump -C number their output files after the name.
	return strings.Contains(n, ".pcap")
}

// captureInfo summarises one capture for messages.
type captureInfo struct {
	id         string
	start, end time.Time
	segments   int
	sources    map[string]bool
}

func (c *captureInfo) add(s s3store.Segment) {
	if c.sources == nil {
		c.sources = map[string]bool{}
	}
	c.sources[s.Source] = true
	c.segments++
	if s.Start.Before(c.start) {
		c.start = s.Start
	}
	if s.End.After(c.end) {
		c.end = s.End
	}
}

func spans(cs map[string]*captureInfo) string {
	ids := make([]string, 0, len(cs))
	for id := range cs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for i, id := range ids {
		c := cs[id]
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%d sources, %d segments, %s to %s)", id, len(c.sources), c.segments, when(c.start), when(c.end))
	}
	return b.String()
}

func when(t time.Time) string {
	if t.IsZero() {
		return "any time"
	}
	return t.UTC().Format(time.RFC3339)
}
