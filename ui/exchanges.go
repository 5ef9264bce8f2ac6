package ui

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/view"
)

// statusClass groups exchanges for colour.
type statusClass int

const (
	classNone statusClass = iota
	classOK
	classRedirect
	classClient
	classServer
	classPending
	classError // reset, decode error: the whole row is red
)

// exRow is one exchange reduced to sanitized display strings. Rows are
// cached by ID and version, so scrolling over a million exchanges masks and
// formats only what changed.
type exRow struct {
	id, version uint64
	masked      bool
	class       statusClass
	cells       [exNumCols]string // indexed by column key
}

// rowCacheMax bounds the row cache; it is simply cleared when full.
const rowCacheMax = 8192

// exchangeRows fetches shown rows [from, to) and formats them.
func (m *Model) exchangeRows(from, to int) []exRow {
	exs := m.fetchExchanges(from, to)
	rows := m.exRows[:0]
	for _, e := range exs {
		if e != nil {
			m.widen(e.Start)
		}
	}
	if !m.days {
		m.updateDays() // these rows may be from another day
	}
	for _, e := range exs {
		if e == nil {
			continue
		}
		if r, ok := m.rowCache[e.ID]; ok && r.version == e.Version && r.masked == m.masked {
			rows = append(rows, r)
			continue
		}
		r := m.makeExRow(e)
		if len(m.rowCache) >= rowCacheMax {
			clear(m.rowCache)
		}
		m.rowCache[e.ID] = r
		rows = append(rows, r)
	}
	return rows
}

// fetchExchanges reads the exchanges of shown rows [from, to). Filtered
// rows that sit close together in the store are read with one range call.
func (m *Model) fetchExchanges(from, to int) []*decode.Exchange {
	if from >= to {
		return nil
	}
	all := m.positions(paneExchanges)
	if all == nil {
		b := m.base[paneExchanges]
		return m.cfg.Store.ExchangeRange(b+from, b+to)
	}
	pos := all[from:to]
	first, last := slices.Min(pos), slices.Max(pos)
	out := make([]*decode.Exchange, 0, len(pos))
	if last-first < 4*len(pos) {
		all := m.cfg.Store.ExchangeRange(first, last+1)
		for _, p := range pos {
			if p-first < len(all) {
				out = append(out, all[p-first])
			}
		}
		return out
	}
	for _, p := range pos {
		if r := m.cfg.Store.ExchangeRange(p, p+1); len(r) == 1 {
			out = append(out, r[0])
		}
	}
	return out
}

// rowView is the part of an exchange a list row needs: start lines and
// headers, no bodies. Masking it is cheap no matter how big the bodies are.
func rowView(e *decode.Exchange) *decode.Exchange {
	c := *e
	c.Request = headOnly(e.Request)
	c.Response = headOnly(e.Response)
	c.Interim = nil
	return &c
}

func headOnly(msg *decode.Message) *decode.Message {
	if msg == nil {
		return nil
	}
	c := *msg
	c.Body, c.Parts = nil, nil
	return &c
}

func (m *Model) makeExRow(e *decode.Exchange) exRow {
	r := exRow{id: e.ID, version: e.Version, masked: m.masked}
	if m.masked && m.cfg.Mask != nil {
		if me := m.cfg.Mask(rowView(e)); me != nil {
			e = me
		}
	}
	if !e.Start.IsZero() {
		r.cells[exTime] = clock(e.Start.In(m.loc), m.days)
	}
	r.cells[exSrc] = view.Sanitize(e.Source)
	method := view.Sanitize(e.Method())
	if e.GRPC != nil || e.Proto == "grpc" {
		method = "gRPC"
	}
	if e.DNS != nil {
		method = "DNS " + view.Sanitize(e.DNS.Type)
	}
	if method == "" && e.Proto == "ws" {
		method = "WS" // the frames after an upgrade: no request line of their own
	}
	r.cells[exMethod] = method
	r.cells[exURL] = view.Sanitize(exchangeURL(e))
	r.cells[exStatus], r.class = statusText(e)
	if lat := exchangeLatency(e); lat > 0 {
		r.cells[exLat] = humanDuration(lat)
	} else if e.State == decode.Pending {
		r.cells[exLat] = "…"
	}
	if e.Response != nil {
		r.cells[exSize] = humanBytes(view.BodySize(e.Response))
		r.cells[exType] = view.Sanitize(shortType(e.Response.ContentType()))
	}
	if r.cells[exType] == "" && e.Request != nil {
		r.cells[exType] = view.Sanitize(shortType(e.Request.ContentType()))
	}
	return r
}

// exchangeLatency is Latency, or for exchanges without HTTP messages (DNS)
// the span from first to last byte once final.
func exchangeLatency(e *decode.Exchange) time.Duration {
	if lat := e.Latency(); lat > 0 {
		return lat
	}
	if e.Request == nil && e.Response == nil && e.State.Final() && e.End.After(e.Start) {
		return e.End.Sub(e.Start)
	}
	return 0
}

// exchangeURL is host and path; gRPC shows service/method, DNS the name.
func exchangeURL(e *decode.Exchange) string {
	if e.DNS != nil {
		return e.DNS.Name
	}
	if e.Query != nil {
		// The statement, key or topics says more than the server address,
		// which the flow and the detail view show.
		return e.Path()
	}
	path := e.Path()
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path // absolute form, as sent to a proxy
	}
	return e.Host() + path
}

// statusText is the status cell: the HTTP status, the gRPC status name
// for gRPC, RST for resets and an ellipsis while pending.
func statusText(e *decode.Exchange) (string, statusClass) {
	if e.GRPC != nil && e.GRPC.Status >= 0 {
		cls := classServer
		switch e.GRPC.Status {
		case 0:
			cls = classOK
		case 1, 3, 5, 6, 7, 9, 11, 16:
			cls = classClient
		}
		return grpcShort(e.GRPC.Status), cls
	}
	if e.GRPC != nil && e.State == decode.Reset {
		// A stream reset before its status (a cancelled Watch) did not
		// end in its HTTP 200.
		return "RST", classError
	}
	if e.DNS != nil && e.DNS.Rcode != "" {
		if e.DNS.Rcode == "NOERROR" {
			return "OK", classOK
		}
		return view.Sanitize(e.DNS.Rcode), classClient
	}
	if q := e.Query; q != nil && e.State.Final() {
		switch {
		case q.ReplyError != "" && q.ErrorCode != "":
			return "ERR " + view.Sanitize(q.ErrorCode), classServer
		case q.ReplyError != "":
			return "ERR", classServer
		case e.Response != nil:
			return "OK", classOK
		}
	}
	code := e.Status()
	switch {
	case code == 0 && e.State == decode.Reset:
		return "RST", classError
	case code == 0 && (e.State == decode.Pending || e.State == ""):
		return "…", classPending
	case code == 0:
		return "—", classError
	}
	s := strconv.Itoa(code)
	cls := classNone
	switch {
	case e.State == decode.Reset || e.Error != "":
		cls = classError
	case code >= 500:
		cls = classServer
	case code >= 400:
		cls = classClient
	case code >= 300:
		cls = classRedirect
	case code >= 200:
		cls = classOK
	}
	return s, cls
}

// grpcShort abbreviates gRPC status codes to six cells.
func grpcShort(code int) string {
	names := [...]string{"OK", "CANCEL", "UNKNWN", "BADARG", "DEADLN", "NOTFND", "EXISTS", "DENIED",
		"QUOTA", "PRECND", "ABORTD", "RANGE", "UNIMPL", "INTERN", "UNAVAL", "DATALS", "UNAUTH"}
	if code >= 0 && code < len(names) {
		return names[code]
	}
	return "g" + strconv.Itoa(code)
}

// Exchange list column keys.
const (
	exTime = iota
	exSrc
	exMethod
	exURL
	exStatus
	exLat
	exSize
	exType
	exNumCols
)

// exchangeColumns lays out the exchange list for the screen width: the
// source column appears with several sources or a wide screen, and on a
// narrow one the type, size, latency and time columns go, in that order.
func (m *Model) exchangeColumns() []column {
	cols := []column{{key: exTime, title: "TIME", w: m.clockWidth(), drop: 2}}
	if m.w >= 140 || len(m.stats) > 1 {
		w := 10
		if m.w >= 140 {
			most := 20
			if m.w >= 180 {
				most = 32 // the URL column stops growing at 120 anyway
			}
			for _, s := range m.stats {
				w = max(w, min(len(s.Name), most))
			}
		}
		cols = append(cols, column{key: exSrc, title: "SOURCE", w: w, middle: true, drop: 3})
	}
	// METHOD and STATUS grow by the rows on screen, so "DNS AAAA" and
	// NXDOMAIN are never cut, and HTTP-only screens keep the room.
	methodW, statusW := 7, 6
	for i := range m.exRows {
		methodW = max(methodW, min(width(m.exRows[i].cells[exMethod]), 9))
		statusW = max(statusW, min(width(m.exRows[i].cells[exStatus]), 9))
	}
	typeW := 8
	if m.w >= 120 {
		typeW = 16
	}
	cols = append(cols,
		column{key: exMethod, title: "METHOD", w: methodW},
		column{key: exURL, title: "HOST+PATH", weight: 1, min: 24, max: 120, url: true},
		column{key: exStatus, title: "STATUS", w: statusW},
		column{key: exLat, title: "LAT", w: 6, right: true, drop: 4},
		column{key: exSize, title: "SIZE", w: 5, right: true, drop: 5},
		column{key: exType, title: "TYPE", w: typeW, drop: 6},
	)
	return fitColumns(cols, m.w)
}

func (m *Model) exchangeTitles(cols []column) string {
	return m.st.colTitle.Render(titleLine(m.sortArrow(paneExchanges, cols), m.w))
}

// renderExRow lays out one row. Only the status cell is coloured, except
// for broken exchanges (whole row red) and pending ones (whole row dim);
// the cursor row is plain reverse video.
func (m *Model) renderExRow(r *exRow, cols []column, selected bool) string {
	cells := r.cells
	if l, ok := m.srcLabels[cells[exSrc]]; ok {
		cells[exSrc] = l
	}
	pre, status, post := rowParts(cols, cells[:], exStatus, m.w)
	if m.isMarked(paneExchanges, r.id) {
		pre = markGlyph(pre)
	}
	switch {
	case selected:
		return m.rp.cursor.wrap(pre + status + post)
	case r.class == classError:
		return m.rp.errRow.wrap(pre + status + post)
	case r.class == classPending:
		return m.rp.pending.wrap(pre + status + post)
	}
	if p, ok := m.classPaint(r.class); ok {
		return pre + p.wrap(status) + post
	}
	return pre + status + post
}

func (m *Model) classPaint(c statusClass) (paint, bool) {
	switch c {
	case classOK:
		return m.rp.ok, true
	case classRedirect:
		return m.rp.redirect, true
	case classClient:
		return m.rp.client, true
	case classServer:
		return m.rp.server, true
	}
	return paint{}, false
}
