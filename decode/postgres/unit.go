package postgres

import (
	"strconv"
	"time"

	"github.com/tapview/tapview/decode"
)

// Unit kinds: what ends a unit's wait for the server.
const (
	kindExec    = iota // a statement: CommandComplete, EmptyQuery, PortalSuspended or an error
	kindWait           // Parse/Bind/Describe/Close without Execute: its responses, or ReadyForQuery
	kindStartup        // the startup exchange: ReadyForQuery or an error
	kindAnswer         // SSLRequest/GSSENCRequest: the server's one-byte answer
	kindFunc           // FunctionCall: FunctionCallResponse
	kindSync           // a Sync (or the end of a Query): ReadyForQuery
)

// maxHeaders bounds the headers one message collects (notices,
// parameter statuses, copy counts).
const maxHeaders = 256

// unit is one exchange in the making: the client messages that asked,
// and the server messages that answered.
type unit struct {
	kind   int
	e      *decode.Exchange
	req    *decode.Message
	resp   *decode.Message
	expect int // server responses still due to a kindWait unit
	cols   []column
	rows   int64 // DataRows seen
	tagged bool  // a CommandComplete said how many rows
	// Parts of a unit built from extended-protocol messages.
	sql, stmt, portal, params string
	results                   []bool // result formats the Bind asked for
	descStmt                  string // the statement a Describe asked about
	parsed, described, closed bool
	copyMsgs                  [2]int64
	copyBytes                 [2]int64
}

func (u *unit) addHeader(m *decode.Message, name, value string) {
	if len(m.Headers) < maxHeaders {
		m.Headers = append(m.Headers, decode.Header{Name: name, Value: value})
	}
}

// newUnit starts a unit whose first client message was seen at ts.
func (h *handler) newUnit(kind int, ts time.Time) *unit {
	e := h.c.NewExchange(Name)
	e.Start, e.End = ts, ts
	e.State = decode.Pending
	req := &decode.Message{First: ts, Last: ts, Proto: protoName, DecodedSize: -1}
	e.Request = req
	e.Query = &decode.QueryInfo{Rows: -1, Database: h.db, User: h.user}
	return &unit{kind: kind, e: e, req: req}
}

// reqBytes counts a client message of the unit.
func (h *handler) reqBytes(u *unit, m *msg, ts time.Time) {
	u.req.Last, u.e.End = ts, ts
	u.req.BodySize += m.wireSize()
}

// setBody sets the request body, capped.
func (h *handler) setBody(m *decode.Message, b string) {
	if len(b) > h.lim.MaxBody {
		b, m.Truncated = b[:h.lim.MaxBody], true
	}
	m.Body = []byte(b)
}

// response returns the unit's response, started at ts.
func (h *handler) response(u *unit, ts time.Time) *decode.Message {
	if u.resp == nil {
		u.resp = &decode.Message{First: ts, Last: ts, Proto: protoName, DecodedSize: -1}
		u.e.Response = u.resp
	}
	u.resp.Last, u.e.End = ts, ts
	return u.resp
}

// appendBody appends rendered output to the response body up to the
// body limit.
func (h *handler) appendBody(m *decode.Message, b []byte) {
	room := h.lim.MaxBody - len(m.Body)
	if room <= 0 {
		if len(b) > 0 {
			m.Truncated = true
		}
		return
	}
	if len(b) > room {
		b, m.Truncated = b[:room], true
	}
	m.Body = append(m.Body, b...)
}

// finish publishes the unit with state st.
func (h *handler) finish(u *unit, st decode.ExchangeState) {
	if u.e == nil || u.e.State.Final() {
		return
	}
	q := u.e.Query
	if !u.tagged && u.rows > 0 {
		q.Rows = u.rows
	}
	for d, what := range [2]string{"Copy-In", "Copy-Out"} {
		if u.copyMsgs[d] > 0 {
			m := u.req
			if d == 1 {
				m = h.response(u, u.e.End)
			}
			u.addHeader(m, what, strconv.FormatInt(u.copyMsgs[d], 10)+" messages, "+strconv.FormatInt(u.copyBytes[d], 10)+" bytes")
		}
	}
	if u.resp != nil {
		u.resp.DecodedSize = int64(len(u.resp.Body))
	}
	u.req.DecodedSize = int64(len(u.req.Body))
	u.e.State = st
	h.c.Publish(u.e)
}

// fail records an ErrorResponse on the unit.
func (h *handler) fail(u *unit, f errFields, ts time.Time) {
	q := u.e.Query
	q.ReplyError, q.ErrorCode = f.text(), f.code
	r := h.response(u, ts)
	line := q.ReplyError
	if f.code != "" {
		line += " (SQLSTATE " + f.code + ")"
	}
	for _, x := range [][2]string{{"DETAIL", f.detail}, {"HINT", f.hint}, {"POSITION", f.position}} {
		if x[1] != "" {
			line += "\n" + x[0] + ": " + x[1]
		}
	}
	h.appendBody(r, []byte(line+"\n"))
}

// extendedMethod names a unit built from extended-protocol messages:
// EXECUTE for a named prepared statement, the statement's verb for the
// unnamed one; without an Execute, what the messages did.
func (u *unit) extendedMethod() string {
	switch {
	case u.kind == kindExec && u.stmt != "":
		return "EXECUTE"
	case u.kind == kindExec:
		if v := verb(u.sql); v != "" {
			return v
		}
		return "EXECUTE"
	case u.parsed:
		return "PREPARE"
	case u.closed:
		return "CLOSE"
	case u.described:
		return "DESCRIBE"
	}
	return "BIND"
}
