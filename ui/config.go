package ui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// ExchangeReader reads exchanges by list position, so the UI fetches only
// the rows it shows.
type ExchangeReader interface {
	Len() (exchanges, flows int)
	ExchangeRange(from, to int) []*decode.Exchange
	ExchangeByID(id uint64) *decode.Exchange
}

// FlowReader reads flows. When the implementation also has
// FlowRange(from, to int) []*decode.Flow the UI uses it to avoid copying
// every flow on each refresh.
type FlowReader interface {
	Flows() []*decode.Flow
	FlowByID(id uint64) *decode.Flow
}

// StatusReader tells the UI when to look again and what the sources are
// doing.
type StatusReader interface {
	Changed() <-chan struct{}
	Stats() []decode.SourceStats
	Notes() []sources.Status
}

// Store is everything the UI reads; *decode.Store satisfies it. Values it
// returns are immutable, so the UI may hand them to background commands.
type Store interface {
	ExchangeReader
	FlowReader
	StatusReader
}

// flowRanger is the optional windowed flow read (see FlowReader).
type flowRanger interface {
	FlowRange(from, to int) []*decode.Flow
}

// windowed is implemented by stores that evict (decode/store): positions
// stay absolute, Len is one past the last position ever listed and Base
// the first still kept, so cursors and filter matches survive eviction.
// Positions below Base read as nil.
type windowed interface {
	Base() (exchanges, flows int)
}

// scanner is the optional allocation-free read for filter passes: fn
// gets each kept exchange of [from, to) in a value it must not keep.
type scanner interface {
	Scan(from, to int, fn func(pos int, e *decode.Exchange) bool)
}

// pinner keeps exchanges the user opened whole when the list evicts.
type pinner interface {
	Pin(id uint64)
}

// Matcher is a compiled filter. *filter.Program satisfies it.
type Matcher interface {
	Match(e *decode.Exchange) bool
	MatchFlow(f *decode.Flow) bool
}

// batchMatcher is the optional parallel form of Matcher; when a Matcher
// has it, full filter passes over a million exchanges use it.
type batchMatcher interface {
	MatchAll(exs []*decode.Exchange, workers int) []int
}

// matchesAller is the optional "this filter is empty" test of a Matcher;
// such a filter is treated as no filter at all.
type matchesAller interface {
	MatchesAll() bool
}

// Config is what the CLI gives the UI. Only Store is required; every
// function is optional and the matching key says it is unavailable.
type Config struct {
	// Store holds the decoded traffic.
	Store Store
	// Title names the input in the header when the store has no source
	// statistics yet ("demo", a file name).
	Title string
	// Live is set for live sources; the list then follows the newest
	// exchange from the start.
	Live bool
	// Filter is the initial filter expression (from --filter).
	Filter string
	// Unmasked starts with masking off (an explicit flag); the screen
	// then says UNMASKED.
	Unmasked bool
	// Location is the time zone for timestamps; nil means time.Local.
	Location *time.Location

	// Compile turns a filter expression into a Matcher
	// (filter.Compile fits). A *filter.Error among the returned errors
	// puts a caret under the problem in the prompt.
	Compile func(expr string) (Matcher, error)
	// Mask returns a masked copy of an exchange. It is applied only to
	// what is rendered, never to the store. When nil, masking cannot be
	// applied and the screen always says UNMASKED.
	Mask func(*decode.Exchange) *decode.Exchange
	// Export writes what is shown to path, the format chosen by its
	// extension (.pcap, .pcapng, .har, .json).
	Export ExportFunc
	// Raw returns the bytes of an exchange as captured, for the raw tab.
	// When nil (or while masking is on) the raw tab shows bytes
	// reconstructed from the decoded messages and says so.
	Raw func(e *decode.Exchange) ([]byte, error)

	// Both is the store with both legs of service-mesh traffic, including
	// the network-leg duplicates Store leaves out; the b key switches to
	// it. nil disables the key.
	Both Store
	// External lists destinations outside the cluster for the external
	// lens (key 3); nil hides the lens.
	External ExternalReader
	// StartExternal opens the external lens first.
	StartExternal bool

	// HistoryPath is the file that keeps filter history between
	// sessions (DefaultHistoryPath fits); "" keeps it for this session
	// only.
	HistoryPath string
	// Stream reads the bytes of a flow again for the bytes view (key s);
	// nil says the bytes are not available here.
	Stream StreamReader
	// Now is the wall clock for the notes the UI writes; nil is
	// time.Now.
	Now func() time.Time

	// Memory is the process's memory budget in bytes (--memory), shown
	// in the status bar with MemoryUsed; 0 hides both.
	Memory     int64
	MemoryUsed func() int64
}

// Run shows the UI on the terminal until the user quits or ctx ends. It
// returns nil on a normal quit and on cancellation. opts are passed to
// bubbletea (soak tests run the real program loop with no terminal).
func Run(ctx context.Context, cfg Config, opts ...tea.ProgramOption) error {
	if cfg.Store == nil {
		return errors.New("ui: no store")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := tea.NewProgram(New(ctx, cfg), append([]tea.ProgramOption{tea.WithContext(ctx)}, opts...)...)
	_, err := p.Run()
	switch {
	case err == nil, errors.Is(err, tea.ErrInterrupted), ctx.Err() != nil:
		return nil
	default:
		return fmt.Errorf("ui: %w", err)
	}
}
