package decode

import (
	"sync"

	"github.com/tapview/tapview/sources"
)

// maxNotes bounds the status notes a Board keeps: a chatty source must
// not grow memory, and the UI shows only the latest.
const maxNotes = 1000

// Board keeps what sources say about themselves for the views: status
// notes (the newest maxNotes) and statistics, in the order sources
// appeared. Both stores (Store here, decode/store for the UI) keep one.
type Board struct {
	mu    sync.Mutex
	notes []sources.Status
	stats map[string]*SourceStats
	order []string
}

// Note keeps a status note, dropping the oldest past the bound.
func (b *Board) Note(n sources.Status) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.notes) >= maxNotes {
		copy(b.notes, b.notes[1:])
		b.notes = b.notes[:len(b.notes)-1]
	}
	b.notes = append(b.notes, n)
}

// SetStats replaces the statistics of one source.
func (b *Board) SetStats(st SourceStats) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stats == nil {
		b.stats = make(map[string]*SourceStats)
	}
	if _, ok := b.stats[st.Name]; !ok {
		b.order = append(b.order, st.Name)
	}
	b.stats[st.Name] = &st
}

// Stats returns every source's statistics in the order sources appeared.
func (b *Board) Stats() []SourceStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]SourceStats, 0, len(b.order))
	for _, n := range b.order {
		out = append(out, *b.stats[n])
	}
	return out
}

// Notes returns the kept status notes, oldest first.
func (b *Board) Notes() []sources.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]sources.Status(nil), b.notes...)
}
