package postgres

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
)

// Bounds on what one connection keeps.
const (
	maxWaiting    = 4096 // units waiting for the server
	maxStatements = 4096 // named prepared statements and portals remembered
	maxColumns    = 1600 // PostgreSQL's own limit on a table's columns
)

// handler decodes one connection.
type handler struct {
	c     decode.Conn
	lim   decode.Limits
	rd    [2]*reader
	first [2]time.Time // capture time of the current message's first byte
	// sync is set while a direction looks for a message start (after a
	// gap, a framing error, or on a connection joined mid-stream); carry
	// holds bytes that may hold one.
	sync  [2]bool
	carry [2][]byte
	noted [2]bool
	// oriented is false on a connection joined mid-stream until message
	// types showed which side is the client.
	oriented bool

	queue []*unit // waiting for the server, in client order
	cur   *unit   // extended-protocol messages not yet ended by Execute or Sync
	// copyIn is the unit whose COPY FROM STDIN the client is feeding.
	copyIn *unit

	stmts map[string]string // prepared statement name -> SQL
	// stmtCols are the result columns a Describe of a statement
	// reported, for the Executes of it that do not describe again.
	stmtCols map[string][]column
	portals  map[string]string // portal name -> statement name
	user     string
	db       string
	authReq  int32 // the last Authentication request's code

	// awaitAnswer: the server's next byte answers an SSLRequest or
	// GSSENCRequest.
	awaitAnswer bool
	// next takes every later byte once the connection switched to TLS;
	// stopped is set when it switched to an encryption nobody decodes.
	next    decode.StreamHandler
	stopped bool
}

func newHandler(c decode.Conn) *handler {
	lim := c.Limits().WithDefaults()
	h := &handler{c: c, lim: lim, stmts: map[string]string{}, portals: map[string]string{}, stmtCols: map[string][]column{}}
	keep := lim.MaxBody + 64
	h.rd[0] = newReader(keep, true)
	h.rd[1] = newReader(keep, false)
	h.oriented = true
	if f := c.Flow(); f != nil && f.Partial {
		h.rd[0].untyped = false
		h.sync = [2]bool{true, true}
		h.oriented = false
	}
	return h
}

// Data implements decode.StreamHandler.
func (h *handler) Data(dir decode.Direction, data []byte, ts time.Time) {
	if h.next != nil {
		h.next.Data(dir, data, ts)
		return
	}
	d := int(dir & 1)
	for len(data) > 0 && !h.stopped && h.next == nil {
		if h.sync[d] {
			data, d = h.resync(d, data)
			continue
		}
		if d == 1 && h.awaitAnswer {
			h.answer(data[0], ts)
			data = data[1:]
			continue
		}
		r := h.rd[d]
		if !r.started() {
			h.first[d] = ts
		}
		n, m, err := r.next(data)
		data = data[n:]
		if err != "" {
			h.broken(d, err)
			continue
		}
		if m == nil {
			continue
		}
		if d == 0 {
			h.client(m, ts)
		} else {
			h.server(m, ts)
		}
	}
	if h.next != nil && len(data) > 0 {
		h.next.Data(dir, data, ts)
	}
}

// Gap implements decode.StreamHandler: the direction resynchronises.
// Lost server bytes leave every waiting unit without its answer
// (published Partial); lost client bytes mean later answers may belong
// to requests never seen.
func (h *handler) Gap(dir decode.Direction, n int, ts time.Time) {
	if h.next != nil {
		h.next.Gap(dir, n, ts)
		return
	}
	d := int(dir & 1)
	h.lost(d, fmt.Sprintf("postgres: %s bytes missing (%d)", dir, n))
}

// broken handles a framing error like a gap.
func (h *handler) broken(d int, why string) {
	h.lost(d, why)
}

func (h *handler) lost(d int, why string) {
	h.rd[d].reset()
	h.rd[d].untyped = false
	h.sync[d], h.carry[d] = true, nil
	if !h.noted[d] {
		h.noted[d] = true
		h.c.Note(why + "; decoding resumes at the next message start")
	}
	if d == 0 {
		if h.cur != nil {
			h.enqueue(h.cur)
			h.cur = nil
		}
		return
	}
	h.awaitAnswer = false
	h.flush(decode.Partial, "the server's answer is missing (gap in the capture)")
}

// End implements decode.StreamHandler: units still waiting end Orphan,
// or Reset when the connection was reset.
func (h *handler) End(state decode.FlowState, ts time.Time) {
	if h.next != nil {
		h.next.End(state, ts)
		return
	}
	if h.cur != nil {
		h.enqueue(h.cur)
		h.cur = nil
	}
	st := decode.Orphan
	if state == decode.FlowReset {
		st = decode.Reset
	}
	h.flush(st, "")
}

// flush publishes every waiting unit with state st.
func (h *handler) flush(st decode.ExchangeState, why string) {
	for _, u := range h.queue {
		if u.kind == kindSync {
			continue
		}
		if u.resp != nil && st == decode.Orphan {
			h.finish(u, decode.Complete)
			continue
		}
		if why != "" {
			u.e.Error = why
		}
		h.finish(u, st)
	}
	h.queue = h.queue[:0]
	h.copyIn = nil
}

// enqueue adds a unit (or a Sync marker) to the waiting queue; past
// maxWaiting the oldest is published without an answer.
func (h *handler) enqueue(u *unit) {
	if len(h.queue) >= maxWaiting {
		old := h.queue[0]
		h.queue = h.queue[1:]
		if old.kind != kindSync {
			old.e.Error = "too many requests waiting for the server"
			h.finish(old, decode.Orphan)
		}
	}
	h.queue = append(h.queue, u)
}

// head returns the first waiting unit that is not a Sync marker, if it
// comes before any marker.
func (h *handler) head() *unit {
	if len(h.queue) == 0 || h.queue[0].kind == kindSync {
		return nil
	}
	return h.queue[0]
}

// pop removes the head unit and publishes it.
func (h *handler) pop(st decode.ExchangeState) {
	u := h.queue[0]
	h.queue = h.queue[1:]
	if h.copyIn == u {
		h.copyIn = nil
	}
	h.finish(u, st)
}

// remember stores a name in a bounded map; when full, an arbitrary old
// entry goes.
func remember(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok && len(m) >= maxStatements {
		for old := range m {
			delete(m, old)
			break
		}
	}
	m[k] = v
}

// client handles one client message.
func (h *handler) client(m *msg, ts time.Time) {
	if m.typ == 0 {
		h.untyped(m, ts)
		return
	}
	b := m.body
	switch m.typ {
	case 'Q':
		h.endCur()
		sql, _, _ := cstring(b)
		h.query(sql, m, ts)
	case 'P':
		name, rest, _ := cstring(b)
		sql, _, _ := cstring(rest)
		remember(h.stmts, name, sql)
		u := h.curUnit(ts)
		u.parsed, u.expect = true, u.expect+1
		if u.sql == "" {
			u.sql, u.stmt = sql, name
		}
		u.addHeader(u.req, "Parse", quoteName(name))
		h.reqBytes(u, m, ts)
	case 'B':
		portal, stmt, params, results := bindParams(b)
		remember(h.portals, portal, stmt)
		u := h.curUnit(ts)
		u.expect++
		u.portal, u.stmt, u.params, u.results = portal, stmt, params, results
		if sql, ok := h.stmts[stmt]; ok {
			u.sql = sql
		}
		u.addHeader(u.req, "Bind", quoteName(portal)+" <- "+quoteName(stmt))
		h.reqBytes(u, m, ts)
	case 'D':
		u := h.curUnit(ts)
		name, _, _ := cstring(b[min(1, len(b)):])
		what := "portal"
		u.expect++
		if len(b) > 0 && b[0] == 'S' {
			what = "statement"
			u.expect++ // ParameterDescription, then RowDescription or NoData
			if sql, ok := h.stmts[name]; ok && u.sql == "" {
				u.sql, u.stmt = sql, name
			}
		}
		u.described = true
		if what == "statement" {
			u.descStmt = name
		}
		u.addHeader(u.req, "Describe", what+" "+quoteName(name))
		h.reqBytes(u, m, ts)
	case 'C':
		u := h.curUnit(ts)
		name, _, _ := cstring(b[min(1, len(b)):])
		u.expect++
		u.closed = true
		if len(b) > 0 && b[0] == 'S' {
			if sql, ok := h.stmts[name]; ok && u.sql == "" {
				u.sql, u.stmt = sql, name
			}
			delete(h.stmts, name)
			delete(h.stmtCols, name)
			u.addHeader(u.req, "Close", "statement "+quoteName(name))
		} else {
			delete(h.portals, name)
			u.addHeader(u.req, "Close", "portal "+quoteName(name))
		}
		h.reqBytes(u, m, ts)
	case 'E':
		h.execute(m, ts)
	case 'S':
		h.endCur()
		h.enqueue(&unit{kind: kindSync})
	case 'H':
		h.endCur()
	case 'F':
		h.endCur()
		u := h.newUnit(kindFunc, ts)
		oid, _, _ := i32(b)
		u.req.Method, u.req.Target = "FUNCTIONCALL", "oid "+strconv.Itoa(int(oid))
		h.reqBytes(u, m, ts)
		h.enqueue(u)
		h.enqueue(&unit{kind: kindSync})
	case 'd', 'c', 'f':
		u := h.copyIn
		if u == nil {
			if len(h.queue) > 0 && h.queue[0].kind != kindSync {
				u = h.queue[0]
			} else {
				return // data for a COPY whose start was not seen
			}
		}
		h.reqBytes(u, m, ts)
		switch m.typ {
		case 'd':
			if u.copyMsgs[0] == 0 {
				h.appendBody(u.req, []byte("\n"))
			}
			u.copyMsgs[0]++
			u.copyBytes[0] += int64(m.size)
			h.appendBody(u.req, m.body)
		case 'f':
			msg, _, _ := cstring(b)
			u.addHeader(u.req, "Copy-Fail", msg)
		}
	case 'p':
		h.password(m, ts)
	case 'X':
		h.endCur()
	}
}

func quoteName(s string) string { return `"` + s + `"` }

// curUnit returns the extended-protocol unit being built, starting one.
func (h *handler) curUnit(ts time.Time) *unit {
	if h.cur == nil {
		h.cur = h.newUnit(kindWait, ts)
	}
	return h.cur
}

// endCur queues the extended-protocol unit being built, if any: a
// Sync, Flush or another kind of message ended it without an Execute.
func (h *handler) endCur() {
	u := h.cur
	if u == nil {
		return
	}
	h.cur = nil
	u.req.Method, u.req.Target = u.extendedMethod(), u.sql
	if u.stmt != "" {
		u.addHeader(u.req, "Statement", u.stmt)
	}
	h.setBody(u.req, u.sql)
	h.enqueue(u)
}

// execute handles an Execute: the unit built so far (Parse, Bind,
// Describe) becomes a statement exchange.
func (h *handler) execute(m *msg, ts time.Time) {
	portal, rest, _ := cstring(m.body)
	max, _, _ := i32(rest)
	u := h.cur
	h.cur = nil
	if u == nil {
		u = h.newUnit(kindExec, ts)
	}
	u.kind = kindExec
	if u.portal != portal || u.stmt == "" && u.sql == "" {
		u.portal = portal
		if stmt, ok := h.portals[portal]; ok {
			u.stmt = stmt
			u.sql = h.stmts[stmt]
		}
	}
	h.reqBytes(u, m, ts)
	u.req.Method, u.req.Target = u.extendedMethod(), u.sql
	if u.stmt != "" {
		u.addHeader(u.req, "Statement", u.stmt)
	}
	if portal != "" {
		u.addHeader(u.req, "Portal", portal)
	}
	if max > 0 {
		u.addHeader(u.req, "Max-Rows", strconv.Itoa(int(max)))
	}
	body := u.sql
	if u.params != "" {
		body += "\n\nparameters: " + u.params
	}
	h.setBody(u.req, body)
	h.enqueue(u)
}

// query handles a simple Query: one unit per statement of its text (see
// splitStatements), then a Sync marker for its ReadyForQuery.
func (h *handler) query(sql string, m *msg, ts time.Time) {
	parts := splitStatements(sql)
	if len(parts) == 0 {
		parts = []string{strings.TrimSpace(sql)}
	}
	for i, p := range parts {
		u := h.newUnit(kindExec, ts)
		u.sql = p
		u.req.Method, u.req.Target = verb(p), p
		if u.req.Method == "" {
			u.req.Method = "QUERY"
		}
		if len(parts) > 1 {
			u.addHeader(u.req, "Statement-Part", strconv.Itoa(i+1)+"/"+strconv.Itoa(len(parts)))
		}
		h.setBody(u.req, p)
		if i == 0 {
			h.reqBytes(u, m, ts)
		}
		if m.truncated {
			u.req.Truncated = true
			u.e.Error = "query text longer than the body limit; only its start was decoded"
		}
		h.enqueue(u)
	}
	h.enqueue(&unit{kind: kindSync})
}

// password handles a 'p' message: what it holds depends on the
// authentication the server asked for. Every form is a secret and goes
// only into a header whose name holds "Password".
func (h *handler) password(m *msg, ts time.Time) {
	u := h.startupUnit(ts)
	h.reqBytes(u, m, ts)
	b := m.body
	switch h.authReq {
	case 10: // SASLInitialResponse: mechanism, length, data
		mech, rest, _ := cstring(b)
		n, rest, _ := i32(rest)
		u.addHeader(u.req, "Sasl-Mechanism", mech)
		if n >= 0 {
			u.addHeader(u.req, "Sasl-Password", string(rest[:min(int(n), len(rest))]))
		}
	case 11:
		u.addHeader(u.req, "Sasl-Password", string(b))
	default: // cleartext or MD5 (or unknown: joined mid-stream)
		pw, _, _ := cstring(b)
		u.addHeader(u.req, "Password", pw)
	}
}

// startupUnit returns the waiting startup unit, starting one for a
// connection whose startup was not seen.
func (h *handler) startupUnit(ts time.Time) *unit {
	for _, u := range h.queue {
		if u.kind == kindStartup {
			return u
		}
	}
	u := h.newUnit(kindStartup, ts)
	u.req.Method = "STARTUP"
	u.e.Error = "the startup message was not seen"
	h.queue = append([]*unit{u}, h.queue...)
	return u
}

// untyped handles the startup-phase messages, which have no type byte.
func (h *handler) untyped(m *msg, ts time.Time) {
	code, rest, ok := i32(m.body)
	if !ok {
		h.broken(0, "postgres: startup packet too short")
		return
	}
	switch code {
	case codeSSL, codeGSSENC:
		u := h.newUnit(kindAnswer, ts)
		u.req.Method = "SSLREQUEST"
		if code == codeGSSENC {
			u.req.Method = "GSSENCREQUEST"
		}
		h.reqBytes(u, m, ts)
		h.enqueue(u)
		h.awaitAnswer = true
	case codeCancel:
		u := h.newUnit(kindExec, ts)
		u.req.Method = "CANCEL"
		pid, key, _ := i32(rest)
		k, _, _ := i32(key)
		u.req.Target = "pid " + strconv.Itoa(int(pid))
		u.addHeader(u.req, "Backend-Pid", strconv.Itoa(int(pid)))
		u.addHeader(u.req, "Cancel-Secret-Key", strconv.Itoa(int(k)))
		h.reqBytes(u, m, ts)
		h.finish(u, decode.Complete) // the server never answers one
	default:
		if code>>16 != 3 {
			h.c.Note(fmt.Sprintf("postgres: unsupported protocol version %d.%d", code>>16, code&0xffff))
			h.stopped = true
			return
		}
		h.rd[0].untyped = false
		u := h.newUnit(kindStartup, ts)
		u.req.Method = "STARTUP"
		u.addHeader(u.req, "Protocol-Version", strconv.Itoa(int(code>>16))+"."+strconv.Itoa(int(code&0xffff)))
		for len(rest) > 1 && len(u.req.Headers) < maxHeaders {
			var k, v string
			k, rest, _ = cstring(rest)
			v, rest, _ = cstring(rest)
			if k == "" {
				break
			}
			switch k {
			case "user":
				h.user = v
			case "database":
				h.db = v
			}
			u.addHeader(u.req, k, v)
		}
		if h.db == "" {
			h.db = h.user // the server's default
		}
		u.e.Query.User, u.e.Query.Database = h.user, h.db
		u.req.Target = h.db
		h.reqBytes(u, m, ts)
		h.enqueue(u)
	}
}

// answer handles the server's one-byte answer to an SSLRequest or
// GSSENCRequest.
func (h *handler) answer(c byte, ts time.Time) {
	h.awaitAnswer = false
	u := h.head()
	if u == nil || u.kind != kindAnswer {
		u = nil
	}
	if c == 'E' { // an old server sent an ErrorResponse instead
		h.rd[1].hdr[0], h.rd[1].nhdr = 'E', 1
		h.first[1] = ts
		if u != nil {
			h.pop(decode.Complete)
		}
		return
	}
	if u != nil {
		r := h.response(u, ts)
		r.BodySize = 1
		u.addHeader(r, "Answer", string(c))
		h.pop(decode.Complete)
	}
	switch c {
	case 'N':
	case 'S':
		h.next = h.c.Handoff("tls")
		if h.next == nil {
			h.c.Note("postgres: the connection switched to TLS and no TLS decoder is available")
			h.stopped = true
		}
	case 'G':
		h.c.Note("postgres: the connection switched to GSSAPI encryption, which is not decoded")
		h.stopped = true
	default:
		h.broken(1, fmt.Sprintf("postgres: %q is no answer to an encryption request", c))
	}
}
