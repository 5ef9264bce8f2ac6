package mysql

import (
	"strconv"
	"strings"

	"github.com/tapview/tapview/decode"
)

// Reply states of a command.
const (
	rsFirst      = iota // the reply's first packet (or the next result after one with more results)
	rsColumns           // column definitions
	rsColEOF            // the EOF after column definitions, when the client did not deprecate it
	rsRows              // rows until EOF, OK or ERR
	rsPrepParams        // COM_STMT_PREPARE: parameter definitions
	rsPrepParamsEOF
	rsPrepCols // COM_STMT_PREPARE: column definitions
	rsPrepColsEOF
	rsFieldList // COM_FIELD_LIST: column definitions until EOF
)

// serverPacket gives a server packet to the oldest command awaiting its
// reply; packets that arrive before their command are held.
func (h *handler) serverPacket(p *packet) {
	for len(h.queue) > 0 {
		q := h.queue[0]
		done, consumed := h.reply(q, p)
		if done {
			h.queue = h.queue[1:]
			h.completed(q)
			h.finish(q, decode.Complete, "")
		}
		if consumed || h.phase == phStopped {
			return
		}
	}
	if len(h.held) >= maxHeld || h.heldBytes+len(p.data) > maxHeldBytes {
		h.note("held", "server packets without a command; dropped")
		return
	}
	h.held = append(h.held, p)
	h.heldBytes += len(p.data)
}

// completed applies what a successful reply changes on the connection.
func (h *handler) completed(q *cmd) {
	if q.x.Query.ErrorCode != "" {
		return
	}
	switch {
	case q.code == comInitDB:
		h.db = q.sql
	case q.code == comQuery && q.x.Request.Method == "USE":
		f := strings.Fields(strings.TrimRight(strings.TrimSpace(q.sql), ";"))
		if len(f) == 2 {
			h.db = strings.Trim(f[1], "`")
		}
	}
}

// deprecateEOF reports whether result metadata ends without an EOF
// packet; on a connection joined mid-stream the packet's shape decides
// (an EOF is 5 bytes, an OK terminator at least 7).
func (h *handler) isMetaEOF(p *packet) bool {
	if p.data[0] != 0xfe || p.size >= 9 {
		return false
	}
	if h.capsKnown {
		return h.caps&capDeprecateEOF == 0
	}
	return p.size == 5
}

// reply advances q's reply by one packet. done says the reply is over;
// consumed is false when p turned out to belong to the next command.
func (h *handler) reply(q *cmd, p *packet) (done, consumed bool) {
	d := p.data
	if len(d) == 0 {
		h.note("emptyreply", "empty reply packet")
		return false, true
	}
	resp := q.resp(p)
	resp.Last = p.last
	if p.last.After(q.x.End) {
		q.x.End = p.last
	}
	if d[0] == 0xff && len(d) >= 3 && d[1] == 0xff && d[2] == 0xff {
		// MariaDB progress report (CLIENT_PROGRESS), not an error.
		return false, true
	}
	if d[0] == 0xff && q.st != rsPrepParamsEOF && q.st != rsPrepColsEOF {
		h.errPacket(q, d)
		return true, true
	}
	switch q.st {
	case rsFirst:
		return h.firstPacket(q, p), true
	case rsColumns, rsPrepParams, rsPrepCols, rsFieldList:
		if q.st == rsFieldList && d[0] == 0xfe && p.size < 9 {
			return true, true
		}
		c, err := parseColumn(d)
		if err != nil {
			h.note("column", "malformed column definition: "+err.Error())
		}
		switch q.st {
		case rsFieldList:
			q.rows++
			h.appendRespBody(q, printable([]byte(c.name))+"\n")
			return false, true
		case rsPrepParams:
			q.left--
			if q.left <= 0 {
				q.st = rsPrepParamsEOF
			}
			return false, true
		case rsPrepCols:
			if st := h.stmts[q.stmtID]; st != nil && len(st.cols) < maxColumns {
				st.cols = append(st.cols, c)
			}
			q.left--
			if q.left <= 0 {
				q.st = rsPrepColsEOF
			}
			return false, true
		}
		q.cols = append(q.cols, c)
		q.left--
		if q.left > 0 {
			return false, true
		}
		h.header(q)
		if q.binary && q.stmt != nil {
			q.stmt.cols = q.cols
		}
		q.st = rsColEOF
		return false, true
	case rsColEOF:
		q.st = rsRows
		if h.isMetaEOF(p) {
			r := reader{b: d[1:]}
			r.u16()
			if r.u16()&statusCursorExists != 0 {
				return true, true // rows come with COM_STMT_FETCH
			}
			return false, true
		}
		return h.reply(q, p)
	case rsRows:
		return h.rowPacket(q, p), true
	case rsPrepParamsEOF, rsPrepColsEOF:
		eof := h.isMetaEOF(p)
		if q.st == rsPrepParamsEOF && q.prepCols > 0 {
			q.st, q.left = rsPrepCols, q.prepCols
			if eof {
				return false, true
			}
			return h.reply(q, p)
		}
		return true, eof
	}
	return false, true
}

// firstPacket reads the first packet of a reply (or of the next result).
func (h *handler) firstPacket(q *cmd, p *packet) bool {
	d := p.data
	switch {
	case q.code == comStatistics:
		h.appendRespBody(q, printable(d)+"\n")
		return true
	case q.code == comFieldList:
		q.st = rsFieldList
		q.sets = 1
		q.rows = 0
		h.appendRespBody(q, "field\n")
		done, _ := h.reply(q, p)
		return done
	case q.code == comChangeUser && (d[0] == 0xfe || d[0] == 0x01):
		// The new login goes on: an auth switch request or more auth
		// data, which the client answers (clientPacket); OK or ERR ends
		// it.
		if d[0] == 0xfe {
			r := reader{b: d[1:]}
			plugin := printable(r.cstring())
			q.x.Response.Headers = append(q.x.Response.Headers, decode.Header{Name: "Auth-Switch", Value: plugin})
			h.appendRespBody(q, "auth switch to "+plugin+"\n")
		}
		return false
	case q.code == comStmtFetch:
		q.st, q.binary, q.sets = rsRows, true, 1
		if q.stmt != nil {
			q.cols = q.stmt.cols
		}
		return h.rowPacket(q, p)
	case d[0] == 0x00 && q.code == comStmtPrepare:
		return h.prepareOK(q, d)
	case d[0] == 0x00:
		return h.okPacket(q, d)&statusMoreResults == 0
	case d[0] == 0xfe && p.size < 9:
		st := h.eofPacket(q, d)
		return st&statusMoreResults == 0
	case d[0] == 0xfb:
		name := printable(d[1:])
		q.x.Response.Headers = append(q.x.Response.Headers, decode.Header{Name: "Local-Infile", Value: name})
		h.appendRespBody(q, "LOCAL INFILE "+name+"\n")
		return false
	}
	r := reader{b: d}
	n, _ := r.lenenc()
	if r.err != nil || n == 0 || n > maxColumns {
		h.note("colcount", "malformed result set header")
		return true
	}
	if q.sets > 0 {
		h.appendRespBody(q, "\n")
	}
	q.sets++
	q.cols = q.cols[:0:0]
	q.left = int(n)
	q.binary = q.code == comStmtExecute
	q.st = rsColumns
	q.x.Response.Headers = append(q.x.Response.Headers, decode.Header{Name: "Columns", Value: strconv.FormatUint(n, 10)})
	if h.extCaps&extCacheMetadata != 0 && r.u8() == 0 && r.err == nil {
		// MariaDB skips the definitions the client cached from the
		// prepare (and the EOF after them).
		if q.stmt != nil && len(q.stmt.cols) == int(n) {
			q.cols = q.stmt.cols
		} else {
			q.cols = make([]column, n)
			h.note("cached", "result columns cached from a prepare that was not seen")
		}
		h.header(q)
		q.st = rsRows
	}
	return false
}

// header renders the column names of a result set.
func (h *handler) header(q *cmd) {
	names := make([]string, len(q.cols))
	for i, c := range q.cols {
		names[i] = printable([]byte(c.name))
	}
	h.appendRespBody(q, strings.Join(names, "\t")+"\n")
}

// schemaChange finds the schema in OK's session state changes
// (SESSION_TRACK_SCHEMA).
func schemaChange(b []byte) (string, bool) {
	r := reader{b: b}
	for len(r.b) > 0 && r.err == nil {
		typ := r.u8()
		data, _ := r.lenencBytes()
		if typ == 1 && r.err == nil {
			dr := reader{b: data}
			name, _ := dr.lenencBytes()
			if dr.err == nil {
				return printable(name), true
			}
		}
	}
	return "", false
}

// rowPacket reads a row or the result set's terminator.
func (h *handler) rowPacket(q *cmd, p *packet) bool {
	d := p.data
	if d[0] == 0xfe && (p.size < 9 || q.binary || h.capsKnown && h.caps&capDeprecateEOF != 0 && p.size < maxPayload) {
		var st uint16
		if p.size == 5 { // an EOF; an OK terminator is at least 7 bytes
			st = h.eofPacket(q, d)
		} else {
			st = h.okFields(q, d, false)
		}
		if st&statusMoreResults != 0 {
			q.st = rsFirst
			return false
		}
		return true
	}
	var vals []string
	var err error
	if q.binary {
		vals, err = binaryRow(d, q.cols)
	} else {
		vals, err = textRow(d, len(q.cols))
	}
	if err != nil {
		h.note("row", "malformed row: "+err.Error())
	}
	q.rows++
	line := strings.Join(vals, "\t") + "\n"
	if p.truncated() {
		line = strings.Join(vals, "\t") + " …\n"
	}
	h.appendRespBody(q, line)
	return false
}

// binaryRow decodes a binary-protocol row.
func binaryRow(d []byte, cols []column) ([]string, error) {
	n := len(cols)
	r := reader{b: d}
	r.u8() // 0x00
	nulls := r.n((n + 9) / 8)
	vals := make([]string, 0, n)
	for i, c := range cols {
		if r.err != nil {
			return vals, r.err
		}
		bit := i + 2
		if nulls[bit/8]&(1<<(bit%8)) != 0 {
			vals = append(vals, "NULL")
			continue
		}
		v, err := binaryValue(&r, c.typ, c.flags&flagUnsigned != 0)
		if err != nil {
			return vals, err
		}
		vals = append(vals, v)
	}
	return vals, r.err
}

// prepareOK reads COM_STMT_PREPARE's OK and remembers the statement.
func (h *handler) prepareOK(q *cmd, d []byte) bool {
	r := reader{b: d[1:]}
	id := r.u32()
	ncols := int(r.u16())
	nparams := int(r.u16())
	if r.err != nil {
		h.note("prepare", "malformed prepare reply")
		return true
	}
	if old := h.stmts[id]; old != nil {
		h.stmtBytes -= len(old.sql)
		delete(h.stmts, id)
	}
	if len(h.stmts) >= maxStatements || h.stmtBytes+len(q.sql) > maxStmtBytes {
		h.note("stmts", "too many prepared statements; executions of later ones show no SQL")
	} else {
		h.stmts[id] = &stmt{sql: q.sql, nparams: nparams}
		h.stmtBytes += len(q.sql)
	}
	q.stmtID = id
	q.x.Response.Headers = append(q.x.Response.Headers,
		decode.Header{Name: "Statement-Id", Value: strconv.FormatUint(uint64(id), 10)},
		decode.Header{Name: "Params", Value: strconv.Itoa(nparams)},
		decode.Header{Name: "Columns", Value: strconv.Itoa(ncols)})
	h.appendRespBody(q, "statement "+strconv.FormatUint(uint64(id), 10)+": "+strconv.Itoa(nparams)+" parameters, "+strconv.Itoa(ncols)+" columns\n")
	q.prepCols = ncols
	switch {
	case nparams > 0:
		q.st, q.left = rsPrepParams, nparams
	case ncols > 0:
		q.st, q.left = rsPrepCols, ncols
	default:
		return true
	}
	return false
}

// okPacket reads an OK packet; it returns the server status.
func (h *handler) okPacket(q *cmd, d []byte) uint16 {
	return h.okFields(q, d, true)
}

// okFields reads an OK packet (0x00, or 0xfe ending rows when EOF is
// deprecated): affected rows, last insert id, status, warnings, info.
func (h *handler) okFields(q *cmd, d []byte, render bool) uint16 {
	r := reader{b: d[1:]}
	aff, _ := r.lenenc()
	id, _ := r.lenenc()
	status := r.u16()
	warn := r.u16()
	info := r.b
	if h.caps&capSessionTrack != 0 && len(r.b) > 0 {
		info, _ = r.lenencBytes()
		if status&statusSessionChanged != 0 {
			state, _ := r.lenencBytes()
			if db, ok := schemaChange(state); ok && q.x.Query.ErrorCode == "" {
				h.db = db
			}
		}
	}
	if r.err != nil {
		h.note("ok", "malformed OK packet")
	}
	q.sawOK = true
	q.affected += int64(aff)
	resp := q.x.Response
	resp.Headers = append(resp.Headers,
		decode.Header{Name: "Affected-Rows", Value: strconv.FormatUint(aff, 10)},
		decode.Header{Name: "Last-Insert-Id", Value: strconv.FormatUint(id, 10)},
		decode.Header{Name: "Warnings", Value: strconv.Itoa(int(warn))})
	if len(info) > 0 {
		resp.Headers = append(resp.Headers, decode.Header{Name: "Info", Value: printable(info)})
	}
	if render {
		s := "OK"
		if q.code != 0 {
			s += ", " + strconv.FormatUint(aff, 10) + " rows affected"
		}
		if len(info) > 0 {
			s += " (" + printable(info) + ")"
		}
		h.appendRespBody(q, s+"\n")
	}
	return status
}

// eofPacket reads an EOF packet; it returns the server status.
func (h *handler) eofPacket(q *cmd, d []byte) uint16 {
	r := reader{b: d[1:]}
	warn := r.u16()
	status := r.u16()
	if warn > 0 {
		q.x.Response.Headers = append(q.x.Response.Headers, decode.Header{Name: "Warnings", Value: strconv.Itoa(int(warn))})
	}
	return status
}

// errPacket reads an ERR packet into the exchange's error fields.
func (h *handler) errPacket(q *cmd, d []byte) {
	r := reader{b: d[1:]}
	code := r.u16()
	state := ""
	if len(r.b) >= 6 && r.b[0] == '#' {
		state = string(r.b[1:6])
		r.b = r.b[6:]
	}
	msg := printable(r.b)
	q.x.Query.ErrorCode = strconv.Itoa(int(code))
	q.x.Query.ReplyError = msg
	text := "ERROR " + q.x.Query.ErrorCode
	if state != "" {
		q.x.Query.ReplyError = "#" + state + " " + msg
		text += " (" + state + ")"
		q.x.Response.Headers = append(q.x.Response.Headers, decode.Header{Name: "Sqlstate", Value: state})
	}
	q.x.Response.Headers = append(q.x.Response.Headers, decode.Header{Name: "Error-Code", Value: q.x.Query.ErrorCode})
	h.appendRespBody(q, text+": "+msg+"\n")
}
