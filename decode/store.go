package decode

import (
	"sync"

	"github.com/tapview/tapview/sources"
)

// SourceStats is what the status bar shows about one source.
type SourceStats struct {
	Name    string
	Packets int64 // packets (or traces) read
	Bytes   int64 // bytes read from the source
	Total   int64 // total bytes when known (file size), else 0
	Dropped int64 // items dropped because the decoder was behind
	Done    bool  // the source ended
	Err     string
}

// Store holds the decoded Flows and Exchanges for interactive views. It has
// one writer (the decoder, through the Output methods) and many readers;
// readers get immutable values, so they never lock out the writer for
// longer than a slice copy. Changes are signalled on a channel with a
// buffer of one, so a burst of updates wakes a reader once.
type Store struct {
	mu      sync.RWMutex
	ex      []*Exchange
	exIndex map[uint64]int
	flows   []*Flow
	flIndex map[uint64]int
	board   Board
	changed chan struct{}
}

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{
		exIndex: make(map[uint64]int),
		flIndex: make(map[uint64]int),
		changed: make(chan struct{}, 1),
	}
}

func (s *Store) signal() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Changed is signalled (coalescing) whenever the Store changes.
func (s *Store) Changed() <-chan struct{} { return s.changed }

// Exchange inserts or replaces an exchange by ID. Insertion order is first
// publication order, which is the order views list exchanges in.
func (s *Store) Exchange(e *Exchange) {
	s.mu.Lock()
	if i, ok := s.exIndex[e.ID]; ok {
		s.ex[i] = e
	} else {
		s.exIndex[e.ID] = len(s.ex)
		s.ex = append(s.ex, e)
	}
	s.mu.Unlock()
	s.signal()
}

// Flow inserts or replaces a flow by ID.
func (s *Store) Flow(f *Flow) {
	s.mu.Lock()
	if i, ok := s.flIndex[f.ID]; ok {
		s.flows[i] = f
	} else {
		s.flIndex[f.ID] = len(s.flows)
		s.flows = append(s.flows, f)
	}
	s.mu.Unlock()
	s.signal()
}

// Note keeps a source's status note (see Board).
func (s *Store) Note(n sources.Status) {
	s.board.Note(n)
	s.signal()
}

// SetStats replaces the statistics of one source.
func (s *Store) SetStats(st SourceStats) {
	s.board.SetStats(st)
	s.signal()
}

// Stats returns every source's statistics in the order sources appeared.
func (s *Store) Stats() []SourceStats { return s.board.Stats() }

// Len returns the number of exchanges and flows.
func (s *Store) Len() (exchanges, flows int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.ex), len(s.flows)
}

// Exchanges returns a snapshot of all exchanges in list order. The slice
// is the caller's; the exchanges are shared and immutable.
func (s *Store) Exchanges() []*Exchange {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Exchange, len(s.ex))
	copy(out, s.ex)
	return out
}

// ExchangeRange returns exchanges [from, to) in list order, clamped.
func (s *Store) ExchangeRange(from, to int) []*Exchange {
	s.mu.RLock()
	defer s.mu.RUnlock()
	from, to = clamp(from, to, len(s.ex))
	out := make([]*Exchange, to-from)
	copy(out, s.ex[from:to])
	return out
}

// ExchangeByID returns the current version of an exchange, or nil.
func (s *Store) ExchangeByID(id uint64) *Exchange {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if i, ok := s.exIndex[id]; ok {
		return s.ex[i]
	}
	return nil
}

// Flows returns a snapshot of all flows in order of first publication.
func (s *Store) Flows() []*Flow {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Flow, len(s.flows))
	copy(out, s.flows)
	return out
}

// FlowByID returns the current version of a flow, or nil.
func (s *Store) FlowByID(id uint64) *Flow {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if i, ok := s.flIndex[id]; ok {
		return s.flows[i]
	}
	return nil
}

// Notes returns the kept status notes, oldest first.
func (s *Store) Notes() []sources.Status { return s.board.Notes() }

func clamp(from, to, n int) (int, int) {
	if from < 0 {
		from = 0
	}
	if to > n {
		to = n
	}
	if from > to {
		from = to
	}
	return from, to
}
