package mysql

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/tapview/tapview/decode"
)

// stmt is a prepared statement the connection saw prepared.
type stmt struct {
	sql     string
	nparams int
	types   []uint16 // parameter types of the last execution that sent them
	cols    []column // result columns of the last execution
}

// cmd is one exchange: a command (or the login) and its reply.
type cmd struct {
	x       *decode.Exchange
	code    byte
	started bool // part of the reply was seen

	st       int // reply state (reply.go)
	body     []byte
	bodySize int64
	rows     int64 // rows of result sets
	affected int64 // rows affected, summed over OK packets
	sawOK    bool
	sets     int
	cols     []column
	left     int // column definitions (or prepare definitions) still to come
	binary   bool
	stmt     *stmt
	stmtID   uint32
	sql      string
	prepCols int
	infile   int64 // LOCAL INFILE bytes the client sent
	reqSize  int64
}

// newCmd returns a command with its exchange and request started.
func (h *handler) newCmd(code byte) *cmd {
	x := h.c.NewExchange(Name)
	x.Request = &decode.Message{}
	x.Query = &decode.QueryInfo{Rows: -1, Database: h.db, User: h.user}
	return &cmd{x: x, code: code}
}

// resp returns the exchange's response, starting it at p.
func (q *cmd) resp(p *packet) *decode.Message {
	if q.x.Response == nil {
		q.x.Response = &decode.Message{First: p.first, Last: p.last}
	}
	q.started = true
	return q.x.Response
}

func (h *handler) appendReqBody(q *cmd, s string) {
	req := q.x.Request
	q.reqSize += int64(len(s))
	if room := h.lim.MaxBody - len(req.Body); room > 0 {
		req.Body = append(req.Body, s[:min(room, len(s))]...)
	}
	req.BodySize = q.reqSize
	req.Truncated = int64(len(req.Body)) < q.reqSize
}

// appendRespBody adds rendered reply text, keeping at most MaxBody bytes
// but counting all.
func (h *handler) appendRespBody(q *cmd, s string) {
	q.bodySize += int64(len(s))
	if room := h.lim.MaxBody - len(q.body); room > 0 {
		q.body = append(q.body, s[:min(room, len(s))]...)
	}
}

// finish publishes q for the last time.
func (h *handler) finish(q *cmd, st decode.ExchangeState, why string) {
	x := q.x
	x.State = st
	if st != decode.Complete && why != "" {
		x.Error = why
	}
	if r := x.Response; r != nil {
		r.Body = q.body
		r.BodySize = q.bodySize
		r.Truncated = int64(len(q.body)) < q.bodySize
		if r.Last.After(x.End) {
			x.End = r.Last
		}
	}
	switch {
	case q.sets > 0:
		x.Query.Rows = q.rows
	case q.sawOK && q.code != 0:
		x.Query.Rows = q.affected
	}
	if q.infile > 0 {
		x.Request.Headers = append(x.Request.Headers, decode.Header{Name: "Infile-Bytes", Value: strconv.FormatInt(q.infile, 10)})
	}
	h.c.Publish(x)
}

// clientPacket handles a client packet of the command phase: sequence 0
// starts a command; others carry LOCAL INFILE data or auth data of a
// COM_CHANGE_USER.
func (h *handler) clientPacket(p *packet) {
	if p.seq != 0 {
		if len(h.queue) == 0 {
			h.note("client", "client packet outside a command")
			return
		}
		q := h.queue[len(h.queue)-1]
		switch {
		case q.code == comChangeUser:
			q.x.Request.Headers = append(q.x.Request.Headers, decode.Header{Name: "Auth-Password", Value: hexString(p.data)})
		default:
			q.infile += p.size
		}
		q.x.Request.Last = p.last
		return
	}
	if len(p.data) == 0 {
		h.note("empty", "empty command packet")
		return
	}
	q := h.newCmd(p.data[0])
	q.x.Start, q.x.End = p.first, p.last
	req := q.x.Request
	req.First, req.Last = p.first, p.last
	h.request(q, p)
	if p.truncated() {
		req.Truncated = true
		req.BodySize = max(req.BodySize, p.size-1)
	}
	switch q.code {
	case comQuit, comStmtClose, comStmtSendLongData:
		// No reply.
		if q.code == comStmtClose && q.stmt != nil {
			h.stmtBytes -= len(q.stmt.sql)
			delete(h.stmts, q.stmtID)
		}
		h.finish(q, decode.Complete, "")
		return
	case comBinlogDump:
		h.finish(q, decode.Complete, "")
		h.stop("binlog stream")
		return
	}
	if len(h.queue) >= maxQueue {
		old := h.queue[0]
		h.queue = h.queue[1:]
		h.finish(old, decode.Orphan, "no reply seen")
	}
	h.queue = append(h.queue, q)
	h.c.Publish(q.x)
	held := h.held
	h.held, h.heldBytes = nil, 0
	for _, sp := range held {
		h.serverPacket(sp)
	}
}

// request fills the request of a command from its packet.
func (h *handler) request(q *cmd, p *packet) {
	req := q.x.Request
	arg := p.data[1:]
	name := commandName(q.code)
	if name == "" {
		name = "COM_0x" + strconv.FormatUint(uint64(q.code), 16)
	}
	req.Method = name
	req.Headers = append(req.Headers, decode.Header{Name: "Command", Value: wireName(q.code, name)})
	switch q.code {
	case comQuery, comStmtPrepare:
		sql := string(arg)
		q.sql = sql
		req.Target = sql
		if q.code == comQuery {
			if v := verb(sql); v != "" {
				req.Method = v
			}
		}
		h.appendReqBody(q, sql)
		q.reqSize = max(q.reqSize, p.size-1)
	case comInitDB, comFieldList, comCreateDB, comDropDB:
		r := reader{b: arg}
		t := printable(r.cstring())
		req.Target = t
		h.appendReqBody(q, t)
		if q.code == comInitDB {
			q.sql = t
		}
	case comStmtExecute, comStmtClose, comStmtReset, comStmtFetch, comStmtSendLongData:
		if len(arg) < 4 {
			h.note("stmt", "statement command without a statement id")
			return
		}
		q.stmtID = binary.LittleEndian.Uint32(arg)
		q.stmt = h.stmts[q.stmtID]
		req.Headers = append(req.Headers, decode.Header{Name: "Statement-Id", Value: strconv.FormatUint(uint64(q.stmtID), 10)})
		if q.stmt != nil {
			req.Target = q.stmt.sql
		}
		if q.code == comStmtExecute {
			h.executeBody(q, arg)
		} else if q.stmt != nil {
			h.appendReqBody(q, q.stmt.sql)
		}
	case comChangeUser:
		r := reader{b: arg}
		user := printable(r.cstring())
		var auth []byte
		if h.caps&capSecureConnection != 0 || !h.capsKnown {
			auth = r.n(int(r.u8()))
		} else {
			auth = r.cstring()
		}
		db := printable(r.cstring())
		req.Target = db
		req.Headers = append(req.Headers, decode.Header{Name: "User", Value: user},
			decode.Header{Name: "Database", Value: db},
			decode.Header{Name: "Password", Value: hexString(auth)})
		h.appendReqBody(q, "user "+user+" database "+db+" auth-response <password>\n")
	case comProcessKill:
		if len(arg) >= 4 {
			req.Target = strconv.FormatUint(uint64(binary.LittleEndian.Uint32(arg)), 10)
		}
	}
}

// executeBody renders COM_STMT_EXECUTE: the statement's SQL, then its
// parameters decoded from the binary protocol. Parameter types come
// from this packet or, when it does not resend them, from the previous
// execution of the same statement.
func (h *handler) executeBody(q *cmd, arg []byte) {
	st := q.stmt
	if st != nil {
		h.appendReqBody(q, st.sql)
	}
	if st == nil || st.nparams == 0 {
		return
	}
	r := reader{b: arg[4:]}
	r.u8()  // flags
	r.u32() // iteration count
	n := st.nparams
	nulls := r.n((n + 7) / 8)
	if r.u8() == 1 {
		st.types = make([]uint16, n)
		for i := range st.types {
			st.types[i] = r.u16()
		}
	}
	if r.err != nil || len(st.types) != n {
		h.appendReqBody(q, "\n-- parameters not decoded (types unknown)")
		return
	}
	var b strings.Builder
	for i := range n {
		b.WriteString("\n-- ?" + strconv.Itoa(i+1) + " = ")
		if nulls[i/8]&(1<<(i%8)) != 0 {
			b.WriteString("NULL")
			continue
		}
		t := st.types[i]
		v, err := binaryValue(&r, byte(t), t&0x8000 != 0)
		if err != nil {
			b.WriteString("<undecodable>")
			break
		}
		if quotedType(byte(t)) && !strings.HasPrefix(v, "0x") {
			v = "'" + v + "'"
		}
		b.WriteString(v)
	}
	h.appendReqBody(q, b.String())
}

// quotedType reports types whose values print as SQL strings.
func quotedType(t byte) bool {
	switch t {
	case typeTiny, typeShort, typeLong, typeLongLong, typeInt24, typeFloat, typeDouble, typeNull, typeYear:
		return false
	}
	return true
}

// wireName is the command's name in the protocol documentation
// ("COM_QUERY"), shown in the Command header because Method shows the
// statement verb.
func wireName(code byte, method string) string {
	switch code {
	case comInitDB:
		return "COM_INIT_DB"
	case comQuery:
		return "COM_QUERY"
	case comStmtPrepare:
		return "COM_STMT_PREPARE"
	case comStmtExecute:
		return "COM_STMT_EXECUTE"
	}
	return "COM_" + method
}
