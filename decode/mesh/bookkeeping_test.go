package mesh

import (
	"fmt"
	"math/rand"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// tape records what an output received, as values, so that two runs can
// be compared field by field.
type tape struct{ items []any }

func (t *tape) Flow(f *decode.Flow)         { t.items = append(t.items, *f) }
func (t *tape) Exchange(e *decode.Exchange) { t.items = append(t.items, *e) }
func (t *tape) Note(sources.Status)         {}

// tee hands everything to both outputs.
type tee [2]decode.Output

func (t tee) Flow(f *decode.Flow)         { t[0].Flow(f); t[1].Flow(f) }
func (t tee) Exchange(e *decode.Exchange) { t[0].Exchange(e); t[1].Exchange(e) }
func (t tee) Note(sources.Status)         {}

// endpointKind is one way a connection of a meshed pod looks on the wire;
// together they give app and network legs both ways, mesh and plain SNIs
// (pairFlow) and services for linkApp and linkNetwork.
type endpointKind struct {
	client, server string // client port is replaced by a per-flow one
	sni            string
}

var kinds = []endpointKind{
	{"10.1.2.3:0", "127.0.0.1:15001", ""},                                                  // app leg, outbound redirect
	{"127.0.0.1:0", "127.0.0.1:8080", ""},                                                  // app leg, no direction
	{"10.1.2.3:0", "10.0.0.5:8080", "outbound_.8080_._.reviews.default.svc.cluster.local"}, // network, mesh SNI
	{"10.1.2.3:0", "198.51.100.1:80", ""},                                                  // network, plain
	{"10.1.2.3:0", "127.0.0.1:15001", "api.github.com"},                                    // passthrough, app leg
	{"10.1.2.3:0", "140.82.112.6:443", "api.github.com"},                                   // passthrough, network leg
	{"127.0.0.6:0", "10.1.2.3:8080", ""},                                                   // app leg, inbound
	{"10.0.0.9:0", "10.1.2.3:8080", "inbound_.8080_._.reviews.default.svc.cluster.local"},  // network, inbound
}

type genFlow struct {
	f     decode.Flow
	ended bool
}

type genEx struct {
	e    decode.Exchange
	done bool
}

// events generates a random but plausible stream of flow and exchange
// publications from two sources with clocks years apart. Capture time
// moves in steps of whole milliseconds and a flow starts at such a step
// plus its id in nanoseconds, so no two flows share a start: the oracle
// sorts by start without a tie-break, and ties would make it
// nondeterministic.
type events struct {
	r      *rand.Rand
	clocks map[string]time.Time
	flows  []*genFlow
	exs    []*genEx
	nextID uint64
}

func newEvents(seed int64) *events {
	return &events{r: rand.New(rand.NewSource(seed)), clocks: map[string]time.Time{
		"a": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		"b": time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC),
	}}
}

func (g *events) tick(src string) time.Time {
	var step time.Duration
	switch p := g.r.Intn(100); {
	case p < 70:
		step = time.Duration(g.r.Intn(300)) * time.Millisecond
	case p < 95:
		step = time.Duration(1000+g.r.Intn(4000)) * time.Millisecond
	default: // past the live and flow lingers
		step = time.Duration(11+g.r.Intn(60)) * time.Second
	}
	g.clocks[src] = g.clocks[src].Add(step)
	return g.clocks[src]
}

func (g *events) pick() *genFlow {
	// Mostly recent flows, so that some stay open for long.
	n := len(g.flows)
	i := n - 1 - g.r.Intn(min(n, 40))
	if g.r.Intn(5) == 0 {
		i = g.r.Intn(n)
	}
	return g.flows[i]
}

func (g *events) flow() *decode.Flow {
	var gf *genFlow
	if len(g.flows) == 0 || g.r.Intn(10) < 3 {
		g.nextID++
		k := kinds[g.r.Intn(len(kinds))]
		src := []string{"a", "b"}[g.r.Intn(2)]
		c := netip.MustParseAddrPort(k.client)
		gf = &genFlow{f: decode.Flow{ID: g.nextID, Source: src, Transport: "tcp",
			Client: netip.AddrPortFrom(c.Addr(), uint16(20000+g.nextID%40000)),
			Server: netip.MustParseAddrPort(k.server), SNI: k.sni}}
		t := g.tick(src)
		gf.f.First = t.Add(time.Duration(g.nextID))
		g.flows = append(g.flows, gf)
	} else {
		gf = g.pick()
		if g.r.Intn(100) == 0 { // not seen in practice, but nothing forbids it
			gf.f.Source = map[string]string{"a": "b", "b": "a"}[gf.f.Source]
		}
		g.tick(gf.f.Source)
		if g.r.Intn(50) == 0 { // a start that moves (the decoder saw an earlier packet)
			gf.f.First = g.clocks[gf.f.Source].Add(time.Duration(gf.f.ID))
		}
	}
	gf.f.Last = g.clocks[gf.f.Source]
	switch p := g.r.Intn(100); {
	case gf.ended && p < 90:
	case p < 60:
		gf.f.State, gf.ended = decode.FlowOpen, false
	default:
		gf.f.State, gf.ended = []decode.FlowState{decode.FlowClosed, decode.FlowReset, decode.FlowTimedOut}[g.r.Intn(3)], true
	}
	f := gf.f
	return &f
}

func (g *events) exchange() *decode.Exchange {
	var ge *genEx
	var open []*genEx
	for _, x := range g.exs[max(0, len(g.exs)-20):] {
		if !x.done {
			open = append(open, x)
		}
	}
	if len(open) == 0 || g.r.Intn(3) == 0 {
		gf := g.pick()
		g.nextID++
		ge = &genEx{e: decode.Exchange{ID: g.nextID, FlowID: gf.f.ID, Source: gf.f.Source, Proto: "http/1.1",
			Client: gf.f.Client, Server: gf.f.Server, SNI: gf.f.SNI, State: decode.Pending}}
		if g.r.Intn(20) == 0 {
			ge.e.FlowID = 1 << 40 // a flow never published
		}
		if g.r.Intn(10) != 0 {
			ge.e.Request = &decode.Message{Method: []string{"GET", "POST"}[g.r.Intn(2)],
				Target: []string{"/a", "/b"}[g.r.Intn(2)],
				Host:   []string{"reviews:8080", "reviews.default.svc.cluster.local", "api.github.com", ""}[g.r.Intn(4)]}
		}
		now := g.tick(ge.e.Source)
		ge.e.Start = now.Add(-time.Duration(g.r.Intn(3000)) * time.Millisecond)
		g.exs = append(g.exs, ge)
	} else {
		ge = open[g.r.Intn(len(open))]
		g.tick(ge.e.Source)
	}
	ge.e.Version++
	ge.e.End = g.clocks[ge.e.Source]
	if g.r.Intn(3) == 0 {
		ge.e.State, ge.done = decode.Complete, true
	}
	e := ge.e
	return &e
}

// liveIDs lists the link candidates in order.
func liveIDs(live []*flowState) []uint64 {
	ids := make([]uint64, len(live))
	for i, st := range live {
		ids[i] = st.id
	}
	return ids
}

func flowIDs[V any](m map[uint64]V) []uint64 {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// checkHeap verifies the heap order, that every item knows its place and
// that the keys stored in the heap are the item's current ones.
func checkHeap[T any](t *testing.T, what string, h *indexHeap[T], key func(T) (time.Time, uint64)) {
	t.Helper()
	for i := range h.items {
		e := &h.items[i]
		if *h.pos(e.x) != i {
			t.Fatalf("%s: item %d believes it is at %d", what, i, *h.pos(e.x))
		}
		if i > 0 && e.less(&h.items[(i-1)/heapArity]) {
			t.Fatalf("%s: item %d is smaller than its parent", what, i)
		}
		if at, tie := key(e.x); !at.Equal(e.at) || tie != e.tie {
			t.Fatalf("%s: item %d has key %v/%d in the heap, %v/%d in fact", what, i, e.at, e.tie, at, tie)
		}
	}
}

// TestLabelerMatchesOracle feeds the same random publications to the
// Labeler and to the copy of the Labeler before its bookkeeping moved to
// heaps (oracle_test.go), with caps small enough to be hit all the time,
// and requires identical flow states, link candidates (in order: link
// ties go to the first candidate), default and both-legs outputs and
// stats. The External fed by the new Labeler is checked the same way
// against the old sweep (see oldExternalFlows): which flows it remembers
// is the only thing its sweep decides.
func TestLabelerMatchesOracle(t *testing.T) {
	seeds := 150
	if testing.Short() || raceEnabled {
		seeds = 30
	}
	var evicted, expired, liveDropped, xEvicted, xExpired int
	var sum Stats
	for seed := int64(1); seed <= int64(seeds); seed++ {
		g := newEvents(seed)
		lim := limits{flows: 8 + g.r.Intn(40), live: 2 + g.r.Intn(10), held: 2 + g.r.Intn(10)}
		opts := Options{Hold: time.Duration(500+g.r.Intn(2500)) * time.Millisecond}
		if seed%2 == 0 { // else the sidecar is inferred from the traffic
			opts.Pod = &PodInfo{IP: netip.MustParseAddr("10.1.2.3"), Sidecar: true}
		}
		// The new Labeler's default output reaches newOut through an
		// External, which passes everything on unchanged.
		var newOut, newAll, oldOut, oldAll tape
		x := NewExternal(&newOut, ExternalOptions{})
		x.maxFlows = 4 + g.r.Intn(30)
		shadow := newOldExternalFlows(x.maxFlows)
		nopts, oopts := opts, opts
		nopts.All, oopts.All = &newAll, &oldAll
		nl := NewLabeler(tee{x, shadow}, nopts)
		ol := newOldLabeler(&oldOut, oopts)
		nl.lim, ol.lim = lim, lim
		for step := 0; step < 1000; step++ {
			before, beforeLive := len(ol.flows), len(ol.live)
			if len(g.flows) > 0 && g.r.Intn(3) == 0 {
				e := g.exchange()
				nl.Exchange(e)
				ol.Exchange(e)
			} else {
				f := g.flow()
				nl.Flow(f)
				ol.Flow(f)
			}
			if len(ol.flows) < before {
				if before > lim.flows {
					evicted++
				} else {
					expired++
				}
			}
			if len(ol.live) < beforeLive {
				liveDropped++
			}
			where := fmt.Sprintf("seed %d step %d", seed, step)
			if a, b := flowIDs(nl.flows), flowIDs(ol.flows); !slices.Equal(a, b) {
				t.Fatalf("%s: flows %v, oracle %v", where, a, b)
			}
			if a, b := liveIDs(nl.live), liveIDs(ol.live); !slices.Equal(a, b) {
				t.Fatalf("%s: live %v, oracle %v", where, a, b)
			}
			if a, b := flowIDs(x.flows), flowIDs(shadow.cur); !slices.Equal(a, b) {
				t.Fatalf("%s: External flows %v, old sweep %v", where, a, b)
			}
			if len(newOut.items) != len(oldOut.items) || len(newAll.items) != len(oldAll.items) {
				t.Fatalf("%s: %d/%d published, oracle %d/%d", where, len(newOut.items), len(newAll.items), len(oldOut.items), len(oldAll.items))
			}
			checkBook(t, where, nl, x)
		}
		if !reflect.DeepEqual(newOut.items, oldOut.items) || !reflect.DeepEqual(newAll.items, oldAll.items) {
			t.Fatalf("seed %d: published values differ from the oracle's", seed)
		}
		if nl.stats != ol.stats {
			t.Fatalf("seed %d: stats %+v, oracle %+v", seed, nl.stats, ol.stats)
		}
		sum.AppFlows += ol.stats.AppFlows
		sum.NetworkFlows += ol.stats.NetworkFlows
		sum.Linked += ol.stats.Linked
		sum.Released += ol.stats.Released
		sum.Duplicates += ol.stats.Duplicates
		xEvicted += shadow.evicted
		xExpired += shadow.expired
	}
	// The comparison means something only if the paths were taken.
	report := fmt.Sprintf("Labeler: sweeps that evicted %d, that expired flows %d, live drops %d, %+v; External: flows evicted %d, expired %d",
		evicted, expired, liveDropped, sum, xEvicted, xExpired)
	t.Log(report)
	if evicted == 0 || expired == 0 || liveDropped == 0 || sum.Linked == 0 || sum.Released == 0 || sum.Duplicates == 0 || xEvicted == 0 || xExpired == 0 {
		t.Errorf("a path was never exercised: %s", report)
	}
}

// checkBook verifies the heaps against the maps they index.
func checkBook(t *testing.T, where string, l *Labeler, x *External) {
	t.Helper()
	byFirst := func(st *flowState) (time.Time, uint64) { return st.first, st.id }
	byLast := func(st *flowState) (time.Time, uint64) { return st.last, st.id }
	checkHeap(t, where+": byFirst", l.byFirst, byFirst)
	if l.byFirst.len() != len(l.flows) {
		t.Fatalf("%s: byFirst holds %d of %d flows", where, l.byFirst.len(), len(l.flows))
	}
	n := 0
	for src, h := range l.ended.bySrc {
		checkHeap(t, where+": ended "+src, h, byLast)
		for _, e := range h.items {
			st := e.x
			if !st.ended || st.source != src || l.flows[st.id] != st {
				t.Fatalf("%s: flow %d in the ended heap of %q: ended %v, source %q", where, st.id, src, st.ended, st.source)
			}
		}
		n += h.len()
	}
	ended := 0
	for _, st := range l.flows {
		if st.ended {
			ended++
		}
	}
	if n != ended {
		t.Fatalf("%s: %d ended flows, %d in the heaps", where, ended, n)
	}
	checkHeap(t, where+": External byID", x.byID, func(ef *extFlow) (time.Time, uint64) { return time.Time{}, ef.id })
	if x.byID.len() != len(x.flows) {
		t.Fatalf("%s: External byID holds %d of %d flows", where, x.byID.len(), len(x.flows))
	}
	xEnded, xHeld := 0, 0
	for _, ef := range x.flows {
		if flowEnded(ef.cur) {
			xEnded++
		}
	}
	for _, h := range x.ended.bySrc {
		xHeld += h.len()
	}
	if xEnded != xHeld {
		t.Fatalf("%s: External has %d ended flows, %d in the heaps", where, xEnded, xHeld)
	}
	for src, h := range x.ended.bySrc {
		checkHeap(t, where+": External ended "+src, h, func(ef *extFlow) (time.Time, uint64) { return ef.cur.Last, ef.id })
		for _, e := range h.items {
			if !flowEnded(e.x.cur) || e.x.cur.Source != src || x.flows[e.x.id] != e.x {
				t.Fatalf("%s: External flow %d in the ended heap of %q: %s, source %q", where, e.x.id, src, e.x.cur.State, e.x.cur.Source)
			}
		}
	}
}

// oldExternalFlows follows, from what External receives, which flows
// External remembered before its sweep used heaps: the same clocks and
// pacing, the old sweep's walk over every flow and sort of every id.
type oldExternalFlows struct {
	cur              map[uint64]*decode.Flow
	now, swept       time.Time
	clocks           map[string]time.Time
	max              int
	evicted, expired int
}

func newOldExternalFlows(max int) *oldExternalFlows {
	return &oldExternalFlows{cur: map[uint64]*decode.Flow{}, clocks: map[string]time.Time{}, max: max}
}

func (o *oldExternalFlows) advance(source string, t time.Time) {
	if t.After(o.clocks[source]) {
		o.clocks[source] = t
	}
	if t.After(o.now) {
		o.now = t
	}
}

func (o *oldExternalFlows) Flow(f *decode.Flow) {
	o.advance(f.Source, f.Last)
	o.cur[f.ID] = f
	if o.now.Sub(o.swept) < sweepEvery && len(o.cur) <= o.max {
		return
	}
	o.swept = o.now
	for id, f := range o.cur {
		if flowEnded(f) && o.clocks[f.Source].Sub(f.Last) > flowLinger {
			delete(o.cur, id)
			o.expired++
		}
	}
	if len(o.cur) > o.max {
		ids := make([]uint64, 0, len(o.cur))
		for id := range o.cur {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids[:len(ids)-o.max*3/4] {
			delete(o.cur, id)
			o.evicted++
		}
	}
}

func (o *oldExternalFlows) Exchange(e *decode.Exchange) {
	if e.State.Final() {
		o.advance(e.Source, e.End)
	}
}

func (o *oldExternalFlows) Note(sources.Status) {}
