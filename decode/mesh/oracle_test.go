package mesh

// This file keeps the Labeler as it was before its flow bookkeeping moved
// to heaps (commit 8662ba4: a walk over every flow on each sweep, a sort
// of every flow to evict, an O(maxLive) shift per candidate added), with
// only its caps read from a limits value. It is the oracle of
// TestLabelerMatchesOracle, so it must not be "improved": it defines the
// behaviour the new bookkeeping has to reproduce. Comments were dropped;
// see labeler.go and link.go for them. Linking itself (which exchange
// goes with which flow, issue 18) is not bookkeeping: both use link.go's
// linker over their own live lists and exchange states.

import (
	"slices"
	"time"

	"github.com/tapview/tapview/decode"
)

type oldLabeler struct {
	out, all decode.Output
	pod      podView
	hold     time.Duration

	now, swept time.Time // latest capture time of any source, paces sweeps
	clocks     map[string]time.Time
	flows      map[uint64]*flowState
	live       []*flowState // flows that may still be paired
	link       linker
	exs        map[uint64]*exState
	held       []uint64
	stats      Stats
	lim        limits
}

func newOldLabeler(out decode.Output, opts Options) *oldLabeler {
	hold := opts.Hold
	if hold <= 0 {
		hold = DefaultHold
	}
	return &oldLabeler{
		out:    out,
		all:    opts.All,
		pod:    newPodView(opts.Pod),
		hold:   hold,
		flows:  make(map[uint64]*flowState),
		exs:    make(map[uint64]*exState),
		clocks: make(map[string]time.Time),
		link:   newLinker(),
		lim:    defaultLimits,
	}
}

func (l *oldLabeler) Flow(f *decode.Flow) {
	l.advance(f.Source, f.Last)
	// Until a sidecar is known no flow state is kept (one change from the
	// first version: flows seen before the sidecar are classified afresh
	// when they next appear, instead of keeping labels from before).
	if !l.pod.mesh {
		ep := endpoints{client: f.Client, server: f.Server, sni: f.SNI}
		if f.TLS != nil {
			ep.alpn = f.TLS.ALPN
			if ep.sni == "" {
				ep.sni = f.TLS.SNI
			}
		}
		if l.pod.observe(ep); !l.pod.mesh {
			cp := *f
			cp.Leg, cp.Linked = "", 0
			_, cp.Direction = l.pod.classify(ep)
			c := f
			if cp.Leg != f.Leg || cp.Direction != f.Direction || cp.Linked != f.Linked {
				c = &cp
			}
			l.out.Flow(c)
			if l.all != nil {
				l.all.Flow(c)
			}
			l.sweep()
			return
		}
	}
	st := l.flows[f.ID]
	if st == nil {
		st = &flowState{id: f.ID}
		l.flows[f.ID] = st
	}
	st.bytesS2C, st.decoded = f.BytesS2C, carriesExchanges(f)
	st.ep = endpoints{client: f.Client, server: f.Server, sni: f.SNI, orig: st.orig}
	if f.TLS != nil {
		st.ep.alpn = f.TLS.ALPN
		if st.ep.sni == "" {
			st.ep.sni = f.TLS.SNI
		}
	}
	st.svc, st.meshSvc = ParseSNI(st.ep.sni)
	st.first, st.last, st.source = f.First, f.Last, f.Source
	st.ended = flowEnded(f)
	l.pod.observe(st.ep)
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
	c := f // unchanged labels (no mesh): pass the value on without a copy
	if f.Leg != st.leg || f.Direction != st.dir || f.Linked != st.linked || f.OrigDst != st.origP {
		cp := *f
		cp.Leg, cp.Direction, cp.Linked, cp.OrigDst = st.leg, st.dir, st.linked, st.origP
		c = &cp
	}
	st.cur = c
	l.out.Flow(c)
	if l.all != nil {
		l.all.Flow(c)
	}
	l.sweep()
}

func (l *oldLabeler) republish(st *flowState) {
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

func (l *oldLabeler) Exchange(e *decode.Exchange) {
	l.advance(e.Source, e.End)
	var leg, dir string
	if st := l.flows[e.FlowID]; st != nil {
		leg, dir = st.leg, st.dir
		st.exchangeSeen = true
	} else {
		ep := endpoints{client: e.Client, server: e.Server, sni: e.SNI}
		l.pod.observe(ep)
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
		xs = &exState{shown: e.Version > 1}
		if len(l.exs) >= maxExs {
			clear(l.exs) // pairing state lost, never correctness of data
		}
		l.exs[e.ID] = xs
	}
	l.link.exchange(linkEnv{live: l.live, flows: l.flows, exs: l.exs, stats: &l.stats}, &c, xs)
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

func (l *oldLabeler) route(c *decode.Exchange, xs *exState) {
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

func (l *oldLabeler) advance(source string, t time.Time) {
	if t.After(l.clocks[source]) {
		l.clocks[source] = t
	}
	if t.After(l.now) {
		l.now = t
	}
}
func (l *oldLabeler) addLive(st *flowState) {
	if len(l.live) >= l.lim.live {
		l.live[0].inLive = false
		l.live = append(l.live[:0], l.live[1:]...)
	}
	st.inLive = true
	l.live = append(l.live, st)
}

func (l *oldLabeler) sweep() {
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
	for id, st := range l.flows {
		if st.ended && l.clocks[st.source].Sub(st.last) > flowLinger {
			delete(l.flows, id)
		}
	}
	if len(l.flows) > l.lim.flows {
		l.evictOldest(len(l.flows) - l.lim.flows*3/4)
	}
}

func (l *oldLabeler) evictOldest(n int) {
	all := make([]*flowState, 0, len(l.flows))
	for _, st := range l.flows {
		all = append(all, st)
	}
	slices.SortFunc(all, func(a, b *flowState) int { return a.first.Compare(b.first) })
	for _, st := range all[:min(n, len(all))] {
		delete(l.flows, st.id)
	}
}
