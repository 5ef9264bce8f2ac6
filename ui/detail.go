package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/view"
)

// Exchange detail tabs.
const (
	tabRequest = iota
	tabResponse
	tabTiming
	tabRaw
)

// contentKey identifies rendered detail content; a result whose key is
// not the wanted one is stale and dropped.
type contentKey struct {
	pane        paneID
	id, version uint64
	tab, choice int
	width       int
	masked      bool
	search      string
}

// detailState is the open detail of one exchange or flow: always the item
// under the list cursor.
type detailState struct {
	open    bool
	item    bool // an item was found under the cursor
	pane    paneID
	id      uint64
	version uint64
	tab     int
	choice  [2]int // body view of request and response, or autoView
	used    [2]view.Kind
	title   string
	proto   string // the exchange's protocol, which picks the tab names
	lines   []dline
	have    contentKey
	want    contentKey
	scroll  int
	matches []int // lines holding the search term
	cur     int   // current match
}

// detailResult carries rendered detail content back to Update.
type detailResult struct {
	key     contentKey
	title   string
	lines   []dline
	used    view.Kind
	matches []int
}

func (m *Model) tabNames() []string {
	if m.detail.pane == paneFlows {
		return []string{"Flow"}
	}
	if m.detail.proto == "ws" {
		// One WebSocket exchange holds the frames of both directions:
		// they read as one conversation, not as a request and a reply.
		return []string{"Messages", "Summary", "Timing", "Raw"}
	}
	return []string{"Request", "Response", "Timing", "Raw"}
}

// openDetail opens the item under the cursor.
func (m *Model) openDetail() tea.Cmd {
	if m.shown(m.pane) == 0 {
		return nil
	}
	tab := m.detail.tab
	if m.detail.pane != m.pane {
		tab = tabRequest
	}
	m.detail = detailState{open: true, pane: m.pane, tab: tab, choice: [2]int{autoView, autoView}}
	m.fixLists()
	return m.syncDetail()
}

// cursorItem returns the exchange or flow under the cursor of pane p.
func (m *Model) cursorItem(p paneID) (*decode.Exchange, *decode.Flow) {
	pos := m.selectedPos(p)
	if pos < 0 {
		return nil, nil
	}
	if p == paneFlows {
		if r := flowRange(m.cfg.Store, pos, pos+1); len(r) == 1 {
			return nil, r[0]
		}
		return nil, nil
	}
	if r := m.cfg.Store.ExchangeRange(pos, pos+1); len(r) == 1 {
		return r[0], nil
	}
	return nil, nil
}

// syncDetail points an open detail at the item under the cursor and
// reloads it when that item or its version changed.
func (m *Model) syncDetail() tea.Cmd {
	d := &m.detail
	if !d.open {
		return nil
	}
	e, f := m.cursorItem(d.pane)
	var id, version uint64
	switch {
	case e != nil:
		id, version = e.ID, e.Version
		d.proto = e.Proto
	case f != nil:
		// Flows carry no version; any change moves the last packet time
		// or the packet count.
		id = f.ID
		version = uint64(f.Last.UnixNano()) + uint64(f.PacketsC2S+f.PacketsS2C)
	default:
		return nil
	}
	if id != d.id || !d.item {
		d.id, d.scroll, d.matches, d.cur, d.title = id, 0, nil, 0, ""
		d.lines = nil
	}
	d.item, d.version = true, version
	return m.reloadDetail()
}

func (m *Model) contentWidth() int { return max(m.w-2, 20) }

// reloadDetail renders the wanted content in a command unless it is
// already shown or on its way.
func (m *Model) reloadDetail() tea.Cmd {
	d := &m.detail
	if !d.open || !d.item {
		return nil
	}
	want := contentKey{pane: d.pane, id: d.id, version: d.version, tab: d.tab, width: m.contentWidth(),
		masked: m.masked, search: m.lastSrch, choice: autoView}
	if side := d.side(); side >= 0 {
		want.choice = d.choice[side]
	}
	if want == d.have || want == d.want {
		return nil
	}
	d.want = want
	job := detailJob{key: want, loc: m.loc, mask: m.cfg.Mask, raw: m.cfg.Raw}
	if d.pane == paneFlows {
		job.fl = m.cfg.Store.FlowByID(d.id)
	} else {
		// The whole exchange may have to be re-read from disk: the
		// command does it, not Update.
		job.store, job.id = m.cfg.Store, d.id
	}
	return m.work(job.run)
}

// side is 0 on the request tab, 1 on the response tab, else -1 (also
// on a WebSocket exchange's Summary tab, which has no body).
func (d *detailState) side() int {
	if d.pane == paneExchanges && (d.tab == tabRequest || d.tab == tabResponse && d.proto != "ws") {
		return d.tab
	}
	return -1
}

// detailJob renders detail content off the update loop: masking a large
// body, undoing its compression and pretty-printing it all take time, and
// Raw may read the capture file.
type detailJob struct {
	key  contentKey
	ex   *decode.Exchange
	fl   *decode.Flow
	loc  *time.Location
	mask func(*decode.Exchange) *decode.Exchange
	raw  func(*decode.Exchange) ([]byte, error)
	// linked is the flow of the exchange's other mesh leg, when known.
	linked *decode.Flow
	// store and id name the exchange to load when ex is not given.
	store Store
	id    uint64
}

func (j detailJob) run() tea.Msg {
	res := detailResult{key: j.key}
	if j.ex == nil && j.store != nil {
		if p, ok := j.store.(pinner); ok {
			p.Pin(j.id) // opened: kept whole when the list or the spill moves on
		}
		j.ex = j.store.ExchangeByID(j.id)
		if j.ex != nil && j.ex.Linked != 0 {
			j.linked = j.store.FlowByID(j.ex.Linked)
		}
	}
	w := j.key.width
	switch {
	case j.ex != nil:
		e := j.ex
		if j.key.masked && j.mask != nil {
			if me := j.mask(e); me != nil {
				e = me
			}
		}
		res.title = exchangeTitle(e)
		if e.Slim {
			res.lines = append(res.lines, dline{text: "only a summary of this exchange is left: its headers and body were dropped from the disk spill (see --spill-max), or could not be written there (check free space in TMPDIR)", kind: lineWarn})
		}
		var lines []dline
		switch tab := j.key.tab; {
		case e.Proto == "ws" && tab == tabRequest:
			lines, res.used = wsMessageLines(e, w, j.key.choice)
		case e.Proto == "ws" && tab == tabResponse:
			lines = wsSummaryLines(e, w)
		case tab == tabRequest:
			lines, res.used = requestLines(e, w, j.key.choice)
		case tab == tabResponse:
			lines, res.used = responseLines(e, w, j.key.choice)
		case tab == tabTiming:
			lines = timingLines(e, j.linked, j.loc, w)
		default:
			lines = j.rawTab(e, w)
		}
		res.lines = append(res.lines, lines...)
	case j.fl != nil:
		f := j.fl
		res.title = fmt.Sprintf("%s %s → %s", f.Transport, f.Client, f.Server)
		res.lines = flowLines(f, j.loc, w)
	default:
		res.lines = []dline{{text: "this item is no longer in the store", kind: lineNote}}
	}
	res.matches = findMatches(res.lines, j.key.search)
	return res
}

func (j detailJob) rawTab(shown *decode.Exchange, w int) []dline {
	switch {
	case j.raw == nil:
		return rawLines(shown, nil, nil, "Reconstructed from the decoded messages (start line, headers, body as transferred); "+
			"this source does not keep the bytes as captured.", w)
	case j.key.masked:
		return rawLines(shown, nil, nil, "Masking is on, so these are the masked messages reconstructed as HTTP/1 text; "+
			"m shows the bytes as captured.", w)
	}
	b, err := j.raw(j.ex)
	if err != nil || b == nil {
		return rawLines(shown, nil, err, "Reconstructed from the decoded messages.", w)
	}
	return rawLines(shown, b, nil, "", w)
}

// exchangeTitle is the one-line summary above the tabs: request, status
// and reason (gRPC status by name), latency.
func exchangeTitle(e *decode.Exchange) string {
	var b strings.Builder
	if e.Request != nil {
		b.WriteString(e.Request.Method + " ")
	}
	b.WriteString(exchangeURL(e))
	b.WriteString("  →  ")
	switch {
	case e.DNS != nil && e.DNS.Rcode != "":
		b.WriteString(e.DNS.Rcode)
	case e.DNS != nil:
		b.WriteString("no answer (" + string(e.State) + ")")
	case e.Query != nil && e.Query.ReplyError != "":
		b.WriteString(view.Sanitize(e.Query.ReplyError))
	case e.Query != nil && e.Response != nil:
		b.WriteString("OK")
	case e.Proto == "ws":
		b.WriteString("WebSocket messages (" + string(e.State) + ")")
	case e.Response != nil && e.Response.Status > 0:
		b.WriteString(strings.TrimSpace(fmt.Sprintf("%d %s", e.Response.Status, e.Response.Reason)))
	case e.Response != nil:
		b.WriteString("response (" + string(e.State) + ")")
	case e.State == decode.Pending:
		b.WriteString("pending")
	default:
		b.WriteString("no response (" + string(e.State) + ")")
	}
	if e.GRPC != nil && e.GRPC.Status >= 0 {
		b.WriteString(fmt.Sprintf(" · gRPC %s (%d)", grpcName(e.GRPC.Status), e.GRPC.Status))
	}
	if lat := exchangeLatency(e); lat > 0 {
		b.WriteString(" · " + humanDuration(lat))
	}
	return view.Sanitize(b.String())
}

func (m *Model) onDetailResult(r detailResult) {
	d := &m.detail
	if !d.open || r.key != d.want {
		return
	}
	sameItem := d.have.id == r.key.id && d.have.tab == r.key.tab
	newSearch := r.key.search != "" && r.key.search != d.have.search
	d.have = r.key
	d.lines, d.title, d.matches = r.lines, r.title, r.matches
	if side := d.side(); side >= 0 {
		d.used[side] = r.used
	}
	if !sameItem {
		d.cur = 0
	}
	d.cur = min(d.cur, max(len(d.matches)-1, 0))
	if newSearch {
		d.cur = 0
		for i, ln := range d.matches {
			if ln >= d.scroll {
				d.cur = i
				break
			}
		}
		m.showMatch()
	}
	m.scrollDetail(0)
}

// findMatches lists the lines containing term, case-insensitively.
func findMatches(lines []dline, term string) []int {
	if term == "" {
		return nil
	}
	var out []int
	for i, l := range lines {
		if containsFold(l.text, term) {
			out = append(out, i)
		}
	}
	return out
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// scrollDetail moves the content window by delta lines, clamped.
func (m *Model) scrollDetail(delta int) {
	d := &m.detail
	h := m.detailContentRows()
	d.scroll = min(max(d.scroll+delta, 0), max(len(d.lines)-h, 0))
}

// showMatch scrolls so the current match sits a third down the pane.
func (m *Model) showMatch() {
	d := &m.detail
	if len(d.matches) == 0 {
		return
	}
	line := d.matches[d.cur]
	h := m.detailContentRows()
	if line < d.scroll || line >= d.scroll+h {
		d.scroll = line - h/3
	}
	m.scrollDetail(0)
}

func (m *Model) onDetailKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	d := &m.detail
	h := m.detailContentRows()
	switch {
	case key.Matches(k, m.keys.Back):
		m.detail.open = false
		m.fixLists()
	case key.Matches(k, m.keys.Up):
		m.scrollDetail(-1)
	case key.Matches(k, m.keys.Down):
		m.scrollDetail(1)
	case key.Matches(k, m.keys.PageUp):
		m.scrollDetail(-h)
	case key.Matches(k, m.keys.PageDown):
		m.scrollDetail(h)
	case key.Matches(k, m.keys.Top):
		d.scroll = 0
	case key.Matches(k, m.keys.Bottom):
		m.scrollDetail(len(d.lines))
	case key.Matches(k, m.keys.Tab), key.Matches(k, m.keys.BackTab):
		n := len(m.tabNames())
		step := 1
		if key.Matches(k, m.keys.BackTab) {
			step = n - 1
		}
		d.tab = (d.tab + step) % n
		d.scroll = 0
		return m.reloadDetail(), true
	case key.Matches(k, m.keys.NextItem):
		return m.moveCursor(1), true
	case key.Matches(k, m.keys.PrevItem):
		return m.moveCursor(-1), true
	case key.Matches(k, m.keys.View):
		side := d.side()
		if side < 0 {
			return m.flash("body views apply to the request and response tabs", false), true
		}
		kinds := view.Kinds()
		d.choice[side] = int(kinds[(int(d.used[side])+1)%len(kinds)])
		return m.reloadDetail(), true
	case key.Matches(k, m.keys.Save):
		return m.saveBody(), true
	case key.Matches(k, m.keys.Pager):
		return m.openOutside(false), true
	case key.Matches(k, m.keys.Editor):
		return m.openOutside(true), true
	case key.Matches(k, m.keys.Filter):
		m.openPrompt(promptSearch, "")
	case key.Matches(k, m.keys.Next), key.Matches(k, m.keys.Prev):
		if len(d.matches) == 0 {
			if m.lastSrch == "" {
				return m.flash("no search yet: / searches this pane", false), true
			}
			return m.flash("no match for "+quote(m.lastSrch), false), true
		}
		n := len(d.matches)
		if key.Matches(k, m.keys.Next) {
			d.cur = (d.cur + 1) % n
		} else {
			d.cur = (d.cur + n - 1) % n
		}
		m.showMatch()
	case key.Matches(k, m.keys.Enter):
	default:
		return nil, false
	}
	return nil, true
}

// search looks for term in the detail; the content is rendered again with
// the matches found in the same command.
func (m *Model) search(term string) tea.Cmd {
	m.lastSrch = term
	return m.reloadDetail()
}

func quote(s string) string { return "“" + s + "”" }
