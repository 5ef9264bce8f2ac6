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
	s := &sourceStream{in: newHandoff[spool.Record](sourceBatch, sourceQueue, ctx.Done()), cancel: cancel}
	em := &chanEmitter{in: s.in, notes: notes}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.in.close()
		s.err = src.Run(ctx, em)
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
	in     *handoff[spool.Record] // from the source's goroutine
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
			s.in.giveBack(s.read)
			s.read = nil
		}
		b, ok := <-s.in.queue
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
	for range s.in.queue {
		// drain so the source's goroutine can finish
	}
	s.wg.Wait()
	return nil
}

// chanEmitter hands a source's packets and secrets to the stream in
// batches; it is also a pcapfile.SecretsEmitter, so embedded keys arrive
// in order.
type chanEmitter struct {
	in    *handoff[spool.Record]
	notes func(sources.Status)
}

func (e *chanEmitter) add(rec spool.Record) { e.in.add(rec) }

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
