package dns

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
)

// Bounds of the per-conversation pairing state.
const (
	// QueryTimeout is how long (capture time) a query waits for its
	// response before it is published as an orphan; resolvers retry
	// after about this long.
	QueryTimeout = 5 * time.Second
	// MaxPending bounds the queries awaiting a response per
	// conversation; past it the oldest is given up.
	MaxPending = 1024
	// MaxOrphans bounds the exchanges made of responses without a query
	// per conversation (mDNS announcements arrive unasked, forever);
	// later ones are only counted.
	MaxOrphans = 1000
)

// pkey identifies a query: id and first question, the name in lower case
// because resolvers randomise its case (DNS 0x20) and servers echo it.
type pkey struct {
	id           uint16
	qtype, class uint16
	name         string
}

// pending is a query awaiting its response.
type pending struct {
	x    *decode.Exchange
	key  pkey
	at   time.Time
	done bool
}

// pairer turns DNS messages of one conversation into exchanges: each
// query waits for the response with the same id and question.
type pairer struct {
	c   decode.Conn
	lim decode.Limits

	byKey map[pkey][]*pending
	queue []*pending // every pending query, oldest first; done ones are skipped
	live  int

	// hold keeps responses without a query for a while (TCP): a gap in
	// the querier's direction holds its later bytes back in reassembly
	// until the gap is given up on, so a query can arrive after its
	// response. held is oldest first, at most maxHeld.
	hold bool
	held []held

	seen      bool // a message was seen, so the orientation is settled
	swap      func()
	orphans   int
	unshown   int // responses without a query beyond MaxOrphans
	malformed int
}

// held is a response waiting for a query that reassembly may deliver
// late.
type held struct {
	m           *message
	raw         []byte // a copy
	first, last time.Time
	err         error
}

// maxHeld bounds the responses held for a late query per conversation.
const maxHeld = 64

func newPairer(c decode.Conn) *pairer {
	return &pairer{c: c, lim: c.Limits().WithDefaults(), byKey: map[pkey][]*pending{}}
}

// message handles one DNS message sent in dir; first and last are the
// capture times of its first and last byte.
func (p *pairer) message(dir decode.Direction, raw []byte, first, last time.Time) {
	m, err := parseMessage(raw)
	if m == nil {
		p.malformed++
		if p.malformed == 1 {
			p.c.Note("dns: malformed message: " + err.Error())
		}
		return
	}
	if !p.seen {
		p.seen = true
		if !m.response && dir == decode.ServerToClient {
			// The querier is the client, whatever the ports suggested.
			p.c.SwapDirections()
			if p.swap != nil {
				p.swap()
			}
		}
	}
	p.expire(last)
	if m.response {
		p.respond(m, raw, first, last, err)
		return
	}
	p.ask(m, raw, first, last, err)
}

func keyOf(m *message) pkey {
	k := pkey{id: m.id}
	if len(m.questions) > 0 {
		q := m.questions[0]
		k.qtype, k.class, k.name = q.qtype, q.qclass&0x7fff, strings.ToLower(q.name)
	}
	return k
}

// ask publishes a query as a pending exchange and waits for its response.
func (p *pairer) ask(m *message, raw []byte, first, last time.Time, perr error) {
	if p.live >= MaxPending {
		p.giveUpOldest()
	}
	x := p.c.NewExchange("dns")
	x.Start, x.End = first, last
	x.Request = p.wireMessage(m, raw, first, last)
	x.DNS = &decode.DNSInfo{ID: m.id}
	x.DNS.Name, x.DNS.Type = subject(m)
	if perr != nil {
		x.Error = "dns query: " + perr.Error()
	}
	pd := &pending{x: x, key: keyOf(m), at: last}
	p.byKey[pd.key] = append(p.byKey[pd.key], pd)
	if len(p.queue) >= 4*MaxPending {
		// Answered queries behind an unanswered one pile up until it
		// times out; drop them so the queue stays near MaxPending.
		p.queue = slices.DeleteFunc(p.queue, func(q *pending) bool { return q.done })
	}
	p.queue = append(p.queue, pd)
	p.live++
	p.c.Publish(x)
	if i := p.heldFor(pd.key); i >= 0 {
		h := p.held[i]
		p.held = slices.Delete(p.held, i, i+1)
		p.respond(h.m, h.raw, h.first, h.last, h.err)
	}
}

// heldFor returns the index of the oldest held response to a query with
// key k, or -1.
func (p *pairer) heldFor(k pkey) int {
	for i, h := range p.held {
		if keyOf(h.m) == k || len(h.m.questions) == 0 && h.m.id != 0 && h.m.id == k.id {
			return i
		}
	}
	return -1
}

// release publishes the held responses received before capture time
// now-QueryTimeout (all of them when all is set) as orphans.
func (p *pairer) release(now time.Time, all bool) {
	for len(p.held) > 0 && (all || now.Sub(p.held[0].last) >= QueryTimeout) {
		h := p.held[0]
		p.held = slices.Delete(p.held, 0, 1)
		p.orphan(h.m, h.raw, h.first, h.last, h.err)
	}
}

// respond completes the matching query, or holds the response for a
// late query, or publishes an orphan.
func (p *pairer) respond(m *message, raw []byte, first, last time.Time, perr error) {
	pd := p.match(m)
	if pd == nil {
		if p.hold {
			if len(p.held) == maxHeld {
				h := p.held[0]
				p.held = slices.Delete(p.held, 0, 1)
				p.orphan(h.m, h.raw, h.first, h.last, h.err)
			}
			p.held = append(p.held, held{m: m, raw: append([]byte(nil), raw...), first: first, last: last, err: perr})
			return
		}
		p.orphan(m, raw, first, last, perr)
		return
	}
	x := pd.x
	p.finish(pd)
	p.complete(x, pd, m, raw, first, last, perr)
}

// orphan publishes a response without a query.
func (p *pairer) orphan(m *message, raw []byte, first, last time.Time, perr error) {
	if p.orphans >= MaxOrphans {
		p.unshown++
		return
	}
	p.orphans++
	x := p.c.NewExchange("dns")
	x.Start = first
	x.DNS = &decode.DNSInfo{ID: m.id}
	x.DNS.Name, x.DNS.Type = subject(m)
	p.complete(x, nil, m, raw, first, last, perr)
}

// complete adds the response to x (pd is its query, nil for an orphan)
// and publishes it.
func (p *pairer) complete(x *decode.Exchange, pd *pending, m *message, raw []byte, first, last time.Time, perr error) {
	x.End = last
	x.Response = p.wireMessage(m, raw, first, last)
	x.DNS.Rcode = rcodeName(m.rcode())
	x.DNS.Answers = answers(m)
	switch {
	case pd == nil:
		x.State = decode.Orphan
		x.Error = "no query seen"
	case perr != nil:
		x.State = decode.Partial
	default:
		x.State = decode.Complete
	}
	if perr != nil {
		x.Error = joinErr(x.Error, "dns response: "+perr.Error())
	}
	p.c.Publish(x)
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// match finds the oldest pending query a response answers: same id and
// question, or, for a response without a question, the same non-zero id.
func (p *pairer) match(m *message) *pending {
	if len(m.questions) == 0 {
		if m.id == 0 {
			return nil
		}
		for _, pd := range p.queue {
			if !pd.done && pd.key.id == m.id {
				return pd
			}
		}
		return nil
	}
	k := keyOf(m)
	for _, pd := range p.byKey[k] {
		if !pd.done {
			return pd
		}
	}
	return nil
}

// finish removes a pending query from the bookkeeping.
func (p *pairer) finish(pd *pending) {
	pd.done = true
	p.live--
	list := p.byKey[pd.key]
	for i, q := range list {
		if q == pd {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(p.byKey, pd.key)
	} else {
		p.byKey[pd.key] = list
	}
	p.compact()
}

// compact drops finished queries from the front of the queue and
// reallocates it when most of its backing array is dead.
func (p *pairer) compact() {
	i := 0
	for i < len(p.queue) && p.queue[i].done {
		i++
	}
	if i == 0 {
		return
	}
	clear(p.queue[:i])
	p.queue = p.queue[i:]
	if cap(p.queue) > 64 && len(p.queue) < cap(p.queue)/4 {
		p.queue = append([]*pending(nil), p.queue...)
	}
}

// expire gives up queries older than QueryTimeout at capture time now,
// and publishes responses held as long as orphans.
func (p *pairer) expire(now time.Time) {
	p.release(now, false)
	for len(p.queue) > 0 {
		pd := p.queue[0]
		if !pd.done && now.Sub(pd.at) < QueryTimeout {
			return
		}
		if !pd.done {
			p.finalize(pd, decode.Orphan, "no response seen")
			continue
		}
		p.compact()
	}
}

func (p *pairer) giveUpOldest() {
	for _, pd := range p.queue {
		if !pd.done {
			p.finalize(pd, decode.Orphan, "no response seen (too many outstanding queries)")
			return
		}
	}
}

func (p *pairer) finalize(pd *pending, st decode.ExchangeState, why string) {
	p.finish(pd)
	pd.x.State = st
	pd.x.Error = joinErr(pd.x.Error, why)
	p.c.Publish(pd.x)
}

// end finalises every pending query when the conversation is over.
func (p *pairer) end(st decode.FlowState) {
	state, why := decode.Orphan, "no response seen"
	if st == decode.FlowReset {
		state, why = decode.Reset, "connection reset before the response"
	}
	p.release(time.Time{}, true)
	for len(p.queue) > 0 {
		pd := p.queue[0]
		if pd.done {
			p.compact()
			continue
		}
		p.finalize(pd, state, why)
	}
	if p.unshown > 0 {
		p.c.Note(fmt.Sprintf("dns: %d more responses without a query were counted, not shown", p.unshown))
	}
	if p.malformed > 1 {
		p.c.Note(fmt.Sprintf("dns: %d malformed messages", p.malformed))
	}
}

// wireMessage is the Message of one side: the raw DNS message as body
// (capped by MaxBody) and one Part per non-empty section.
func (p *pairer) wireMessage(m *message, raw []byte, first, last time.Time) *decode.Message {
	keep := min(len(raw), p.lim.MaxBody)
	msg := &decode.Message{
		First:       first,
		Last:        last,
		Body:        append([]byte(nil), raw[:keep]...),
		BodySize:    int64(len(raw)),
		Truncated:   keep < len(raw),
		DecodedSize: int64(len(raw)), // no content coding applies
	}
	msg.Parts = sectionParts(m, first)
	return msg
}

// sectionParts renders the sections as Parts: Kind "question",
// "answer", "authority" or "additional"; Data holds one zone-file line
// per entry; Size is the section's bytes on the wire.
func sectionParts(m *message, ts time.Time) []decode.Part {
	var parts []decode.Part
	if len(m.questions) > 0 {
		var sb strings.Builder
		for i, q := range m.questions {
			if i > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(q.name + " " + className(q.qclass) + " " + typeName(q.qtype))
			if q.qclass&0x8000 != 0 {
				sb.WriteString(" QU")
			}
		}
		more(&sb, int(m.qd)-len(m.questions))
		parts = append(parts, decode.Part{Time: ts, Kind: "question", Data: []byte(sb.String()), Size: int64(m.qEnd - headerLen)})
	}
	for s := range m.sections {
		if m.parsed[s] == 0 {
			continue
		}
		var sb strings.Builder
		for i, r := range m.sections[s] {
			if i > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(recordLine(r))
		}
		more(&sb, m.parsed[s]-len(m.sections[s]))
		parts = append(parts, decode.Part{Time: ts, Kind: sectionName[s], Data: []byte(sb.String()), Size: int64(m.spans[s])})
	}
	return parts
}

func more(sb *strings.Builder, n int) {
	if n > 0 {
		sb.WriteString("\n… " + strconv.Itoa(n) + " more")
	}
}

// recordLine is a record in zone-file form: owner, TTL, class, type, data.
func recordLine(r record) string {
	if r.rtype == typeOPT {
		return r.name + " OPT " + r.data
	}
	cls := className(r.class)
	if r.class&0x8000 != 0 {
		cls += " cache-flush"
	}
	return r.name + " " + strconv.FormatUint(uint64(r.ttl), 10) + " " + cls + " " + typeData(r)
}

// typeData is a record's type and data; an UPDATE's deletions carry no
// data ("CNAME", not "CNAME ").
func typeData(r record) string {
	if r.data == "" {
		return typeName(r.rtype)
	}
	return typeName(r.rtype) + " " + r.data
}

// answers lists the answer section as "TYPE data" strings.
func answers(m *message) []string {
	out := make([]string, 0, len(m.sections[secAnswer]))
	for _, r := range m.sections[secAnswer] {
		out = append(out, typeData(r))
	}
	return out
}

// subject is the name and type an exchange is about: the first question,
// or the first answer of a response that has none (mDNS announcements).
func subject(m *message) (name, typ string) {
	switch {
	case len(m.questions) > 0:
		q := m.questions[0]
		return trimDot(q.name), typeName(q.qtype)
	case len(m.sections[secAnswer]) > 0:
		r := m.sections[secAnswer][0]
		return trimDot(r.name), typeName(r.rtype)
	}
	return "", ""
}

// trimDot removes the trailing dot of a name for display ("." stays).
func trimDot(n string) string {
	if len(n) > 1 && n[len(n)-1] == '.' {
		return n[:len(n)-1]
	}
	return n
}
