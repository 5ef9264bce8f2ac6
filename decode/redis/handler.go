package redis

import (
	"fmt"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
)

// maxWaiting bounds the commands waiting for replies on one connection;
// past it the oldest is published without one.
const maxWaiting = 4096

// pending is a command waiting for its reply (or, for the SUBSCRIBE
// family, its confirmations).
type pending struct {
	e    *decode.Exchange
	cmd  string
	args [][]byte
	// family is the confirmation kind the command expects ("subscribe",
	// …), "" for ordinary commands; confirm how many confirmations are
	// still due (-1: until the subscription count reaches 0).
	family  string
	confirm int
	replies []*value
	first   time.Time
	wire    int64
}

// handler decodes one connection.
type handler struct {
	c   decode.Conn
	lim decode.Limits
	rd  [2]*reader
	// sync is set while a direction looks for a message start after a
	// gap, an error or a mid-stream join; carry holds a possible start
	// cut by the end of the data.
	sync   [2]bool
	carry  [2][]byte
	noted  [2]bool
	first  [2]time.Time
	queue  []*pending
	reqGap bool // commands were lost: replies may predate the queue's head
	// oriented is set once the directions are known to be right: at
	// once for a connection seen from its start, at the first message
	// of one joined mid-stream (whose client the TCP layer guessed).
	oriented   bool
	swapNeeded bool

	db, user, name string
	proto          int
	subs           int64
	monitor        bool
	multi          bool
}

func newHandler(c decode.Conn) *handler {
	lim := c.Limits().WithDefaults()
	h := &handler{c: c, lim: lim, proto: 2}
	h.rd[0] = newReader(true, lim.MaxBody)
	h.rd[1] = newReader(false, lim.MaxBody)
	if f := c.Flow(); f != nil && f.Partial {
		h.sync = [2]bool{true, true}
		h.reqGap = true
	} else {
		h.db, h.oriented = "0", true
	}
	return h
}

// Data implements decode.StreamHandler.
func (h *handler) Data(dir decode.Direction, data []byte, ts time.Time) {
	d := int(dir & 1)
	for len(data) > 0 {
		if h.sync[d] {
			var swapped bool
			data, swapped = h.resync(d, data)
			if swapped {
				d = 1 - d
			}
			continue
		}
		r := h.rd[d]
		if !r.started() {
			h.first[d] = ts
		}
		n, v, wire, err := r.next(data)
		data = data[n:]
		if err != nil {
			h.broken(d, err.Error())
			continue
		}
		if v == nil {
			continue
		}
		if d == 0 {
			h.request(v, h.first[0], ts, wire)
		} else {
			h.reply(v, h.first[1], ts, wire)
		}
	}
}

// Gap implements decode.StreamHandler: the message in progress is lost
// and the direction resynchronises. Lost replies leave every waiting
// command unanswerable (published Partial); lost commands leave the
// queue as is, but later replies are only matched to commands sent
// before them.
func (h *handler) Gap(dir decode.Direction, n int, _ time.Time) {
	d := int(dir & 1)
	h.rd[d].reset()
	h.sync[d], h.carry[d] = true, nil
	if !h.noted[d] {
		h.noted[d] = true
		what := "commands"
		if d == 1 {
			what = "replies"
		}
		h.c.Note(fmt.Sprintf("redis: %s missing (%d bytes); decoding resumes at the next message start", what, n))
	}
	if d == 0 {
		h.reqGap = true
		return
	}
	h.flush(decode.Partial, "replies missing (gap in the capture)")
}

// broken handles a framing error: the direction resynchronises.
func (h *handler) broken(d int, msg string) {
	h.rd[d].reset()
	h.sync[d], h.carry[d] = true, nil
	if !h.noted[d] {
		h.noted[d] = true
		h.c.Note(msg + "; decoding resumes at the next message start")
	}
	if d == 0 {
		h.reqGap = true
	} else {
		h.flush(decode.Partial, "reply could not be decoded")
	}
}

// End implements decode.StreamHandler: commands still waiting end
// Orphan (no reply seen), or Reset when the connection was reset;
// SUBSCRIBE-family commands with some confirmations end Complete.
func (h *handler) End(state decode.FlowState, _ time.Time) {
	st := decode.Orphan
	if state == decode.FlowReset {
		st = decode.Reset
	}
	h.flush(st, "")
}

// flush publishes every waiting command with state st.
func (h *handler) flush(st decode.ExchangeState, why string) {
	for _, p := range h.queue {
		if len(p.replies) > 0 {
			h.finish(p, decode.Complete)
			continue
		}
		p.e.State = st
		if why != "" {
			p.e.Error = why
		}
		h.c.Publish(p.e)
	}
	h.queue = nil
}

// resync looks for a message start in carry+data and returns what
// follows it (nil when none was found; a possible start cut by the end
// of data is carried to the next call). On a connection joined
// mid-stream, the first start found also tells which side is the
// client; swapped reports that d's bytes turned out to be the other
// direction's.
func (h *handler) resync(d int, data []byte) (rest []byte, swapped bool) {
	buf := data
	if len(h.carry[d]) > 0 {
		buf = append(h.carry[d], data...)
	}
	h.carry[d] = nil
	for i := 0; i < len(buf); i++ {
		if i > 0 && buf[i-1] != '\n' {
			continue
		}
		var v decode.Verdict
		if !h.oriented {
			v = h.orient(d, buf[i:])
			if v == decode.Yes && h.swapNeeded {
				h.swap()
				d, swapped = 1-d, true
			}
		} else if d == 0 {
			v = commandStart(buf[i:])
		} else {
			v = replyStart(buf[i:])
		}
		switch {
		case v == decode.Yes:
			h.sync[d], h.noted[d] = false, false
			h.rd[d].reset()
			return buf[i:], swapped
		case v == decode.NeedMore && len(buf)-i < 64:
			h.carry[d] = append([]byte(nil), buf[i:]...)
			return nil, swapped
		}
	}
	return nil, swapped
}

// orient finds a message start on a connection joined mid-stream and
// decides from it which side is the client: a known command in an array
// is sent by the client, a reply other than an array by the server.
// It sets swapNeeded when d is the server's side after all.
func (h *handler) orient(d int, p []byte) decode.Verdict {
	h.swapNeeded = false
	if v := commandStart(p); v != decode.No {
		if v == decode.NeedMore {
			return v
		}
		_, j, _ := number(p, 1)
		m, k, v := number(p, j+1)
		if v != decode.Yes {
			return v
		}
		if int64(len(p)-k) < m {
			return decode.NeedMore
		}
		word := string(p[k : k+int(m)])
		switch {
		case messageKinds[word]:
			// A pub/sub message, pushed by the server.
			h.swapNeeded = d == 0
		case knownCommand([]byte(word)):
			h.swapNeeded = d == 1
		default:
			return decode.No
		}
		h.oriented = true
		return decode.Yes
	}
	if p[0] == '*' || p[0] == '$' {
		// An array of something else, or a bulk string, which may be an
		// argument of a command as well as a reply: wait for a clearer
		// start.
		return decode.No
	}
	v := replyStart(p)
	if v == decode.Yes {
		h.swapNeeded = d == 0
		h.oriented = true
	}
	return v
}

// swap turns the handler's idea of the directions around, and the TCP
// layer's with it.
func (h *handler) swap() {
	h.c.SwapDirections()
	h.rd[0].inline, h.rd[1].inline = false, true
	h.rd[0], h.rd[1] = h.rd[1], h.rd[0]
	h.sync[0], h.sync[1] = h.sync[1], h.sync[0]
	h.carry[0], h.carry[1] = h.carry[1], h.carry[0]
	h.noted[0], h.noted[1] = h.noted[1], h.noted[0]
	h.first[0], h.first[1] = h.first[1], h.first[0]
}

// commandStart accepts "*N\r\n$" (N >= 1), the start of a command.
func commandStart(p []byte) decode.Verdict {
	if p[0] != '*' {
		return decode.No
	}
	n, j, v := number(p, 1)
	switch {
	case v != decode.Yes:
		return v
	case n < 1 || n > 1<<20:
		return decode.No
	case j >= len(p):
		return decode.NeedMore
	}
	return verdictIf(p[j] == '$')
}

// replyStart accepts what detection accepts of a reply.
func replyStart(p []byte) decode.Verdict {
	if p[0] == '*' {
		return detectArray(p)
	}
	if p[0] == '!' || p[0] == '=' {
		return detectReply(append([]byte{'$'}, p[1:min(len(p), 64)]...))
	}
	return detectReply(p)
}

// request handles one command.
func (h *handler) request(v *value, first, last time.Time, wire int64) {
	if v.null || len(v.elems) == 0 {
		return // "*0" and "*-1" are no commands; Redis ignores them
	}
	args := make([][]byte, len(v.elems))
	for i, e := range v.elems {
		args[i] = e.str
	}
	cmd := upper(args[0])
	secret := SecretArgs(args)
	body, cut := renderCommand(v, secret, h.lim.MaxBody)

	req := &decode.Message{First: first, Last: last, Method: cmd, Proto: h.protoName(),
		Body: body, BodySize: wire, Truncated: cut, DecodedSize: -1}
	if len(args) > 1 && !isSecret(secret, 1) {
		req.Target = string(args[1])
	}
	if v.inline {
		req.Headers = append(req.Headers, decode.Header{Name: "Inline", Value: "true"})
	}
	if u := authUser(cmd, args); u != "" {
		req.Headers = append(req.Headers, decode.Header{Name: "User", Value: u})
		if cmd == "AUTH" {
			req.Target = u
		}
	}
	for _, i := range secret {
		pw := args[i]
		if cmd == "ACL" && len(pw) > 0 {
			pw = pw[1:]
		}
		req.Headers = append(req.Headers, decode.Header{Name: "Password", Value: string(pw)})
	}
	e := h.c.NewExchange(Name)
	e.Start, e.End = first, last
	e.Request = req
	e.State = decode.Pending
	e.Query = &decode.QueryInfo{Rows: -1, Database: h.db, User: h.user, ClientID: h.name}

	// What the reply's effects need of the arguments is short; the full
	// ones are in the published body already.
	p := &pending{e: e, cmd: cmd, args: shortArgs(args)}
	switch cmd {
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE":
		p.family = strings.ToLower(cmd)
		p.confirm = int(v.n) - 1
		if p.confirm == 0 {
			p.confirm = -1
		}
	}
	if len(h.queue) >= maxWaiting {
		old := h.queue[0]
		h.queue = h.queue[1:]
		old.e.State, old.e.Error = decode.Orphan, "no reply seen (too many commands waiting)"
		h.c.Publish(old.e)
	}
	h.queue = append(h.queue, p)
	h.c.Publish(e)
}

// shortArgs copies the first few arguments, each cut to a few hundred
// bytes, so thousands of waiting commands hold little memory.
func shortArgs(args [][]byte) [][]byte {
	out := make([][]byte, min(len(args), 8))
	for i := range out {
		out[i] = append([]byte(nil), args[i][:min(len(args[i]), 256)]...)
	}
	return out
}

func isSecret(secret []int, i int) bool {
	for _, s := range secret {
		if s == i {
			return true
		}
	}
	return false
}

// authUser is the user an AUTH or HELLO … AUTH logs in as.
func authUser(cmd string, args [][]byte) string {
	switch cmd {
	case "AUTH":
		if len(args) == 3 {
			return string(args[1])
		}
		if len(args) == 2 {
			return "default"
		}
	case "HELLO":
		for i := 2; i+1 < len(args); i++ {
			if upper(args[i]) == "AUTH" {
				return string(args[i+1])
			}
		}
	}
	return ""
}

func (h *handler) protoName() string {
	if h.proto == 3 {
		return "RESP3"
	}
	return "RESP2"
}

// Push kinds.
var (
	confirmKinds = map[string]bool{"subscribe": true, "psubscribe": true, "ssubscribe": true,
		"unsubscribe": true, "punsubscribe": true, "sunsubscribe": true}
	messageKinds = map[string]bool{"message": true, "pmessage": true, "smessage": true}
)

// reply handles one reply: a confirmation, a push, or the answer to the
// oldest waiting command.
func (h *handler) reply(v *value, first, last time.Time, wire int64) {
	kind := ""
	// RESP2 pub/sub messages are arrays: taken for pushes while
	// subscribed, and when no command waits (a connection joined after
	// its SUBSCRIBE).
	subscribing := len(h.queue) == 0 || h.queue[0].family != ""
	if (v.kind == '>' || v.kind == '*' && (h.subs > 0 || subscribing)) && len(v.elems) > 0 && v.elems[0].kind == '$' {
		kind = strings.ToLower(string(v.elems[0].str))
	}
	if confirmKinds[kind] && len(h.queue) > 0 && h.queue[0].family == kind {
		h.confirmation(h.queue[0], v, first, last, wire)
		return
	}
	if v.kind == '>' || messageKinds[kind] && len(v.elems) >= 3 {
		h.push(kind, v, first, last, wire)
		return
	}
	if h.monitor && v.kind == '+' && len(v.str) > 0 && v.str[0] >= '0' && v.str[0] <= '9' {
		h.push("monitor", v, first, last, wire)
		return
	}
	if len(h.queue) == 0 || h.reqGap && h.queue[0].e.Request.First.After(first) {
		h.orphan(v, first, last, wire)
		return
	}
	h.reqGap = false
	p := h.queue[0]
	h.queue = h.queue[1:]
	p.replies, p.first, p.wire = []*value{v}, first, wire
	p.e.End = last
	h.finish(p, decode.Complete)
}

// confirmation adds a SUBSCRIBE-family confirmation to p, finishing it
// when the last one came.
func (h *handler) confirmation(p *pending, v *value, first, last time.Time, wire int64) {
	if len(p.replies) == 0 {
		p.first = first
	}
	p.replies = append(p.replies, v)
	p.wire += wire
	p.e.End = last
	count := int64(-1)
	if n := len(v.elems); n >= 3 && v.elems[n-1].kind == ':' {
		count, _ = parseInteger(v.elems[n-1].str)
		h.subs = count
	}
	switch {
	case p.confirm > 0:
		p.confirm--
		if p.confirm > 0 {
			return
		}
	case count > 0 && len(p.replies) < maxKept:
		return // an argument-less UNSUBSCRIBE: until none is left
	}
	h.queue = h.queue[1:]
	h.finish(p, decode.Complete)
}

// finish builds p's response from its replies and publishes it final.
func (h *handler) finish(p *pending, st decode.ExchangeState) {
	e := p.e
	v := p.replies[0]
	var body []byte
	cut := false
	for i, r := range p.replies {
		if i > 0 {
			body = append(body, '\n')
		}
		b, c := renderReply(r, max(h.lim.MaxBody-len(body), 0))
		body = append(body, b...)
		cut = cut || c || r.cut
	}
	resp := &decode.Message{First: p.first, Last: e.End, Proto: e.Request.Proto, Body: body,
		BodySize: p.wire, Truncated: cut, DecodedSize: -1,
		Headers: []decode.Header{{Name: "Type", Value: typeName(v)}}}
	q := *e.Query
	q.Rows = rows(v)
	if p.family != "" {
		q.Rows = int64(len(p.replies))
	}
	if v.kind == '-' || v.kind == '!' {
		q.ReplyError = string(v.str)
		q.ErrorCode = errorCode(v.str)
	} else {
		h.effects(p, v, &q, resp)
	}
	e.Query = &q
	e.Response = resp
	e.State = st
	h.c.Publish(e)
}
