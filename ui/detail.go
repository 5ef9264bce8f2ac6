package ui

import (
	"fmt"
	"strings"
	"time"

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

// detailResult carries rendered detail content back to Update.
type detailResult struct {
	key     contentKey
	title   string
	lines   []dline
	used    view.Kind
	matches []int
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
	m.detail = detailView{open: true, pane: m.pane, tab: tab, choice: [2]int{autoView, autoView}}
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

// search looks for term in the detail; the content is rendered again with
// the matches found in the same command.
func (m *Model) search(term string) tea.Cmd {
	m.lastSrch = term
	return m.reloadDetail()
}

func quote(s string) string { return "“" + s + "”" }
