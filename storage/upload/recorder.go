// Package upload records a live capture to object storage: a
// segment.Writer cuts what the sources deliver into files, each finished
// segment is sealed (masked, unless the capture is --no-mask), queued in
// a bounded local spool, and uploaded by a small worker that retries
// with jittered, capped exponential backoff for as long as the capture
// runs. Nothing is lost while the store is slow or away; only the spool
// bound drops, and every drop is counted. At the end, Close says what
// was uploaded and which local files could not be; with a Manifest, the
// capture's directory describes itself and Push uploads them later
// (tapview storage push, or the next run with the same spool directory).
package upload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/storage/segment"
	"github.com/tapview/tapview/storage/spool"
)

// Putter stores one local file as an object. Implementations upload
// large files in parts (see S3Putter).
type Putter interface {
	Put(ctx context.Context, key, path string, size int64, tagging string) error
}

// Sealer turns a finished raw segment into the segment to upload: it
// writes the masked copy and returns it (its Path, Kind and Bytes). The
// raw file is removed by the Recorder afterwards.
type Sealer interface {
	Seal(ctx context.Context, raw segment.Segment) (segment.Segment, error)
}

// Options configure a Recorder.
type Options struct {
	Dir         string // spool directory for this capture's files
	SpoolMax    int64  // bound on the bytes on disk (0: unbounded)
	MaxBytes    int64  // segment size (segment.DefaultMaxBytes when 0)
	MaxAge      time.Duration
	Meta        segment.Meta
	Application string
	// Sealer masks segments; it must be set when Meta.Masked is, so an
	// unmasked file is never uploaded under a masked=true tag.
	Sealer Sealer
	Putter Putter
	// Key names the object of a sealed segment.
	Key func(segment.Segment) string
	// Tags are the object tags of a sealed segment, URL-query encoded
	// (the Tagging parameter of PutObject).
	Tags func(segment.Segment) string
	// Backoff bounds the wait between attempts (defaults: 250ms, 10s: a
	// store back from an outage is found within 10 s).
	MinBackoff, MaxBackoff time.Duration
	// Note receives what the user should hear while the capture runs:
	// the store became unreachable or came back, a drop. May be nil.
	Note func(sources.Status)
	// Manifest, when set, is written into Dir with a line per finished
	// segment, and Dir is locked while the capture runs, so that what is
	// left at the end can be uploaded later (Push).
	Manifest *Manifest
}

// Recorder is the write path of one capture. Packet, Trace and Secrets
// are safe for concurrent use by live sources.
type Recorder struct {
	opts  Options
	w     *segment.Writer
	spool *spool.Spool

	// sealing queue: raw segments waiting for the Sealer.
	mu       sync.Mutex
	raw      []segment.Segment
	wake     chan struct{}
	noMore   bool
	failed   []Failed // segments that could not be sealed, kept on disk
	uploaded int
	upBytes  int64
	lastErr  error
	failing  bool

	sealDone chan struct{}
	upDone   chan struct{}
	upCtx    context.Context
	upCancel context.CancelFunc
	lock     *dirLock
}

// NotMaskedDir is the subdirectory of the spool directory where
// segments that could not be masked are kept.
const NotMaskedDir = "not-masked"

// Failed is a local file that will not reach the store, and why.
type Failed struct {
	Path  string
	Cause error
}

// Start creates the spool directory and starts the sealing and upload
// workers. They run on their own context: the session's end must not cut
// short the uploads Close waits for.
func Start(opts Options) (*Recorder, error) {
	if opts.Putter == nil || opts.Key == nil {
		return nil, errors.New("upload: no store configured")
	}
	if opts.Meta.Masked && opts.Sealer == nil {
		return nil, errors.New("upload: masking is on but no masker is configured")
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.Tags == nil {
		opts.Tags = func(segment.Segment) string { return "" }
	}
	r := &Recorder{opts: opts, spool: spool.New(opts.SpoolMax), wake: make(chan struct{}, 1),
		sealDone: make(chan struct{}), upDone: make(chan struct{})}
	w, err := segment.New(segment.Options{
		Dir: opts.Dir, MaxBytes: opts.MaxBytes, MaxAge: opts.MaxAge, Meta: opts.Meta,
		Application: opts.Application, Budget: r.spool, Done: r.finished,
	})
	if err != nil {
		return nil, err
	}
	if m := opts.Manifest; m != nil {
		if r.lock, err = lockDir(opts.Dir); err != nil {
			return nil, err
		}
		if err := writeManifest(opts.Dir, *m); err != nil {
			r.lock.release()
			return nil, err
		}
	}
	r.w = w
	r.upCtx, r.upCancel = context.WithCancel(context.Background())
	go r.sealLoop()
	go r.uploadLoop()
	return r, nil
}

// Packet records one packet.
func (r *Recorder) Packet(p sources.Packet) { r.w.Packet(p) }

// Trace records one Envoy trace.
func (r *Recorder) Trace(t sources.Trace) { r.w.Trace(t) }

// Secrets records TLS key material for the pcapng segments (left out of
// masked ones by the Sealer).
func (r *Recorder) Secrets(kind uint32, data []byte) { r.w.Secrets(kind, data) }

// finished is the segment writer's Done: queue the raw segment for
// sealing without blocking the capture.
func (r *Recorder) finished(s segment.Segment) {
	r.spool.Hold(s.Bytes)
	var err error
	r.mu.Lock()
	if r.lock != nil {
		err = appendEntry(r.opts.Dir, s)
	}
	r.raw = append(r.raw, s)
	r.mu.Unlock()
	if err != nil {
		r.note(sources.Warning, "spool", err.Error()+": if it is left behind, 'tapview storage push' will not know its object")
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// sealLoop masks raw segments one at a time and queues them for upload.
func (r *Recorder) sealLoop() {
	defer close(r.sealDone)
	for {
		r.mu.Lock()
		if len(r.raw) == 0 {
			end := r.noMore
			r.mu.Unlock()
			if end {
				r.spool.Close()
				return
			}
			<-r.wake
			continue
		}
		raw := r.raw[0]
		r.raw = r.raw[1:]
		r.mu.Unlock()
		r.seal(raw)
	}
}

func (r *Recorder) seal(raw segment.Segment) {
	sealed := raw
	if r.opts.Sealer != nil {
		var err error
		sealed, err = r.opts.Sealer.Seal(context.Background(), raw)
		if err != nil {
			// The raw file stays for the user, but is never uploaded:
			// it holds what masking was asked to hide. It moves aside,
			// so that copying the spool directory to the bucket by
			// hand does not upload it either.
			r.spool.Release(raw.Bytes)
			kept := raw.Path
			aside := filepath.Join(filepath.Dir(raw.Path), NotMaskedDir)
			if os.MkdirAll(aside, 0o700) == nil && os.Rename(raw.Path, filepath.Join(aside, filepath.Base(raw.Path))) == nil {
				kept = filepath.Join(aside, filepath.Base(raw.Path))
			}
			r.fail(kept, fmt.Errorf("masking it failed, so it is NOT masked and was not uploaded: %w", err))
			return
		}
		if r.lock != nil {
			// Recorded before the raw file goes, so a later Push finds
			// the masked copy rather than masking again.
			r.mu.Lock()
			err = appendSealed(r.opts.Dir, raw.Seq, sealed)
			r.mu.Unlock()
			if err != nil {
				r.note(sources.Warning, "spool", err.Error())
			}
		}
		os.Remove(raw.Path)
	}
	r.spool.Release(raw.Bytes)
	it := spool.Item{Path: sealed.Path, Size: sealed.Bytes, Value: sealed}
	if !r.spool.Add(it) {
		r.note(sources.Warning, "spool-full", fmt.Sprintf("segment %d (%d bytes) dropped: the spool is at its bound (--spool-max) because the store is not keeping up", sealed.Seq, sealed.Bytes))
	}
}

func (r *Recorder) fail(path string, err error) {
	r.mu.Lock()
	r.failed = append(r.failed, Failed{Path: path, Cause: err})
	r.mu.Unlock()
	r.note(sources.Error, "upload", fmt.Sprintf("%s will not be uploaded: %v", path, err))
}

// uploadLoop ships queued files until the spool is closed and empty, or
// Close gives up waiting.
func (r *Recorder) uploadLoop() {
	defer close(r.upDone)
	for {
		it, ok := r.spool.Next(r.upCtx)
		if !ok {
			return
		}
		seg := it.Value.(segment.Segment)
		key := r.opts.Key(seg)
		for attempt := 0; ; attempt++ {
			err := r.opts.Putter.Put(r.upCtx, key, it.Path, it.Size, r.opts.Tags(seg))
			if err == nil {
				r.succeeded(it, key)
				break
			}
			if r.upCtx.Err() != nil {
				r.spool.Return(it)
				return
			}
			r.retrying(key, err, attempt)
			t := time.NewTimer(Backoff(attempt, r.opts.MinBackoff, r.opts.MaxBackoff))
			select {
			case <-r.upCtx.Done():
				t.Stop()
				r.spool.Return(it)
				return
			case <-t.C:
			}
		}
	}
}

func (r *Recorder) succeeded(it spool.Item, key string) {
	if err := r.spool.Done(it); err != nil {
		r.note(sources.Warning, "spool", err.Error())
	}
	r.mu.Lock()
	r.uploaded++
	r.upBytes += it.Size
	back := r.failing
	r.failing = false
	r.mu.Unlock()
	if back {
		r.note(sources.Info, "upload", "the store answers again; uploading "+key+" succeeded")
	}
}

func (r *Recorder) retrying(key string, err error, attempt int) {
	r.mu.Lock()
	first := !r.failing
	r.failing = true
	r.lastErr = err
	r.mu.Unlock()
	if first {
		r.note(sources.Warning, "upload", fmt.Sprintf("uploading %s failed, retrying with backoff; segments wait in the spool: %v", key, err))
	}
}

func (r *Recorder) note(level sources.Level, kind, msg string) {
	if r.opts.Note != nil {
		r.opts.Note(sources.Status{Time: time.Now(), Source: "upload", Level: level, Kind: kind, Message: msg})
	}
}

// Report is what a Recorder did, for the message at exit.
type Report struct {
	Uploaded      int
	UploadedBytes int64
	Dropped       int64 // packets and traces refused at the spool bound
	DroppedFiles  int64 // finished segments refused at the spool bound
	Left          []Failed
	Dir           string
	WriteErr      error
	// Pushable says Dir has a Manifest: Push can upload what is left.
	Pushable bool
}

// Close ends the capture's last segments, seals them and waits up to
// drain for the uploads to finish. What is still on disk after that is
// in Report.Left; those files are kept.
func (r *Recorder) Close(drain time.Duration) Report {
	werr := r.w.Close()
	r.mu.Lock()
	r.noMore = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	<-r.sealDone
	t := time.NewTimer(drain)
	select {
	case <-r.upDone:
	case <-t.C:
		r.upCancel()
		<-r.upDone
	}
	t.Stop()
	r.upCancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{Uploaded: r.uploaded, UploadedBytes: r.upBytes, Dropped: r.w.Dropped(),
		DroppedFiles: r.spool.Stats().Dropped, Dir: r.opts.Dir, WriteErr: werr}
	rep.Left = append(rep.Left, r.failed...)
	cause := r.lastErr
	if cause == nil {
		cause = errors.New("the upload did not finish before tapview stopped")
	}
	for _, it := range r.spool.Left() {
		rep.Left = append(rep.Left, Failed{Path: it.Path, Cause: cause})
	}
	switch {
	case len(rep.Left) == 0 && r.lock != nil:
		removeCapture(r.opts.Dir, r.lock)
	case len(rep.Left) == 0 && rep.Dropped == 0 && rep.DroppedFiles == 0 && werr == nil:
		os.Remove(r.opts.Dir) // empty now; keep it if anything is left
	default:
		r.lock.release() // the files stay for Push
	}
	rep.Pushable = r.lock != nil
	return rep
}

// Stats are the live counters of a Recorder.
func (r *Recorder) Stats() (uploaded int, queued int, dropped int64) {
	r.mu.Lock()
	uploaded = r.uploaded
	r.mu.Unlock()
	st := r.spool.Stats()
	return uploaded, st.Queued, r.w.Dropped() + st.Dropped
}
