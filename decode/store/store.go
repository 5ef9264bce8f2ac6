// Package store is the memory-bounded Store behind the interactive UI.
// A live inspector runs for hours on sources that never end, so it cannot
// keep every exchange as decoded: it keeps a compact summary of each final
// exchange in memory (what lists, row masking and cheap filters need,
// about a hundred bytes for an HTTP/1 exchange) and writes the whole
// exchange, headers, bodies and gRPC/WebSocket messages, to an
// append-only spill store on disk (decode/spill), from which the detail,
// export and body filters re-read it by reference.
//
// When summaries and flows outgrow the budget, the oldest are evicted and
// counted, and the view says so ("kept last 1.2M of 3.4M"). Exchanges the
// user pinned (opened or marked) are kept whole in memory instead.
//
// Why a spill file rather than re-reading the capture by offset: an
// exchange is the product of TCP reassembly, decryption and decompression
// over packets spread through the capture (one keep-alive connection can
// span the whole file); rebuilding one would mean decoding its connection
// again from the start. The spill costs a sequential write of what was
// decoded, and serves every source alike, files, pipes and live ones.
package store

import (
	"sync"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/spill"
	"github.com/tapview/tapview/sources"
)

// Spill is where whole exchanges go; *spill.Store implements it.
type Spill interface {
	Put(e *decode.Exchange) (spill.Ref, error)
	Get(r spill.Ref) (*decode.Exchange, error)
}

// DefaultBudget is the memory the store may use for summaries, their
// index and flows when Options.Budget is zero.
const DefaultBudget = 256 << 20

// flowShare is the part of the budget flows may take; flows are bigger
// than summaries (a decoded Flow with its packet list) and fewer.
const flowShare = 4

// Options configure a Store.
type Options struct {
	// Budget bounds the store's memory in bytes (summaries, index, flows,
	// pinned exchanges); 0 means DefaultBudget.
	Budget int64
	// Spill keeps whole exchanges; nil keeps only summaries, so the
	// detail shows start lines and sizes but no headers or bodies.
	Spill Spill
}

// core is what the lists of one session share: the exchanges and flows
// themselves, the budget and the statistics.
type core struct {
	mu     sync.RWMutex
	budget int64
	spill  Spill

	in      *interner
	arena   arena
	recs    recTable
	pending map[uint64]*decode.Exchange
	pinned  map[uint64]*decode.Exchange // whole exchanges the user pinned
	scratch []byte

	flows     map[uint64]*flowRec
	flowBytes int64

	lists []*Store

	evictedEx, evictedFl int64
	totalEx, totalFl     int64 // ever listed by the primary list
	spillErr             string

	board decode.Board // sources' notes and statistics
}

// Store is one list of exchanges and flows over a shared core. New returns
// the primary list, which sees everything and decides eviction; View
// returns another list over the same data (the service-mesh view that
// leaves out network-leg duplicates), which costs 8 bytes an item.
type Store struct {
	c       *core
	n       int // index among the core's lists
	ex, fl  idList
	changed chan struct{}
}

// New returns the primary Store.
func New(opts Options) *Store {
	if opts.Budget <= 0 {
		opts.Budget = DefaultBudget
	}
	c := &core{
		budget:  opts.Budget,
		spill:   opts.Spill,
		in:      newInterner(),
		pending: make(map[uint64]*decode.Exchange),
		pinned:  make(map[uint64]*decode.Exchange),
		flows:   make(map[uint64]*flowRec),
	}
	// Chunks are freed whole, so eviction works in steps of a chunk:
	// keep a chunk a thousandth of the budget (within bounds), so the
	// steps stay small however small the budget.
	c.arena.size = int(min(max(opts.Budget/1024, 4<<10), chunkSize))
	return c.newList()
}

// View returns a further list over the same exchanges and flows. At most
// eight lists share a core.
func (s *Store) View() *Store {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.c.newList()
}

func (c *core) newList() *Store {
	if len(c.lists) >= 8 {
		panic("store: more than eight lists over one core")
	}
	s := &Store{c: c, n: len(c.lists), changed: make(chan struct{}, 1)}
	c.lists = append(c.lists, s)
	return s
}

func (c *core) signal() {
	for _, l := range c.lists {
		select {
		case l.changed <- struct{}{}:
		default:
		}
	}
}

// Changed is signalled (coalescing) whenever the store changes.
func (s *Store) Changed() <-chan struct{} { return s.changed }

// Exchange stores a published exchange (decode.Output). A final exchange
// goes to the spill and becomes a summary; a pending one is kept as is
// until its final version arrives.
func (s *Store) Exchange(e *decode.Exchange) {
	c := s.c
	var full spill.Ref
	final := e.State.Final()
	var spillErr error
	if final && c.spill != nil && !c.alreadyFinal(e.ID) {
		full, spillErr = c.spill.Put(e)
	}
	c.mu.Lock()
	if spillErr != nil && c.spillErr == "" {
		c.spillErr = spillErr.Error()
		c.board.Note(sources.Status{Time: time.Now(), Source: "tapview", Level: sources.Warning, Kind: "spill",
			Message: "cannot keep whole exchanges on disk (" + spillErr.Error() + "); the detail shows summaries from now on: free disk space or set TMPDIR"})
	}
	r := c.recs.put(e.ID)
	switch {
	case r.state == recFinal:
		// Already final: a second list publishing the same exchange.
	case final:
		c.scratch = appendSummary(c.scratch[:0], c.in, e)
		r.sum = c.arena.add(c.scratch)
		r.full = uint64(full)
		r.state = recFinal
		delete(c.pending, e.ID)
	default:
		r.state = recPending
		c.pending[e.ID] = e
	}
	if _, ok := c.pinned[e.ID]; ok {
		c.pinned[e.ID] = e // a pinned exchange follows its newer versions
	}
	bit := uint8(1) << s.n
	if r.lists&bit == 0 {
		r.lists |= bit
		s.ex.push(e.ID)
		if s.n == 0 {
			c.totalEx++
		}
	}
	c.evict()
	c.mu.Unlock()
	c.signal()
}

func (c *core) alreadyFinal(id uint64) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r := c.recs.get(id)
	return r != nil && r.state == recFinal
}

// flowRec is a flow and the lists that show it.
type flowRec struct {
	f     *decode.Flow
	lists uint8
}

// Flow stores a published flow (decode.Output).
func (s *Store) Flow(f *decode.Flow) {
	c := s.c
	c.mu.Lock()
	fr := c.flows[f.ID]
	if fr == nil {
		fr = &flowRec{}
		c.flows[f.ID] = fr
	} else {
		c.flowBytes -= flowSize(fr.f)
	}
	fr.f = f
	c.flowBytes += flowSize(f)
	if bit := uint8(1) << s.n; fr.lists&bit == 0 {
		fr.lists |= bit
		s.fl.push(f.ID)
		if s.n == 0 {
			c.totalFl++
		}
	}
	c.evict()
	c.mu.Unlock()
	c.signal()
}

// flowSize estimates a flow's memory: the struct, its strings and its
// packet list.
func flowSize(f *decode.Flow) int64 {
	n := int64(400 + len(f.Source) + len(f.Proto) + len(f.Error) + len(f.SNI) + len(f.Pod) + len(f.Namespace))
	n += int64(cap(f.Ordinals)) * 8
	if f.TLS != nil {
		n += 160
	}
	return n
}

// Note keeps a source's status note (see decode.Board).
func (s *Store) Note(n sources.Status) {
	s.c.board.Note(n)
	s.c.signal()
}

// SetStats replaces the statistics of one source.
func (s *Store) SetStats(st decode.SourceStats) {
	s.c.board.SetStats(st)
	s.c.signal()
}

// Stats returns every source's statistics in the order sources appeared.
func (s *Store) Stats() []decode.SourceStats { return s.c.board.Stats() }

// Notes returns the kept status notes, oldest first.
func (s *Store) Notes() []sources.Status { return s.c.board.Notes() }
