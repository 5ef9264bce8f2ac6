package lanes

import (
	"fmt"
	"time"

	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
)

// evictNoteEvery is the capture time between two notes about evictions
// from one source (as tcp.Decoder notes them on its own).
const evictNoteEvery = 10 * time.Second

// evictionNotes tells the output how many flows the lanes closed early
// for the flow cap: at most once per evictNoteEvery of a source's capture
// clock, and at the end.
type evictionNotes struct {
	max     int
	total   int64
	sources map[string]*evictSource
	order   []string
}

type evictSource struct {
	clock   time.Time
	noted   time.Time
	atNote  int64 // total at the last note
	pending bool
}

func (e *evictionNotes) init(maxFlows int) {
	e.max = maxFlows
	e.sources = make(map[string]*evictSource)
}

func (e *evictionNotes) add(m *merger, ev *tcp.Event) {
	x := ev.Evicted
	s := e.sources[x.Source]
	if s == nil {
		s = &evictSource{}
		e.sources[x.Source] = s
		e.order = append(e.order, x.Source)
	}
	if x.Clock.After(s.clock) {
		s.clock = x.Clock
	}
	if x.Count > 0 {
		e.total += x.Count
		s.pending = true
	}
}

// check notes the sources whose evictions are due for a note.
func (e *evictionNotes) check(m *merger, final bool) {
	for _, name := range e.order {
		s := e.sources[name]
		if !s.pending || s.atNote == e.total {
			continue
		}
		if !final && !s.noted.IsZero() && s.clock.Sub(s.noted) < evictNoteEvery {
			continue
		}
		s.noted, s.atNote, s.pending = s.clock, e.total, false
		m.out.Note(sources.Status{
			Time: s.clock, Source: name, Level: sources.Warning, Kind: "evicted",
			Message: fmt.Sprintf("%d flows closed early so far to stay within %d open flows (least recently active first)", e.total, e.max),
		})
	}
}
