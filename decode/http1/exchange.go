package http1

import (
	"fmt"
	"strings"

	"github.com/tapview/tapview/decode"
)

// xch is the parser's bookkeeping for one Exchange.
type xch struct {
	e        *decode.Exchange
	method   string // request method, needed to frame the response (HEAD, CONNECT)
	upgrade  string // protocol the request asked to upgrade to
	reqDone  bool
	respDone bool // the final response is complete
	partial  bool // a message lost bytes
	final    bool // the final publication happened
	dirty    bool // publish as pending at the end of the current call
	orphan   bool // finalise as an orphan once the response completes
	// interimDropped counts 1xx responses past MaxInterim, parsed but
	// not kept.
	interimDropped int
}

// MaxInterim is how many interim (1xx) responses an exchange keeps. Real
// servers send one 100 Continue, a few 103 Early Hints or a 102
// Processing every few seconds of a long operation; a peer sending
// thousands would otherwise grow the exchange, and every publication
// copies its interim list. The rest are counted in the exchange's Error
// when it is finalised.
const MaxInterim = 16

// addInterim keeps m as an interim response of x, or counts it once x
// holds MaxInterim.
func (x *xch) addInterim(m *decode.Message) {
	if len(x.e.Interim) >= MaxInterim {
		x.interimDropped++
		return
	}
	x.e.Interim = append(x.e.Interim, m)
}

func (x *xch) addErr(msg string) {
	switch {
	case x.e.Error == "":
		x.e.Error = msg
	case !strings.Contains(x.e.Error, msg):
		x.e.Error += "; " + msg
	}
}

func (h *handler) newXch(proto string) *xch {
	x := &xch{e: h.c.NewExchange(proto)}
	h.live = append(h.live, x)
	return x
}

// pairRequest attaches a request to the oldest response that arrived
// before it was parsed, or starts a new exchange waiting in the pipeline.
func (h *handler) pairRequest(m *decode.Message) *xch {
	for len(h.early) > 0 {
		x := h.early[0]
		h.early = popFront(h.early)
		if !m.First.IsZero() && x.e.Start.Before(m.First) {
			// Captured before this request was sent: it answers a request
			// the capture missed.
			h.finalize(x, decode.Orphan, "no request seen")
			continue
		}
		x.e.Request, x.e.Start, x.e.Proto = m, m.First, protoName(m.Proto)
		if x.e.Response == nil {
			h.queue = append(h.queue, x)
		}
		return x
	}
	x := h.newXch(protoName(m.Proto))
	x.e.Request, x.e.Start = m, m.First
	h.queue = append(h.queue, x)
	if len(h.queue) > maxQueue {
		old := h.queue[0]
		h.queue = popFront(h.queue)
		h.finalize(old, decode.Orphan, "no response seen (pipeline limit)")
		h.skipResp++
	}
	return x
}

// pairResponse attaches a response (interim or final) to the oldest
// request still waiting, or keeps it until its request arrives.
func (h *handler) pairResponse(m *decode.Message, interim bool) *xch {
	if !interim && h.skipResp > 0 {
		h.skipResp--
		x := h.newXch(protoName(m.Proto))
		x.e.Response, x.e.Start = m, m.First
		x.reqDone, x.orphan = true, true // its request was dropped
		return x
	}
	if len(h.queue) > 0 {
		x := h.queue[0]
		if interim {
			x.addInterim(m)
		} else {
			x.e.Response = m
			h.queue = popFront(h.queue)
		}
		return x
	}
	var x *xch
	if n := len(h.early); n > 0 && h.early[n-1].e.Response == nil {
		x = h.early[n-1]
	} else {
		x = h.newXch(protoName(m.Proto))
		x.e.Start = m.First
		h.early = append(h.early, x)
		if len(h.early) > maxEarly {
			old := h.early[0]
			h.early = popFront(h.early)
			h.finalize(old, decode.Orphan, "no request seen")
		}
	}
	if interim {
		x.addInterim(m)
	} else {
		x.e.Response = m
	}
	return x
}

// orphanEarly gives up on responses captured before the client
// direction's current position: their requests would have been delivered
// by now, so the capture missed them.
func (h *handler) orphanEarly(c2s *side) {
	if len(h.early) == 0 || len(c2s.pend) > 0 || c2s.st == stHold {
		return
	}
	for len(h.early) > 0 && h.early[0].e.Start.Before(c2s.ts) && h.early[0] != h.sides[decode.ServerToClient].x {
		x := h.early[0]
		h.early = popFront(h.early)
		h.finalize(x, decode.Orphan, "no request seen")
	}
}

// settle publishes an exchange as final once both messages are complete.
func (h *handler) settle(x *xch) {
	if x.orphan && x.respDone {
		h.finalize(x, decode.Orphan, "no request seen")
		return
	}
	if x.final || !x.reqDone || !x.respDone || x.e.Request == nil || x.e.Response == nil {
		return
	}
	st := decode.Complete
	if x.partial {
		st = decode.Partial
	}
	h.finalize(x, st, "")
}

// finalize publishes x for the last time.
func (h *handler) finalize(x *xch, st decode.ExchangeState, msg string) {
	if x.final {
		return
	}
	if msg != "" {
		x.addErr(msg)
	}
	if x.interimDropped > 0 {
		x.addErr(fmt.Sprintf("%d more interim responses not kept (limit %d)", x.interimDropped, MaxInterim))
	}
	x.final = true
	x.e.State = st
	h.publish(x)
	for len(h.live) > 0 && h.live[0].final {
		h.live = popFront(h.live)
	}
	if len(h.live) >= h.liveCompact {
		// Exchanges usually finish in order; when one lingers at the
		// front, drop the finished ones behind it (amortised).
		kept := h.live[:0]
		for _, y := range h.live {
			if !y.final {
				kept = append(kept, y)
			}
		}
		clear(h.live[len(kept):])
		h.live = kept
		h.liveCompact = max(256, 2*len(kept))
	}
}

// publish hands x to the Conn (which bumps Version) and marks the
// messages it shares as copy-on-write.
func (h *handler) publish(x *xch) {
	h.c.Publish(x.e)
	for _, s := range h.sides {
		if s.x == x {
			s.shared = true
		}
	}
}

func (h *handler) markDirty(x *xch) {
	if !x.dirty {
		x.dirty = true
		h.dirty = append(h.dirty, x)
	}
}

// flushDirty publishes changed pending exchanges once per call, so a
// request whose headers and body arrive together is published once.
func (h *handler) flushDirty() {
	for i, x := range h.dirty {
		if x.dirty && !x.final {
			h.publish(x)
		}
		x.dirty = false
		h.dirty[i] = nil
	}
	h.dirty = h.dirty[:0]
}

// finishAll gives every exchange still held its final state.
func (h *handler) finishAll(flow decode.FlowState) {
	live := h.live
	h.live = nil
	for _, x := range live {
		if x.final {
			continue
		}
		switch {
		case x.e.Request == nil:
			h.finalize(x, decode.Orphan, "no request seen")
		case x.e.Response == nil && flow == decode.FlowReset:
			h.finalize(x, decode.Reset, "connection reset before the response")
		case x.e.Response == nil:
			h.finalize(x, decode.Orphan, "no response seen")
		case x.partial || !x.reqDone || !x.respDone:
			h.finalize(x, decode.Partial, "")
		default:
			h.finalize(x, decode.Complete, "")
		}
	}
	h.queue, h.early, h.dirty = nil, nil, nil
}

// upgradeTarget is a protocol handler that answers the request which
// asked for the upgrade (HTTP/2: RFC 7540 §3.2 makes it stream 1).
type upgradeTarget interface {
	UpgradeRequest(r *decode.Message)
}

// upgrade hands the connection to the protocol a 101 response switched
// to: the server's bytes after the 101 and the client's after its request
// go to that protocol's handler.
func (h *handler) upgrade(x *xch, m *decode.Message) {
	proto := firstToken(m.HeaderValue("Upgrade"))
	if proto == "" {
		proto = x.upgrade
	}
	var name string
	switch proto {
	case "h2c":
		name = "h2"
	case "websocket":
		name = "ws"
	}
	var next decode.StreamHandler
	if name != "" {
		next = h.c.Handoff(name)
	}
	if next == nil {
		h.c.Note(fmt.Sprintf("http1: connection switched to %q, not decoded", proto))
		h.stopBoth()
		return
	}
	h.next = next
	if u, ok := next.(upgradeTarget); ok && x.e.Request != nil {
		r := *x.e.Request
		u.UpgradeRequest(&r)
	}
	h.sides[decode.ServerToClient].st = stHandoff
	c2s := h.sides[decode.ClientToServer]
	switch {
	case c2s.st == stHold:
		h.holdFor = nil
		c2s.st = stHandoff
		if len(c2s.pend) > 0 {
			next.Data(decode.ClientToServer, c2s.pend, c2s.ts)
		}
		c2s.pend = nil
	case x.e.Request == nil || c2s.msg != nil:
		// The upgrade request itself is not parsed yet.
		c2s.handoffAfter = true
	default:
		c2s.st = stHandoff
		if len(c2s.pend) > 0 {
			next.Data(decode.ClientToServer, c2s.pend, c2s.ts)
		}
		c2s.pend = nil
	}
}

// stopBoth stops parsing: the connection carries a tunnel or a protocol
// this decoder does not follow.
func (h *handler) stopBoth() {
	h.holdFor = nil
	for _, s := range h.sides {
		s.st = stStopped
		if !s.onPend {
			// A side whose pend is being parsed right now drops it when
			// its parse returns.
			s.skipped += int64(len(s.pend))
			s.pend = nil
		}
	}
}

// popFront drops the first element, clearing its slot so the backing
// array does not keep a finished exchange (and its bodies) alive. A queue
// that becomes empty keeps its backing array from the start, so the next
// append reuses it: on a keep-alive connection the queues are mostly one
// element long, and reslicing past the front would make nearly every
// append allocate.
func popFront(q []*xch) []*xch {
	q[0] = nil
	if len(q) == 1 {
		return q[:0]
	}
	return q[1:]
}
