package postgres

import (
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
)

// server handles one server message.
func (h *handler) server(m *msg, ts time.Time) {
	b := m.body
	u := h.head()
	if u != nil {
		r := h.response(u, h.first[1])
		r.Last = ts
		r.BodySize += m.wireSize()
	}
	switch m.typ {
	case 'R':
		h.auth(u, b, ts)
	case 'K':
		if u != nil {
			pid, rest, _ := i32(b)
			key, _, _ := i32(rest)
			u.addHeader(u.resp, "Backend-Pid", strconv.Itoa(int(pid)))
			u.addHeader(u.resp, "Backend-Secret-Key", strconv.Itoa(int(key)))
		}
	case 'S':
		k, rest, _ := cstring(b)
		v, _, _ := cstring(rest)
		if u == nil {
			h.pushed("PARAMETERSTATUS", k, v, m, ts)
			return
		}
		u.addHeader(u.resp, k, v)
	case 'v':
		if u != nil {
			minor, _, _ := i32(b)
			u.addHeader(u.resp, "Negotiated-Minor-Version", strconv.Itoa(int(minor)))
		}
	case 'Z':
		h.ready(b, ts)
	case 'T':
		if u == nil {
			h.orphan(m, ts)
			return
		}
		cols := parseRowDesc(b, maxColumns)
		if u.descStmt != "" {
			if len(h.stmtCols) >= maxStatements {
				clear(h.stmtCols)
			}
			h.stmtCols[u.descStmt] = cols
		}
		h.columns(u, withFormats(cols, u.results))
		h.answered(u)
	case 'D':
		if u == nil {
			h.orphan(m, ts)
			return
		}
		u.rows++
		if u.cols == nil {
			// Executing a statement described earlier: its columns, in
			// the formats this Bind asked for.
			if cols, ok := h.stmtCols[u.stmt]; ok && u.stmt != "" {
				h.columns(u, withFormats(cols, u.results))
			}
		}
		if len(u.resp.Body) < h.lim.MaxBody {
			h.appendBody(u.resp, appendRow(nil, b, u.cols))
		} else {
			u.resp.Truncated = true
		}
	case 'C':
		if u == nil {
			h.orphan(m, ts)
			return
		}
		tag, _, _ := cstring(b)
		u.addHeader(u.resp, "Command-Tag", tag)
		if n := tagRows(tag); n >= 0 {
			u.e.Query.Rows, u.tagged = n, true
		}
		h.done(u)
	case 'I':
		if u != nil {
			u.addHeader(u.resp, "Empty-Query", "true")
			h.done(u)
		}
	case 's':
		if u != nil {
			u.addHeader(u.resp, "Portal-Suspended", "true")
			h.done(u)
		}
	case 'E':
		f := parseErr(b)
		if u == nil {
			h.orphanError(f, m, ts)
			return
		}
		h.fail(u, f, ts)
		h.pop(decode.Complete)
		// The server skips what follows up to the Sync (the rest of a
		// Query's statements, the rest of an extended batch).
		for len(h.queue) > 0 && h.queue[0].kind != kindSync {
			h.queue[0].e.Error = "not executed: an earlier statement or message failed"
			h.pop(decode.Complete)
		}
	case 'N':
		f := parseErr(b)
		if u == nil {
			h.pushed("NOTICE", f.message, f.text()+" (SQLSTATE "+f.code+")", m, ts)
			return
		}
		u.addHeader(u.resp, "Notice", f.text()+" (SQLSTATE "+f.code+")")
	case 'A':
		pid, rest, _ := i32(b)
		ch, rest, _ := cstring(rest)
		payload, _, _ := cstring(rest)
		h.pushed("NOTIFICATION", ch, payload, m, ts, decode.Header{Name: "Sender-Pid", Value: strconv.Itoa(int(pid))})
	case '1', '2', '3', 'n', 't':
		if u != nil {
			h.answered(u)
		}
	case 'G', 'H', 'W':
		if u == nil {
			return
		}
		what := map[byte]string{'G': "in", 'H': "out", 'W': "both"}[m.typ]
		format := "text"
		if len(b) > 0 && b[0] == 1 {
			format = "binary"
		}
		n, _, _ := u16(b[min(1, len(b)):])
		u.addHeader(u.resp, "Copy", what+", "+format+", "+strconv.Itoa(n)+" columns")
		if m.typ != 'H' {
			h.copyIn = u
		}
	case 'd':
		if u != nil {
			u.copyMsgs[1]++
			u.copyBytes[1] += int64(m.size)
			h.appendBody(u.resp, b)
		}
	case 'V':
		if u != nil {
			n, rest, _ := i32(b)
			if n >= 0 {
				h.appendBody(u.resp, appendEscaped(nil, rest[:min(int(n), len(rest))]))
			}
			h.done(u)
		}
	}
}

// columns sets the unit's result columns and writes their names as the
// body's first line.
func (h *handler) columns(u *unit, cols []column) {
	u.cols = cols
	var line []byte
	for i, c := range cols {
		if i > 0 {
			line = append(line, '\t')
		}
		line = appendEscaped(line, []byte(c.name))
	}
	h.appendBody(u.resp, append(line, '\n'))
}

// answered counts one of the responses a kindWait unit waits for.
func (h *handler) answered(u *unit) {
	u.expect--
	if u.kind == kindWait && u.expect <= 0 {
		h.pop(decode.Complete)
	}
}

// done ends a statement unit on its result.
func (h *handler) done(u *unit) {
	if u.kind == kindExec || u.kind == kindFunc || u.kind == kindWait {
		h.pop(decode.Complete)
	}
}

// ready handles ReadyForQuery: everything up to the first Sync marker
// is answered (a startup unit ends here too).
func (h *handler) ready(b []byte, ts time.Time) {
	status := ""
	if len(b) > 0 {
		status = string(b[:1])
	}
	for len(h.queue) > 0 {
		u := h.queue[0]
		if u.kind == kindSync {
			h.queue = h.queue[1:]
			break
		}
		r := h.response(u, ts)
		u.addHeader(r, "Transaction-Status", status)
		if u.kind == kindExec && u.e.Query.ReplyError == "" && !u.tagged && u.rows == 0 {
			u.e.Error = "no result for this statement (the server split the Query differently)"
		}
		startup := u.kind == kindStartup
		h.pop(decode.Complete)
		if startup {
			break
		}
	}
}

// auth handles an Authentication message.
func (h *handler) auth(u *unit, b []byte, ts time.Time) {
	code, rest, _ := i32(b)
	h.authReq = code
	if u == nil || u.kind != kindStartup {
		u = h.startupUnit(ts)
		h.response(u, ts)
	}
	var name, value string
	switch code {
	case 0:
		name, value = "Auth", "ok"
	case 3:
		name, value = "Auth-Request", "cleartext password"
	case 5:
		name, value = "Auth-Request", "MD5 password"
	case 7, 8:
		name, value = "Auth-Request", "GSSAPI"
	case 9:
		name, value = "Auth-Request", "SSPI"
	case 10:
		var mechs []string
		for len(rest) > 1 {
			var s string
			s, rest, _ = cstring(rest)
			mechs = append(mechs, s)
		}
		name, value = "Auth-Request", "SASL "+strings.Join(mechs, " ")
	case 11, 12:
		// SCRAM's server messages (nonce, salt, signature) count as
		// secrets like the client's.
		name, value = "Sasl-Password-Server", string(rest)
	default:
		name, value = "Auth-Request", "code "+strconv.Itoa(int(code))
	}
	u.addHeader(u.resp, name, value)
}

// pushed publishes a message the server sent on its own (a
// notification, or a notice or parameter change outside any request)
// as an exchange of its own: a Request with no bytes whose Method names
// the message and Target its subject, the content as the Response.
func (h *handler) pushed(method, target, content string, m *msg, ts time.Time, hs ...decode.Header) {
	u := h.newUnit(kindExec, h.first[1])
	u.req.Method, u.req.Target = method, target
	u.addHeader(u.req, "Pushed", "true")
	r := h.response(u, h.first[1])
	r.Last, r.BodySize = ts, m.wireSize()
	r.Headers = append(r.Headers, hs...)
	h.appendBody(r, []byte(content))
	h.finish(u, decode.Complete)
}

// orphan publishes a server message no waiting request explains (the
// request was lost in a gap or before the capture started).
func (h *handler) orphan(m *msg, ts time.Time) {
	u := h.newUnit(kindExec, h.first[1])
	u.e.Request = nil
	r := h.response(u, h.first[1])
	r.Last, r.BodySize = ts, m.wireSize()
	if m.typ == 'C' {
		tag, _, _ := cstring(m.body)
		u.addHeader(r, "Command-Tag", tag)
		u.e.Query.Rows = tagRows(tag)
	}
	u.addHeader(r, "Message-Type", string(m.typ))
	h.finish(u, decode.Orphan)
}

// orphanError publishes an ErrorResponse no waiting request explains:
// on a connection whose startup was seen it is the server's own (a
// FATAL before shutdown, an idle-session timeout).
func (h *handler) orphanError(f errFields, m *msg, ts time.Time) {
	u := h.newUnit(kindExec, h.first[1])
	u.e.Request = nil
	h.fail(u, f, ts)
	u.resp.BodySize = m.wireSize()
	h.finish(u, decode.Orphan)
}
