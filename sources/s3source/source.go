package s3source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
	"github.com/tapview/tapview/sources/taptrace"
)

// Source reads one recorded source's segments, in order, as one stream of
// packets (and traces). It is run once.
type Source struct {
	name     string
	store    Store
	bucket   string
	parts    []part
	size     int64
	rng      Range
	progress *Progress
}

// Name is the recorded source's name, so exchanges read back from the
// store name the pod or file they were captured from.
func (s *Source) Name() string { return s.name }

// Size is the total size of the source's objects, for progress.
func (s *Source) Size() int64 { return s.size }

// Segments is how many objects the source reads.
func (s *Source) Segments() int { return len(s.parts) }

// Run streams each segment from the store into its reader. Packets carry
// ordinals counted across segments, as if the segments were one file
// (from the first segment read: segments a time range leaves out are
// never fetched, so their packets are not counted), and Offset -1 since
// they come from a stream. A segment that is damaged or
// not a capture gets a warning and reading goes on with the next; a store
// error (after retries) ends the source with an error naming the object.
func (s *Source) Run(ctx context.Context, emit sources.Emitter) error {
	em := &segEmitter{inner: emit, name: s.name, rng: s.rng}
	em.secrets, _ = emit.(pcapfile.SecretsEmitter)
	em.traces, _ = emit.(sources.TraceEmitter)
	for i, p := range s.parts {
		if ctx.Err() != nil {
			return nil
		}
		body := newResumer(ctx, s.store, s.bucket, p.key, p.size, s.progress)
		var err error
		if p.traces {
			err = s.runTraces(ctx, em, body, p)
		} else {
			err = s.runCapture(ctx, em, body, p)
		}
		_ = body.Close()
		if body.err != nil && ctx.Err() == nil {
			return fmt.Errorf("%s: segment %d of %d (%s): %w", s.name, i+1, len(s.parts), p.key, body.err)
		}
		if err != nil {
			em.note(sources.Warning, "segment", fmt.Sprintf("segment %s skipped: %v", p.key, err))
		}
	}
	return nil
}

// runCapture reads a pcap or pcapng segment through pcapfile.
func (s *Source) runCapture(ctx context.Context, em *segEmitter, body io.Reader, p part) error {
	src, err := pcapfile.New(path.Base(p.key), body)
	if err != nil {
		return err
	}
	em.segStart = em.ordinal
	return src.Run(ctx, em)
}

// runTraces reads a trace segment (any format Envoy writes, by extension).
func (s *Source) runTraces(ctx context.Context, em *segEmitter, body io.Reader, p part) error {
	if em.traces == nil {
		return errors.New("the pipeline's emitter does not accept Envoy traces")
	}
	f, _ := taptrace.FormatOf(p.key)
	rd, err := taptrace.NewReader(body, f, 0)
	if err != nil {
		return err
	}
	arrival := p.start
	if arrival.IsZero() {
		arrival = time.Now()
	}
	for ctx.Err() == nil {
		w, err := rd.Next()
		var rerr *taptrace.RecordError
		switch {
		case err == nil:
		case errors.As(err, &rerr):
			em.note(sources.Warning, "malformed", fmt.Sprintf("%s: %v (skipped)", p.key, rerr))
			continue
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			em.note(sources.Warning, "truncated", p.key+" ends inside a trace; the last trace is lost")
			return nil
		default:
			return err
		}
		em.ordinal++
		em.traces.Trace(sources.Trace{Wrapper: w, Source: s.name, Arrival: arrival, Ordinal: em.ordinal})
	}
	return nil
}

// segEmitter renames and renumbers what a segment's reader emits so the
// segments read as one source, and drops packets outside the time range.
type segEmitter struct {
	inner    sources.Emitter
	secrets  pcapfile.SecretsEmitter
	traces   sources.TraceEmitter
	name     string
	rng      Range
	ordinal  uint64 // last ordinal given out
	segStart uint64 // ordinal before the current segment's first packet
}

func (e *segEmitter) Packet(p sources.Packet) {
	// Ordinals count every packet read, kept or not, like a file's frame
	// numbers.
	e.ordinal = e.segStart + p.Ordinal
	if !e.rng.contains(p.Timestamp) {
		return
	}
	p.Ordinal = e.ordinal
	p.Source = e.name
	p.Offset = -1
	e.inner.Packet(p)
}

func (e *segEmitter) Status(st sources.Status) {
	st.Source = e.name
	e.inner.Status(st)
}

// Secrets passes on keys embedded in pcapng segments.
func (e *segEmitter) Secrets(kind uint32, data []byte) {
	if e.secrets != nil {
		e.secrets.Secrets(kind, data)
	}
}

func (e *segEmitter) note(level sources.Level, kind, msg string) {
	e.Status(sources.Status{Time: time.Now(), Level: level, Kind: kind, Message: msg})
}
