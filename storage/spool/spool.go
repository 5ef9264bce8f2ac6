// Package spool is the local disk queue between a capture and object
// storage: finished segments wait here until they are uploaded, so a
// store that is slow or away loses nothing as long as the disk bound
// holds. The bound (Max bytes) covers every file the capture has on disk
// — queued segments, segments being masked, and the ones still being
// written (they ask Room before each write) — so the capture never fills
// the disk; what does not fit is dropped and counted, never silently.
package spool

import (
	"context"
	"fmt"
	"os"
	"sync"
)

// Item is one file waiting for upload.
type Item struct {
	Path string
	Size int64
	// Value carries what the uploader needs besides the file (its key
	// and tags); the spool does not look at it.
	Value any
}

// Spool is a bounded FIFO of files. It is safe for concurrent use.
type Spool struct {
	max int64

	mu       sync.Mutex
	used     int64 // bytes of queued, held and in-flight files
	queue    []Item
	inflight map[string]Item
	closed   bool
	wake     chan struct{}

	dropped      int64 // files refused for the bound
	droppedBytes int64
}

// New returns a spool bounded to max bytes (0 or less: unbounded).
func New(max int64) *Spool {
	return &Spool{max: max, inflight: make(map[string]Item), wake: make(chan struct{})}
}

// Room is how many more bytes may be put on disk.
func (s *Spool) Room() int64 {
	if s.max <= 0 {
		return 1 << 62
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.max-s.used, 0)
}

// Hold counts n bytes against the bound for a file that is not queued
// yet (a segment being masked). Release undoes it.
func (s *Spool) Hold(n int64) {
	s.mu.Lock()
	s.used += n
	s.mu.Unlock()
}

// Release gives back bytes counted by Hold.
func (s *Spool) Release(n int64) {
	s.mu.Lock()
	s.used -= n
	s.mu.Unlock()
}

// Add queues a file that is already on disk. When it does not fit in
// the bound it is removed and counted as dropped, and Add says so.
func (s *Spool) Add(it Item) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max > 0 && s.used+it.Size > s.max {
		s.dropped++
		s.droppedBytes += it.Size
		os.Remove(it.Path)
		return false
	}
	s.used += it.Size
	s.queue = append(s.queue, it)
	s.signal()
	return true
}

// signal wakes every waiting Next. Called with mu held.
func (s *Spool) signal() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// Next takes the oldest queued file for upload, waiting for one. It
// returns false when ctx ends, or when the spool is closed and empty.
// The file stays counted until Done or Retry.
func (s *Spool) Next(ctx context.Context) (Item, bool) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			it := s.queue[0]
			s.queue = s.queue[1:]
			s.inflight[it.Path] = it
			s.mu.Unlock()
			return it, true
		}
		if s.closed {
			s.mu.Unlock()
			return Item{}, false
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Item{}, false
		case <-wake:
		}
	}
}

// Done removes an uploaded file from disk and from the bound.
func (s *Spool) Done(it Item) error {
	s.mu.Lock()
	if _, ok := s.inflight[it.Path]; ok {
		delete(s.inflight, it.Path)
		s.used -= it.Size
	}
	s.mu.Unlock()
	if err := os.Remove(it.Path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("spool: removing uploaded %s: %w", it.Path, err)
	}
	return nil
}

// Return puts a file taken by Next back at the head of the queue, for an
// upload that was interrupted (the uploader is stopping).
func (s *Spool) Return(it Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.inflight[it.Path]; !ok {
		return
	}
	delete(s.inflight, it.Path)
	s.queue = append([]Item{it}, s.queue...)
	s.signal()
}

// Close says no more files will be added: Next returns false once the
// queue is empty.
func (s *Spool) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.signal()
	}
}

// Left lists the files still on disk (queued or in flight), oldest
// first: what could not be uploaded.
func (s *Spool) Left() []Item {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Item, 0, len(s.inflight)+len(s.queue))
	for _, it := range s.inflight {
		out = append(out, it)
	}
	return append(out, s.queue...)
}

// Stats are the spool's counters.
type Stats struct {
	Queued       int   // files waiting (not in flight)
	Used         int64 // bytes counted against the bound
	Dropped      int64 // files removed because the bound was hit
	DroppedBytes int64
}

// Stats returns the current counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Queued: len(s.queue), Used: s.used, Dropped: s.dropped, DroppedBytes: s.droppedBytes}
}
