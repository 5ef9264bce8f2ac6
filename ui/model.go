package ui

import (
	"context"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mesh"
	"github.com/tapview/tapview/sources"
)

// paneID names the two lists.
type paneID int

const (
	paneExchanges paneID = iota
	paneFlows
)

// Model is the bubbletea model of the whole screen. It is used through a
// pointer: Update mutates it in place and returns it.
type Model struct {
	cfg    Config
	ctx    context.Context
	keys   keyMap
	st     styles
	rp     rowPaints
	loc    *time.Location
	w, h   int
	pane   paneID
	over   overlay // help, notes or bytes, shown in place of the lists
	prompt *prompt

	lists [2]listView
	idx   [2]filterIndex
	sorts [2]sortState
	// history is the filter prompt's Up/Down list (Config.HistoryPath).
	history filterHistory
	marks   [2]map[uint64]bool // marked exchange and flow IDs
	total   [2]int             // store lengths as last refreshed (frozen while paused)
	base    [2]int             // first positions the store still keeps (see windowed)
	// memUsed is the process's memory as last read (Config.MemoryUsed).
	memUsed int64

	masked bool
	paused bool
	stats  []decode.SourceStats
	note   string // latest warning or error from a source
	noteLv int
	noteKd string // its short kind ("truncated", "CONGESTED")
	// srcNotes are the sources' notes as last pulled; uiNotes what the
	// UI itself reported (export results, failures), for the notes view.
	srcNotes []sources.Status
	uiNotes  []sources.Status
	// days is set when the session spans more than one calendar day, so
	// times carry the date.
	days           bool
	spanLo, spanHi time.Time
	// srcLabels are this frame's SOURCE cells by source name.
	srcLabels map[string]string

	exRows   []exRow
	flRows   []flRow
	rowCache map[uint64]exRow

	detail detailView
	// extLast is the external lens's last read, kept for the header's
	// count while the lens is closed.
	extLast   []mesh.Group
	extLoaded bool
	// statsBy is the stats view's grouping as last chosen, kept while
	// the view is closed.
	statsBy []string
	both    bool            // showing cfg.Store swapped with cfg.Both
	wake    <-chan struct{} // change signal: Both's when set (it sees every change)

	status    statusLine
	statusSeq int
	spin      int
	spinning  bool
	inflight  int // background commands whose results Update still awaits
	lastSrch  string
	lastPath  string
}

// New builds the model; Run uses it, and tests drive it directly.
func New(ctx context.Context, cfg Config) *Model {
	loc := cfg.Location
	if loc == nil {
		loc = time.Local
	}
	st := newStyles()
	m := &Model{
		cfg:      cfg,
		ctx:      ctx,
		keys:     newKeyMap(),
		st:       st,
		rp:       newRowPaints(st),
		loc:      loc,
		w:        80,
		h:        24,
		masked:   !cfg.Unmasked && cfg.Mask != nil,
		rowCache: make(map[uint64]exRow),
	}
	m.sorts = [2]sortState{{col: -1}, {col: -1}}
	m.marks = [2]map[uint64]bool{{}, {}}
	m.lists = [2]listView{{pane: paneExchanges, follow: cfg.Live}, {pane: paneFlows, follow: cfg.Live}}
	m.wake = cfg.Store.Changed()
	if cfg.Both != nil {
		m.wake = cfg.Both.Changed()
	}
	m.keys.External.SetEnabled(cfg.External != nil)
	m.keys.Both.SetEnabled(cfg.Both != nil)
	if cfg.StartExternal && cfg.External != nil {
		m.over = &externalView{}
	}
	return m
}

// Init starts watching the store and applies the initial filter.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.waitCmd(), m.pull()}
	if m.cfg.Filter != "" {
		cmds = append(cmds, m.applyFilter(m.cfg.Filter))
	}
	cmds = append(cmds, m.startSpin(), m.loadExternal(), m.loadHistory())
	return tea.Batch(cmds...)
}

// Update handles one message. Nothing here blocks or does I/O: store reads
// are slice copies of the visible rows, everything heavier is a command.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.fixLists()
		return m, m.reloadDetail()
	case tea.KeyPressMsg:
		return m, m.onKey(msg)
	case tea.PasteMsg:
		if m.prompt != nil {
			m.prompt.edit.insert(msg.Content)
		}
		return m, nil
	case tea.MouseWheelMsg:
		return m, m.onWheel(msg.Mouse())
	case tea.MouseClickMsg:
		return m, m.onClick(msg.Mouse())
	case storeChangedMsg:
		return m, tea.Batch(m.onStoreChanged(msg), m.stepStats())
	case rearmMsg:
		return m, m.waitCmd()
	case spinMsg:
		return m, m.onSpin()
	case filterResult:
		m.inflight--
		return m, m.onFilterResult(msg)
	case detailResult:
		m.inflight--
		m.detail.onResult(m, msg)
		return m, nil
	case exportResult:
		m.inflight--
		return m, m.onExportResult(msg)
	case curlResult:
		m.inflight--
		return m, m.onCurlResult(msg)
	case saveResult:
		m.inflight--
		return m, m.onSaved(msg)
	case externalReady:
		m.inflight--
		return m, m.onExternalReady(msg)
	case externalDone:
		return m, m.onExternalDone(msg)
	case sortResult:
		m.inflight--
		return m, m.onSortResult(msg)
	case sortTickMsg:
		return m, m.onSortTick(msg)
	case jumpResult:
		m.inflight--
		return m, m.onJumpResult(msg)
	case streamResult:
		m.inflight--
		m.onStreamResult(msg)
		return m, nil
	case historySaved:
		m.inflight--
		m.onHistorySaved(msg)
		return m, nil
	case historyLoaded:
		m.inflight--
		m.history.load(msg)
		return m, nil
	case externalResult:
		m.inflight--
		m.onExternalResult(msg)
		return m, nil
	case statsResult:
		m.inflight--
		return m, m.onStatsResult(msg)
	case clearStatusMsg:
		if msg.seq == m.statusSeq {
			m.status = statusLine{}
			m.fixLists()
		}
		return m, nil
	}
	return m, nil
}

// work counts a background command so tests (and the busy indicator)
// know when results are still due.
func (m *Model) work(cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	m.inflight++
	return cmd
}

func (m *Model) onKey(k tea.KeyPressMsg) tea.Cmd {
	if k.String() == "ctrl+c" {
		return tea.Quit
	}
	if m.prompt != nil {
		return m.onPromptKey(k)
	}
	if m.over != nil {
		return m.onOverlayKey(k)
	}
	if m.detail.open {
		if cmd, handled := m.detail.Update(m, k); handled {
			return cmd
		}
	} else if cmd, handled := m.list().Update(m, k); handled {
		return cmd
	}
	return m.onGlobalKey(k)
}

// onGlobalKey handles keys that mean the same everywhere.
func (m *Model) onGlobalKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.Quit):
		return tea.Quit
	case key.Matches(k, m.keys.Help):
		m.openOverlay(&helpView{})
	case key.Matches(k, m.keys.Notes):
		m.openOverlay(&notesView{})
	case key.Matches(k, m.keys.Exchanges):
		m.switchPane(paneExchanges)
	case key.Matches(k, m.keys.Flows):
		m.switchPane(paneFlows)
	case key.Matches(k, m.keys.Stats):
		return m.openStats()
	case key.Matches(k, m.keys.External):
		return m.openExternal()
	case key.Matches(k, m.keys.Both):
		return m.toggleBoth()
	case key.Matches(k, m.keys.Mask):
		return m.toggleMask()
	case key.Matches(k, m.keys.Follow):
		return m.toggleFollow()
	case key.Matches(k, m.keys.Pause):
		if m.paused {
			return tea.Batch(m.resume(), m.flash("resumed: the list shows what arrived meanwhile", false))
		}
		m.paused = true
		return m.flash("paused: rows hold still while traffic is read; space resumes", false)
	case key.Matches(k, m.keys.Export):
		if m.cfg.Export == nil {
			return m.flash("export is not available here", true)
		}
		path := m.lastPath
		if path == "" {
			path = "tapview-export.har"
		}
		m.openPrompt(promptExport, path)
	case key.Matches(k, m.keys.Sort):
		return m.cycleSort()
	case key.Matches(k, m.keys.Reverse):
		return m.reverseSort()
	case key.Matches(k, m.keys.Mark):
		return m.toggleMark()
	case key.Matches(k, m.keys.Unmark):
		return m.clearMarks()
	case key.Matches(k, m.keys.Jump):
		return m.jump()
	case key.Matches(k, m.keys.Stream):
		return m.openStream()
	case key.Matches(k, m.keys.Copy):
		return m.copyCurl()
	}
	return nil
}

// toggleFollow keeps the cursor on the newest row, and says what that
// means for a source that has ended.
func (m *Model) toggleFollow() tea.Cmd {
	l := &m.lists[m.pane]
	l.follow = !l.follow
	m.fixLists()
	msg := "follow off: the cursor stays where you put it"
	switch {
	case l.follow && !m.cfg.Live && !m.loading():
		msg = "follow on: the capture is read completely, so the cursor stays on the last row; f turns it off"
	case l.follow:
		msg = "follow on: the cursor moves to each new row; f or moving up turns it off"
	}
	return tea.Batch(m.syncDetail(), m.flash(msg, false))
}

func (m *Model) switchPane(p paneID) {
	if m.pane == p && !m.detail.open && m.over == nil {
		return
	}
	m.over = nil
	m.pane = p
	m.detail = detailView{}
	m.fixLists()
}

func (m *Model) toggleMask() tea.Cmd {
	if m.cfg.Mask == nil {
		return m.flash("no masker configured: showing traffic as captured", true)
	}
	m.masked = !m.masked
	clear(m.rowCache)
	m.fixLists()
	return m.reloadDetail()
}
