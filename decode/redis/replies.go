package redis

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
)

// errorCode is the first word of an error reply when it is upper case,
// as Redis error prefixes are ("ERR", "WRONGTYPE").
func errorCode(s []byte) string {
	w := s
	if i := bytes.IndexByte(s, ' '); i >= 0 {
		w = s[:i]
	}
	if len(w) == 0 || len(w) > 32 {
		return ""
	}
	for _, c := range w {
		if !(c >= 'A' && c <= 'Z' || c == '_' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return string(w)
}

// effects applies what a successful reply changes on the connection
// (DB index, user, name, protocol, transaction, monitor mode) and
// records it on the exchange.
func (h *handler) effects(p *pending, v *value, q *decode.QueryInfo, resp *decode.Message) {
	args := p.args
	switch p.cmd {
	case "SELECT":
		if len(args) > 1 {
			h.db = string(args[1])
		}
	case "AUTH":
		h.user = authUser(p.cmd, args)
	case "HELLO":
		if len(args) > 1 {
			if n, err := strconv.Atoi(string(args[1])); err == nil && (n == 2 || n == 3) {
				h.proto = n
			}
		}
		if u := authUser(p.cmd, args); u != "" {
			h.user = u
		}
		for i := 2; i+1 < len(args); i++ {
			if upper(args[i]) == "SETNAME" {
				h.name = string(args[i+1])
			}
		}
		resp.Proto = h.protoName()
	case "CLIENT":
		if len(args) > 2 && upper(args[1]) == "SETNAME" {
			h.name = string(args[2])
		}
	case "MULTI":
		h.multi = true
	case "EXEC", "DISCARD":
		h.multi = false
	case "MONITOR":
		h.monitor = true
	case "RESET":
		h.db, h.user, h.name, h.proto, h.subs, h.monitor, h.multi = "0", "default", "", 2, 0, false, false
	}
	if v.kind == '+' && string(v.str) == "QUEUED" {
		resp.Headers = append(resp.Headers, decode.Header{Name: "Transaction", Value: "queued"})
	}
	q.Database, q.User, q.ClientID = h.db, h.user, h.name
}

// push publishes a value the server sent on its own.
func (h *handler) push(kind string, v *value, first, last time.Time, wire int64) {
	e := h.c.NewExchange(Name)
	e.Start, e.End = first, last
	req := &decode.Message{First: first, Last: first, Method: strings.ToUpper(kind), Proto: h.protoName(),
		DecodedSize: -1, Headers: []decode.Header{{Name: "Pushed", Value: "true"}}}
	if req.Method == "" {
		req.Method = "PUSH"
	}
	if kind == "monitor" {
		// `+TIME [DB ADDR] "CMD" "ARG"…`: the monitored command.
		if i := bytes.Index(v.str, []byte("] ")); i >= 0 {
			req.Target = string(v.str[i+2 : min(len(v.str), i+2+256)])
		}
	}
	if messageKinds[kind] || confirmKinds[kind] {
		ch := 1
		if kind == "pmessage" {
			ch = 2 // pmessage pattern channel message
		}
		if len(v.elems) > ch {
			req.Target = string(v.elems[ch].str)
		}
	}
	e.Request = req
	e.Response = h.replyMessage(v, first, last, wire)
	e.Query = &decode.QueryInfo{Rows: rows(v), Database: h.db, User: h.user, ClientID: h.name}
	e.State = decode.Complete
	h.c.Publish(e)
}

// orphan publishes a reply no command was waiting for.
func (h *handler) orphan(v *value, first, last time.Time, wire int64) {
	e := h.c.NewExchange(Name)
	e.Start, e.End = first, last
	e.Response = h.replyMessage(v, first, last, wire)
	e.Query = &decode.QueryInfo{Rows: rows(v), Database: h.db, User: h.user, ClientID: h.name}
	if v.kind == '-' || v.kind == '!' {
		e.Query.ReplyError, e.Query.ErrorCode = string(v.str), errorCode(v.str)
	}
	e.State = decode.Orphan
	e.Error = "reply without a command (its command was not captured)"
	h.c.Publish(e)
}

func (h *handler) replyMessage(v *value, first, last time.Time, wire int64) *decode.Message {
	body, cut := renderReply(v, h.lim.MaxBody)
	return &decode.Message{First: first, Last: last, Proto: h.protoName(), Body: body, BodySize: wire,
		Truncated: cut || v.cut, DecodedSize: -1, Headers: []decode.Header{{Name: "Type", Value: typeName(v)}}}
}
