package mesh

import (
	"net/netip"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// Defaults of Options fields left zero.
const (
	// DefaultHold is how long (capture time) a network-leg exchange that
	// is not paired yet waits before the default output shows it.
	DefaultHold = 2 * time.Second
	// linkWindow is how far apart in time the two legs of one request may
	// start; the sidecar forwards within milliseconds.
	linkWindow = 2 * time.Second
	// flowLinger keeps an ended flow's state so requests finishing just
	// after their connection can still be paired with it.
	flowLinger = time.Minute
	// liveLinger keeps an ended flow among the link candidates.
	liveLinger = 10 * time.Second
	// sweepEvery paces state cleanup (capture time).
	sweepEvery = time.Second
	// Caps on state.
	maxFlows = 1 << 16
	maxLive  = 4096
	maxHeld  = 4096
	maxExs   = 1 << 16
)

// limits are the caps a Labeler applies. They are fields rather than the
// constants alone so that tests can make them small enough to be reached
// often by a few hundred random events.
type limits struct {
	flows, live, held int
}

var defaultLimits = limits{flows: maxFlows, live: maxLive, held: maxHeld}

// Options configure a Labeler.
type Options struct {
	// Pod is what the Kubernetes API says about the captured pod; nil
	// means unknown: the sidecar, its redirect ports and the pod's
	// addresses are inferred from the traffic.
	Pod *PodInfo
	// All receives every labelled flow and exchange, network-leg
	// duplicates included, for a view that shows both legs; nil keeps
	// none.
	All decode.Output
	// Hold bounds how long a network-leg exchange waits to be paired
	// before the default output shows it; 0 means DefaultHold.
	Hold time.Duration
}

// PacketDecoder is what a Wire hands packets on to (the TCP decoder).
type PacketDecoder interface {
	Packet(p *sources.Packet)
}

// Labeler is a decode.Output that labels flows and exchanges with their
// mesh leg and direction, links each app-leg request to the network-leg
// connection that carried it, and passes on copies: everything to
// Options.All, and to its output each request once (network-leg
// duplicates of app-leg exchanges are left out). Use it from the
// decoder's goroutine only.
type Labeler struct {
	out, all decode.Output
	pod      podView
	hold     time.Duration

	now, swept time.Time // latest capture time of any source, paces sweeps
	clocks     map[string]time.Time
	flows      map[uint64]*flowState
	// byFirst holds every flow of flows ordered by start (then id, so
	// that eviction is deterministic): eviction takes the oldest without
	// sorting them all. ended holds, per source (each has its own clock),
	// the ended flows ordered by their last packet: a sweep looks only at
	// those whose linger is over.
	byFirst *indexHeap[*flowState]
	ended   endedHeaps[*flowState]
	live    []*flowState // flows that may still be paired, oldest first
	link    linker
	exs     map[uint64]*exState
	held    []uint64
	stats   Stats
	lim     limits
	// wireTold is set once the Wire was told a sidecar is known.
	wireTold bool
}

// Stats counts what a Labeler did, for tests and the status line.
type Stats struct {
	AppFlows, NetworkFlows int64 // flows labelled (each counted once)
	Linked                 int64 // app-leg exchanges paired with a network flow
	Duplicates             int64 // network-leg exchanges hidden as duplicates
	Released               int64 // held exchanges shown unpaired after Hold
}

// flowState is what the Labeler remembers of a flow.
type flowState struct {
	id           uint64
	source       string
	ep           endpoints
	svc          Service
	meshSvc      bool
	leg, dir     string
	first, last  time.Time
	ended        bool
	linked       uint64
	counted      bool
	orig         netip.AddrPort  // original destination of a redirected connection
	origP        *netip.AddrPort // the same for published copies, nil when none
	bytesS2C     int64
	decoded      bool         // its requests are decoded (plaintext, or TLS with keys)
	cur          *decode.Flow // latest labelled copy
	inLive       bool
	exchangeSeen bool
	// Positions in the Labeler's byFirst heap and in its ended heap for
	// endSrc (-1: in none).
	firstPos, endPos int
	endSrc           string
}

// exState follows one exchange until its final publication.
type exState struct {
	linked uint64
	shown  bool // published to the default output
	held   bool
	heldAt time.Time
	source string
	latest *decode.Exchange
}

// NewLabeler returns a Labeler publishing to out.
func NewLabeler(out decode.Output, opts Options) *Labeler {
	hold := opts.Hold
	if hold <= 0 {
		hold = DefaultHold
	}
	return &Labeler{
		out:     out,
		all:     opts.All,
		pod:     newPodView(opts.Pod),
		hold:    hold,
		flows:   make(map[uint64]*flowState),
		byFirst: newIndexHeap(func(st *flowState) *int { return &st.firstPos }),
		ended: newEndedHeaps(func(st *flowState) *int { return &st.endPos },
			func(st *flowState) *string { return &st.endSrc }),
		exs:    make(map[uint64]*exState),
		clocks: make(map[string]time.Time),
		link:   newLinker(),
		lim:    defaultLimits,
	}
}

// Wire returns the packet stage of this Labeler, handing packets on to
// next: put it in front of the TCP decoder, so the Labeler sees
// connections that iptables redirected as one (see Wire) and links
// requests by packet timing. Call it once, before decoding.
func (l *Labeler) Wire(next PacketDecoder) *Wire {
	w := NewWire(next)
	if l.pod.mesh {
		w.Evidence()
	}
	l.link.wire = w
	return w
}

// AtOrdinal is told by the decoder lanes' merge which packet ordinal it
// publishes the events of next: the Wire records timing up to there.
func (l *Labeler) AtOrdinal(ord uint64) {
	if l.link.wire != nil {
		l.link.wire.CatchUp(ord)
	}
}

// env is what linking reads and updates.
func (l *Labeler) env() linkEnv {
	return linkEnv{live: l.live, flows: l.flows, exs: l.exs, stats: &l.stats}
}

// origOf asks the Wire for the original destination of a redirected
// connection.
func (l *Labeler) origOf(f *decode.Flow) netip.AddrPort {
	if l.link.wire == nil {
		return netip.AddrPort{}
	}
	orig, _ := l.link.wire.Orig(f.Source, f.Client, f.Server)
	return orig
}

// meshSeen tells the Wire once a sidecar is known, so that it starts
// recording the timing linking needs.
func (l *Labeler) meshSeen() {
	if l.pod.mesh && !l.wireTold && l.link.wire != nil {
		l.wireTold = true
		l.link.wire.Evidence()
	}
}

// Meshed reports whether a sidecar is known or was seen.
func (l *Labeler) Meshed() bool { return l.pod.mesh }

// Stats returns the counters so far. Call it from the decoder's
// goroutine, or after decoding ended.
func (l *Labeler) Stats() Stats { return l.stats }

// Note passes a source's status on to both outputs.
func (l *Labeler) Note(s sources.Status) {
	l.out.Note(s)
	if l.all != nil {
		l.all.Note(s)
	}
}

// Flow labels f and publishes the copy.
func (l *Labeler) Flow(f *decode.Flow) {
	l.advance(f.Source, f.Last)
	if !l.pod.mesh && l.plainFlow(f) {
		return
	}
	st := l.flows[f.ID]
	if st == nil {
		st = &flowState{id: f.ID, firstPos: -1, endPos: -1}
		l.flows[f.ID] = st
	}
	prevFirst, prevLast := st.first, st.last
	if !st.orig.IsValid() {
		if st.orig = l.origOf(f); st.orig.IsValid() {
			o := st.orig // its own allocation: copies must not keep st alive
			st.origP = &o
		}
	}
	st.bytesS2C, st.decoded = f.BytesS2C, carriesExchanges(f)
	st.ep = flowEndpoints(f, st.orig)
	st.svc, st.meshSvc = ParseSNI(st.ep.sni)
	st.first, st.last, st.source = f.First, f.Last, f.Source
	st.ended = flowEnded(f)
	l.track(st, prevFirst, prevLast)
	l.pod.observe(st.ep)
	l.meshSeen()
	st.leg, st.dir = l.pod.classify(st.ep)
	if !st.counted && st.leg != "" {
		st.counted = true
		if st.leg == decode.LegApp {
			l.stats.AppFlows++
		} else {
			l.stats.NetworkFlows++
		}
	}
	if l.pod.mesh && !st.inLive && !st.ended {
		l.addLive(st)
	}
	if l.pod.mesh && st.linked == 0 {
		if other := pairFlow(l.live, st); other != nil {
			st.linked, other.linked = other.id, st.id
			l.republish(other)
		}
	}
	// Always a copy: it is kept (st.cur), and f may be reused once Flow
	// returns (CopiesFlows).
	cp := *f
	cp.Leg, cp.Direction, cp.Linked, cp.OrigDst = st.leg, st.dir, st.linked, st.origP
	c := &cp
	st.cur = c
	l.out.Flow(c)
	if l.all != nil {
		l.all.Flow(c)
	}
	l.sweep()
}

// CopiesFlows says whether the Labeler and what it publishes to keep no
// reference to a flow it is given once Flow returns, so the decoder may
// publish flows from memory it reuses: the Labeler keeps copies only,
// and passes f itself on while no sidecar is known.
func (l *Labeler) CopiesFlows() bool {
	return decode.CopiesFlows(l.out) && (l.all == nil || decode.CopiesFlows(l.all))
}

// plainFlow publishes f while no sidecar is known, and reports whether it
// did. Without a sidecar a flow has no leg, is never a link candidate and
// is never counted, so no per-flow state is kept: a capture of 200k
// half-open connections on a node without a mesh would otherwise pay a
// map entry and two heap places per flow for nothing. Evidence of a
// sidecar in f itself switches to the full path (false), and flows
// republished after that get their state then, as a flow seen first.
func (l *Labeler) plainFlow(f *decode.Flow) bool {
	ep := flowEndpoints(f, l.origOf(f))
	if l.pod.observe(ep); l.pod.mesh {
		l.meshSeen()
		return false
	}
	_, dir := l.pod.classify(ep)
	c := f
	if f.Leg != "" || f.Direction != dir || f.Linked != 0 {
		cp := *f
		cp.Leg, cp.Direction, cp.Linked = "", dir, 0
		c = &cp
	}
	l.out.Flow(c)
	if l.all != nil {
		l.all.Flow(c)
	}
	l.sweep()
	return true
}

// flowEndpoints is what classifying and linking read of a flow: its ends,
// the original destination of a redirect, and the TLS names (the SNI of
// the ClientHello, else the handshake's).
func flowEndpoints(f *decode.Flow, orig netip.AddrPort) endpoints {
	ep := endpoints{client: f.Client, server: f.Server, sni: f.SNI, orig: orig}
	if f.TLS != nil {
		ep.alpn = f.TLS.ALPN
		if ep.sni == "" {
			ep.sni = f.TLS.SNI
		}
	}
	return ep
}

// republish sends a flow again after a link was found for it.
func (l *Labeler) republish(st *flowState) {
	if st.cur == nil {
		return
	}
	c := *st.cur
	c.Linked = st.linked
	st.cur = &c
	l.out.Flow(&c)
	if l.all != nil {
		l.all.Flow(&c)
	}
}

// Exchange labels e, pairs it with the other leg and publishes the copy.
func (l *Labeler) Exchange(e *decode.Exchange) {
	l.advance(e.Source, e.End)
	var leg, dir string
	if st := l.flows[e.FlowID]; st != nil {
		leg, dir = st.leg, st.dir
		st.exchangeSeen = true
	} else {
		ep := endpoints{client: e.Client, server: e.Server, sni: e.SNI}
		l.pod.observe(ep)
		l.meshSeen()
		leg, dir = l.pod.classify(ep)
	}
	if !l.pod.mesh { // nothing to pair or hide
		if e.Leg != leg || e.Direction != dir {
			c := *e
			c.Leg, c.Direction = leg, dir
			e = &c
		}
		if l.all != nil {
			l.all.Exchange(e)
		}
		l.out.Exchange(e)
		l.sweep()
		return
	}
	c := *e
	c.Leg, c.Direction = leg, dir
	xs := l.exs[e.ID]
	if xs == nil {
		// A later version without state was published before (before the
		// sidecar was seen, or state was dropped): it is on show already.
		xs = &exState{shown: e.Version > 1}
		if len(l.exs) >= maxExs {
			clear(l.exs) // pairing state lost, never correctness of data
		}
		l.exs[e.ID] = xs
	}
	l.link.exchange(l.env(), &c, xs)
	c.Linked = xs.linked
	if l.all != nil {
		l.all.Exchange(&c)
	}
	l.route(&c, xs)
	if c.State.Final() {
		delete(l.exs, e.ID)
	}
	l.sweep()
}

// route decides whether the default output sees an exchange now, later
// or never (a paired network-leg duplicate).
func (l *Labeler) route(c *decode.Exchange, xs *exState) {
	if !l.pod.mesh || c.Leg != decode.LegNetwork || xs.shown {
		xs.shown = true
		l.out.Exchange(c)
		return
	}
	if c.Linked != 0 {
		if c.State.Final() {
			l.stats.Duplicates++
		}
		xs.held, xs.latest = false, nil
		return
	}
	if c.State.Final() || (xs.held && l.clocks[xs.source].Sub(xs.heldAt) >= l.hold) {
		xs.held, xs.latest, xs.shown = false, nil, true
		l.out.Exchange(c)
		return
	}
	if !xs.held {
		xs.held, xs.heldAt, xs.source = true, l.clocks[c.Source], c.Source
		l.held = append(l.held, c.ID)
	}
	xs.latest = c
}

// advance moves the capture clock of a source. Each source keeps its own
// clock, so files from different years in one session do not age each
// other's state.
func (l *Labeler) advance(source string, t time.Time) {
	if t.After(l.clocks[source]) {
		l.clocks[source] = t
	}
	if t.After(l.now) {
		l.now = t
	}
}

func flowEnded(f *decode.Flow) bool {
	switch f.State {
	case decode.FlowClosed, decode.FlowReset, decode.FlowTimedOut:
		return true
	}
	return false
}

// track keeps st's places in the heaps in step with its start, last
// packet, source and state, just set from a publication.
func (l *Labeler) track(st *flowState, prevFirst, prevLast time.Time) {
	if st.firstPos < 0 {
		l.byFirst.push(st, st.first, st.id)
	} else if !st.first.Equal(prevFirst) {
		l.byFirst.fix(st, st.first)
	}
	l.ended.update(st, st.id, st.ended, st.source, st.last, prevLast)
}

// forget drops a flow's state.
func (l *Labeler) forget(st *flowState) {
	delete(l.flows, st.id)
	l.byFirst.remove(st)
	l.ended.remove(st)
}

// addLive appends st to the link candidates, dropping the oldest when
// full. Dropping reslices from the front (append later moves the rest to
// a new array now and then), so an add costs O(1) amortised where
// shifting every candidate down cost O(maxLive).
func (l *Labeler) addLive(st *flowState) {
	if len(l.live) >= l.lim.live {
		l.live[0].inLive = false
		l.live[0] = nil
		l.live = l.live[1:]
	}
	st.inLive = true
	l.live = append(l.live, st)
}

// sweep releases held exchanges whose wait is over and forgets old flows,
// at most once per sweepEvery of capture time. The held and live lists
// are walked whole (both are capped); flows are not: only those whose
// linger is over, and the oldest beyond the cap, are visited.
func (l *Labeler) sweep() {
	if l.now.Sub(l.swept) < sweepEvery && len(l.held) < l.lim.held {
		return
	}
	l.swept = l.now
	keep := l.held[:0]
	for i, id := range l.held {
		xs := l.exs[id]
		if xs == nil || !xs.held {
			continue
		}
		if l.clocks[xs.source].Sub(xs.heldAt) >= l.hold || len(l.held)-i > l.lim.held/2 {
			xs.held, xs.shown = false, true
			l.stats.Released++
			l.out.Exchange(xs.latest)
			xs.latest = nil
			continue
		}
		keep = append(keep, id)
	}
	l.held = keep
	live := l.live[:0]
	for _, st := range l.live {
		if st.ended && l.clocks[st.source].Sub(st.last) > liveLinger {
			st.inLive = false
			continue
		}
		live = append(live, st)
	}
	clear(l.live[len(live):])
	l.live = live
	l.ended.expire(func(src string) time.Time { return l.clocks[src] }, flowLinger, func(st *flowState) {
		delete(l.flows, st.id)
		l.byFirst.remove(st)
	})
	if len(l.flows) > l.lim.flows {
		l.evictOldest(len(l.flows) - l.lim.flows*3/4)
	}
}

// evictOldest forgets the n flows that started first.
func (l *Labeler) evictOldest(n int) {
	for ; n > 0 && l.byFirst.len() > 0; n-- {
		st, _ := l.byFirst.min()
		l.forget(st)
	}
}
