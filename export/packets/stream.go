package packets

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/tapview/tapview/export/spool"
	"github.com/tapview/tapview/sources"
)

// Stream yields the records of one input in its own order: packets
// (with their ordinals) and the key material between them. Write merges
// several streams by timestamp.
type Stream interface {
	// Next returns the next record, or io.EOF after the last.
	Next() (spool.Record, error)
	// Close stops the stream early and releases it.
	Close() error
}

// FromSpool reads a spool as a stream.
func FromSpool(r *spool.Reader) Stream { return spoolStream{r} }

type spoolStream struct{ r *spool.Reader }

func (s spoolStream) Next() (spool.Record, error) { return s.r.Next() }
func (s spoolStream) Close() error                { return nil }

// FromSource runs a source (a capture file opened again for the second
// pass) in its own goroutine and turns what it emits into a stream.
// Status notes go to notes when it is non-nil. Records cross between
// the goroutines in batches (sourceBatch): one channel operation per
// packet was a sixth of pass two's CPU.
func FromSource(ctx context.Context, src sources.Source, notes func(sources.Status)) Stream {
	ctx, cancel := context.WithCancel(ctx)
	s := &sourceStream{ch: make(chan []spool.Record, sourceQueue), free: make(chan []spool.Record, sourceQueue+2), cancel: cancel}
	em := &chanEmitter{ctx: ctx, ch: s.ch, free: s.free, notes: notes, batch: make([]spool.Record, 0, sourceBatch)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.ch)
		s.err = src.Run(ctx, em)
		em.flush()
	}()
	return s
}

// sourceBatch is how many records FromSource hands over at once, and
// sourceQueue how many batches may wait.
const (
	sourceBatch = 256
	sourceQueue = 4
)

type sourceStream struct {
	ch     chan []spool.Record
	free   chan []spool.Record // read batches, for the emitter to fill again
	cancel context.CancelFunc
	wg     sync.WaitGroup
	err    error // written by the goroutine before ch is closed
	closed bool
	cur    []spool.Record // what is left of the batch being read
	read   []spool.Record // the whole batch being read
}

func (s *sourceStream) Next() (spool.Record, error) {
	for len(s.cur) == 0 {
		if s.read != nil {
			select {
			case s.free <- s.read[:0]:
			default:
			}
			s.read = nil
		}
		b, ok := <-s.ch
		if !ok {
			if s.err != nil && !errors.Is(s.err, context.Canceled) {
				return spool.Record{}, s.err
			}
			return spool.Record{}, io.EOF
		}
		s.cur, s.read = b, b
	}
	rec := s.cur[0]
	s.cur[0] = spool.Record{} // let the bytes go with rec before the batch is reused
	s.cur = s.cur[1:]
	return rec, nil
}

func (s *sourceStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.cur = nil
	s.cancel()
	for range s.ch {
		// drain so the source's goroutine can finish
	}
	s.wg.Wait()
	return nil
}

// chanEmitter hands a source's packets and secrets to a channel in
// batches; it is also a pcapfile.SecretsEmitter, so embedded keys arrive
// in order. flush hands over the last batch when the source is done.
type chanEmitter struct {
	ctx   context.Context
	ch    chan<- []spool.Record
	free  <-chan []spool.Record
	notes func(sources.Status)
	batch []spool.Record
}

func (e *chanEmitter) add(rec spool.Record) {
	e.batch = append(e.batch, rec)
	if len(e.batch) == cap(e.batch) {
		e.flush()
	}
}

func (e *chanEmitter) flush() {
	if len(e.batch) == 0 {
		return
	}
	select {
	case e.ch <- e.batch:
	case <-e.ctx.Done():
	}
	select {
	case e.batch = <-e.free:
	default:
		e.batch = make([]spool.Record, 0, sourceBatch)
	}
}

func (e *chanEmitter) Packet(p sources.Packet) { e.add(spool.Record{Packet: p}) }

func (e *chanEmitter) Status(st sources.Status) {
	if e.notes != nil {
		e.notes(st)
	}
}

// Secrets receives a pcapng Decryption Secrets Block.
func (e *chanEmitter) Secrets(kind uint32, data []byte) {
	if data == nil {
		data = []byte{}
	}
	e.add(spool.Record{SecretsKind: kind, Secrets: data})
}

// merger interleaves streams by packet timestamp, keeping each stream's
// own order (a capture whose clock jumps back stays in file order). Key
// material is returned as soon as it heads its stream.
type merger struct {
	streams []Stream
	synth   []bool
	heads   []spool.Record // valid where has is set
	has     []bool
	done    []bool
}

func newMerger(captured []Stream, synthetic Stream) *merger {
	m := &merger{}
	for _, s := range captured {
		m.streams = append(m.streams, s)
		m.synth = append(m.synth, false)
	}
	if synthetic != nil {
		m.streams = append(m.streams, synthetic)
		m.synth = append(m.synth, true)
	}
	m.heads = make([]spool.Record, len(m.streams))
	m.has = make([]bool, len(m.streams))
	m.done = make([]bool, len(m.streams))
	return m
}

// next returns the next record and whether it was synthesized.
func (m *merger) next() (spool.Record, bool, error) {
	best := -1
	for i, s := range m.streams {
		if m.done[i] {
			continue
		}
		if !m.has[i] {
			rec, err := s.Next()
			if errors.Is(err, io.EOF) {
				m.done[i] = true
				continue
			}
			if err != nil {
				return spool.Record{}, false, err
			}
			m.heads[i], m.has[i] = rec, true
		}
		h := &m.heads[i]
		if h.IsSecrets() {
			best = i
			break
		}
		if best < 0 || h.Packet.Timestamp.Before(m.heads[best].Packet.Timestamp) {
			best = i
		}
	}
	if best < 0 {
		return spool.Record{}, false, io.EOF
	}
	rec := m.heads[best]
	m.heads[best], m.has[best] = spool.Record{}, false
	return rec, m.synth[best], nil
}

func (m *merger) close() error {
	var errs []error
	for _, s := range m.streams {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
