package upload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	s3store "github.com/tapview/tapview/storage/s3"
	"github.com/tapview/tapview/storage/segment"
)

// Push uploads what a stopped capture left in its spool directory, as
// the capture itself would have: under the same keys and tags, masked
// copies where the capture was masked. It is what `aws s3 sync` is to a
// directory and what fluent-bit does with its filesystem buffer at
// start, for one capture:
//
//   - a segment whose masked copy was written uploads that copy;
//   - a raw segment of a masked capture (the run stopped before masking
//     it, or masking failed) is masked first, and if masking fails again
//     it stays on disk under not-masked/ and is never uploaded;
//   - a raw segment of a --no-mask capture uploads as it is, tagged
//     masked=false as the run would have;
//   - a segment still being written when the run was killed (its file has
//     no line in segments.jsonl) is not uploaded: its end is torn and its
//     time span unknown; it is named so the user can open it locally.
//
// Every uploaded file is removed, so pushing twice uploads nothing twice;
// an upload interrupted before the removal uploads the same object again
// under the same key, which replaces it, so the store holds each segment
// once. The directory is locked while Push runs, and a directory locked
// by a running recorder is left alone (Busy).
func Push(ctx context.Context, dir string, o PushOptions) PushReport {
	rep := PushReport{Dir: dir}
	m, err := ReadManifest(dir)
	if err != nil {
		rep.Err = fmt.Errorf("%s is not the spool directory of a tapview capture (%v)", dir, err)
		return rep
	}
	rep.Manifest = m
	lock, err := lockDir(dir)
	if errors.Is(err, errBusy) {
		rep.Busy = true
		return rep
	}
	if err != nil {
		rep.Err = err
		return rep
	}
	entries, err := readEntries(dir)
	if err != nil {
		lock.release()
		rep.Err = fmt.Errorf("reading %s: %w", filepath.Join(dir, SegmentsFile), err)
		return rep
	}
	p := &pusher{o: o.withDefaults(), m: m, dir: dir, rep: &rep}
	known := map[string]bool{}
	for _, e := range entries {
		known[e.File], known[e.Sealed] = true, true
		if rep.Err != nil || ctx.Err() != nil {
			continue // stopped: the rest stays, named below
		}
		p.push(ctx, e)
	}
	p.leftovers(known)
	if len(rep.Left) == 0 && rep.Err == nil && ctx.Err() == nil {
		removeCapture(dir, lock)
	} else {
		lock.release()
	}
	return rep
}

// PushOptions say where and how Push uploads.
type PushOptions struct {
	Putter Putter
	// Sealer masks raw segments of a masked capture; without one, they
	// are left on disk (never uploaded unmasked).
	Sealer Sealer
	// Key and Tags name a segment's object as the recording run did
	// (Manifest has its destination, source and user).
	Key  func(Manifest, segment.Segment) string
	Tags func(Manifest, segment.Segment) string
	// Wait is how long one file is retried while the store does not
	// answer before Push gives up and leaves the rest (default 30s).
	// Errors that retrying cannot cure (s3store.Permanent) stop at once.
	Wait                   time.Duration
	MinBackoff, MaxBackoff time.Duration
	// Uploaded, if set, is told of each object uploaded.
	Uploaded func(key string, bytes int64)
}

func (o PushOptions) withDefaults() PushOptions {
	if o.Wait <= 0 {
		o.Wait = 30 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Tags == nil {
		o.Tags = func(Manifest, segment.Segment) string { return "" }
	}
	return o
}

// PushReport is what Push did with one capture directory.
type PushReport struct {
	Dir      string
	Manifest Manifest
	Uploaded int
	Bytes    int64
	Left     []Failed // files still on disk, and why
	Busy     bool     // a running tapview holds the directory
	// Err stopped the push: the store refused (TLS, credentials, no
	// bucket) or stayed away longer than Wait.
	Err error
}

type pusher struct {
	o   PushOptions
	m   Manifest
	dir string
	rep *PushReport
}

// push uploads segment e, masking it first if it must be.
func (p *pusher) push(ctx context.Context, e entry) {
	kind, err := parseKind(e.Kind)
	if err != nil {
		p.left(filepath.Join(p.dir, e.File), err)
		return
	}
	meta := segment.Meta{CaptureID: p.m.CaptureID, Source: p.m.Source, User: p.m.User, Masked: p.m.Masked}
	seg := segment.Segment{Kind: kind, Seq: e.Seq, First: e.First, Last: e.Last, Items: e.Items, Meta: meta}
	raw := p.find(e.File)
	if p.m.Masked {
		sealed := ""
		if e.Sealed != "" {
			if _, err := os.Stat(filepath.Join(p.dir, e.Sealed)); err == nil {
				sealed = filepath.Join(p.dir, e.Sealed)
			}
		}
		switch {
		case sealed != "":
			st, err := os.Stat(sealed)
			if err != nil {
				p.left(sealed, err)
				return
			}
			seg.Path, seg.Bytes = sealed, st.Size()
			if seg.Kind, err = parseKind(e.SealedKind); err != nil {
				p.left(sealed, err)
				return
			}
		case raw != "":
			seg = p.seal(ctx, seg, raw)
			if seg.Path == "" {
				return
			}
		default:
			return // uploaded already
		}
		if p.upload(ctx, seg) && raw != "" {
			os.Remove(raw)
		}
		return
	}
	if raw == "" {
		return // uploaded already
	}
	st, err := os.Stat(raw)
	if err != nil {
		p.left(raw, err)
		return
	}
	seg.Path, seg.Bytes = raw, st.Size()
	p.upload(ctx, seg)
}

// find is where raw file name is: the capture directory, or not-masked/
// where a failed masking put it. Empty when it is gone (uploaded).
func (p *pusher) find(name string) string {
	for _, path := range []string{filepath.Join(p.dir, name), filepath.Join(p.dir, NotMaskedDir, name)} {
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	return ""
}

// seal masks the raw file at path; the zero Segment when it cannot, in
// which case the raw file stays (under not-masked/) and is reported.
func (p *pusher) seal(ctx context.Context, seg segment.Segment, path string) segment.Segment {
	seg.Path = path
	if st, err := os.Stat(path); err == nil {
		seg.Bytes = st.Size()
	}
	if p.o.Sealer == nil {
		p.left(path, errors.New("it is NOT masked and no masker was given, so it was not uploaded"))
		return segment.Segment{}
	}
	sealed, err := p.o.Sealer.Seal(ctx, seg)
	if err != nil {
		kept := path
		aside := filepath.Join(p.dir, NotMaskedDir)
		if filepath.Dir(path) != aside && os.MkdirAll(aside, 0o700) == nil && os.Rename(path, filepath.Join(aside, filepath.Base(path))) == nil {
			kept = filepath.Join(aside, filepath.Base(path))
		}
		p.left(kept, fmt.Errorf("masking it failed, so it is NOT masked and was not uploaded: %w", err))
		return segment.Segment{}
	}
	if err := appendSealed(p.dir, seg.Seq, sealed); err != nil {
		p.left(sealed.Path, err)
		return segment.Segment{}
	}
	os.Remove(path)
	return sealed
}

// upload puts seg's file under its key, retrying while the store does
// not answer, and removes the file when it is stored.
func (p *pusher) upload(ctx context.Context, seg segment.Segment) bool {
	key := p.o.Key(p.m, seg)
	deadline := time.Now().Add(p.o.Wait)
	for attempt := 0; ; attempt++ {
		err := p.o.Putter.Put(ctx, key, seg.Path, seg.Bytes, p.o.Tags(p.m, seg))
		if err == nil {
			break
		}
		if ctx.Err() != nil || s3store.Permanent(err) || time.Now().After(deadline) {
			p.rep.Err = err
			p.left(seg.Path, err)
			return false
		}
		t := time.NewTimer(Backoff(attempt, p.o.MinBackoff, p.o.MaxBackoff))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	p.rep.Uploaded++
	p.rep.Bytes += seg.Bytes
	if p.o.Uploaded != nil {
		p.o.Uploaded(key, seg.Bytes)
	}
	if err := os.Remove(seg.Path); err != nil {
		p.left(seg.Path, fmt.Errorf("uploaded, but removing it failed: %w", err))
	}
	return true
}

func (p *pusher) left(path string, err error) {
	p.rep.Left = append(p.rep.Left, Failed{Path: path, Cause: err})
}

// leftovers names the files Push did not upload: segments it did not
// reach (it stopped), and segments the run did not finish.
func (p *pusher) leftovers(known map[string]bool) {
	named := map[string]bool{}
	for _, f := range p.rep.Left {
		named[f.Path] = true
	}
	var paths []string
	for _, d := range []string{p.dir, filepath.Join(p.dir, NotMaskedDir)} {
		ents, _ := os.ReadDir(d)
		for _, de := range ents {
			name := de.Name()
			path := filepath.Join(d, name)
			if de.IsDir() || strings.HasPrefix(name, ".") || named[path] || (d == p.dir && (name == ManifestFile || name == SegmentsFile || name == LockFile)) {
				continue
			}
			paths = append(paths, path)
		}
	}
	sort.Strings(paths)
	for _, path := range paths {
		name := filepath.Base(path)
		switch {
		case !known[name] && filepath.Dir(path) == p.dir && (strings.HasSuffix(name, segment.Packets.Ext()) || strings.HasSuffix(name, segment.Traces.Ext())):
			p.left(path, errors.New("the recording run stopped while writing this segment, so its end may be torn and it was not uploaded (open it with 'tapview open FILE')"))
		case p.rep.Err != nil:
			p.left(path, errors.New("not uploaded: the push stopped at the error above"))
		default:
			p.left(path, errors.New("not uploaded"))
		}
	}
}

// Captures lists the capture directories under root (a --spool-dir)
// that hold a Manifest, oldest first. skip names one to leave out (the
// running capture's own).
func Captures(root, skip string) []string {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var out []string
	for _, de := range ents {
		if !de.IsDir() || de.Name() == skip {
			continue
		}
		dir := filepath.Join(root, de.Name())
		if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
			out = append(out, dir)
		}
	}
	sort.Strings(out) // capture ids start with their UTC start time
	return out
}
