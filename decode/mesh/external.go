package mesh

import (
	"container/list"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// DefaultMaxGroups bounds the destinations an External keeps; the least
// recently seen goes first.
const DefaultMaxGroups = 1024

// maxGroupIPs bounds the addresses listed per destination.
const maxGroupIPs = 8

// ExternalOptions configure an External.
type ExternalOptions struct {
	// Pod gives the cluster's CIDRs and the redirect ports; nil means
	// private-range heuristics and Istio's default ports.
	Pod *PodInfo
	// MaxGroups bounds the destinations kept; 0 means DefaultMaxGroups.
	MaxGroups int
	// EgressSuffixes name egress proxies that stand for an external
	// host; nil means DefaultEgressSuffixes.
	EgressSuffixes []string
}

// Group is one external destination: what the pod sent there and what
// became of it. Values returned by External are copies.
type Group struct {
	// Name is the destination as the app named it: Host header, SNI, or
	// the name DNS resolved to the address; the address itself when
	// nothing named it.
	Name string
	// Via is the egress proxy or mesh hop the traffic was sent to instead
	// of the destination itself ("api.github.com.egress.local"), "" when
	// the pod went there directly.
	Via string
	// IPs are the outside addresses contacted or resolved for Name.
	IPs []netip.Addr
	// Requests counts finished exchanges, plus connections that carried
	// none (TLS without keys) once their outcome is known.
	Requests int64
	// Bytes is the payload both ways on the connections to Name.
	Bytes int64
	// Errors counts requests that were blocked, failed or answered 5xx.
	Errors int64
	// Passed, Blocked and Failed split Requests by outcome.
	Passed, Blocked, Failed int64
	// First and Last are the capture times of the first and latest
	// traffic to Name.
	First, Last time.Time
	// Verdict is Blocked when any request was, else Passed when any
	// passed, else Failed, else Pending.
	Verdict Verdict
	// Reason says why the verdict is not a plain pass ("502 from Envoy
	// without an upstream ..."), "" otherwise.
	Reason string
}

type groupState struct {
	Group
	blockWhy, failWhy string
	refs              int // contributing flows and requests
	gen               uint64
	elem              *list.Element
	gone              bool // evicted
}

// extFlow is what External keeps of a flow.
type extFlow struct {
	id      uint64
	cur     *decode.Flow
	host    string // Host of the first exchange on it
	exs     int    // exchanges counted on it
	covered bool   // an app-leg exchange named it as its network leg
	// Its current contribution.
	g       *groupState
	bytes   int64
	counted bool
	out     outcome
	// Positions in External's byID heap and in its ended heap for endSrc
	// (-1: in none).
	idPos, endPos int
	endSrc        string
}

// External is a decode.Output that groups traffic to destinations outside
// the cluster by name, with requests, bytes, errors, first and last seen
// and a verdict, for the external lens and `-o json --external`. It reads
// the leg, direction and link labels a Labeler put on the values (place
// it after one) and hands everything on unchanged. Writes come from the
// decoder's goroutine; Groups may be called from any goroutine.
type External struct {
	next   decode.Output
	sc     scope
	ports  [2]uint16
	egress []string
	max    int

	mu     sync.Mutex
	groups map[string]*groupState
	lru    *list.List
	flows  map[uint64]*extFlow
	// byID holds every flow of flows by id (ids grow with time, so the
	// smallest are the oldest) and ended, per source clock, the ended
	// ones by last packet: a sweep visits only flows it forgets.
	byID     *indexHeap[*extFlow]
	ended    endedHeaps[*extFlow]
	maxFlows int
	dns      *dnsCache
	// meshHosts are the in-cluster services mesh SNIs named, and
	// namespaces the cluster's namespaces PodInfo gave: names that are
	// the cluster's own whatever their last label says.
	meshHosts  map[string]bool
	namespaces []string
	gen        uint64
	evicted    int64
	now        time.Time // latest capture time of any source, paces sweeps
	swept      time.Time
	clocks     map[string]time.Time
}

// NewExternal returns an External passing everything on to next (which
// may be nil).
func NewExternal(next decode.Output, opts ExternalOptions) *External {
	pod := PodInfo{}.withDefaults()
	if opts.Pod != nil {
		pod = opts.Pod.withDefaults()
	}
	x := &External{
		next:   next,
		sc:     scope{cidrs: slices.Clone(pod.ClusterCIDRs)},
		ports:  [2]uint16{pod.InboundPort, pod.OutboundPort},
		egress: opts.EgressSuffixes,
		max:    opts.MaxGroups,
		groups: make(map[string]*groupState),
		lru:    list.New(),
		flows:  make(map[uint64]*extFlow),
		byID:   newIndexHeap(func(ef *extFlow) *int { return &ef.idPos }),
		ended: newEndedHeaps(func(ef *extFlow) *int { return &ef.endPos },
			func(ef *extFlow) *string { return &ef.endSrc }),
		maxFlows:   maxFlows,
		dns:        newDNSCache(),
		clocks:     make(map[string]time.Time),
		meshHosts:  make(map[string]bool),
		namespaces: slices.Clone(pod.Namespaces),
	}
	if x.egress == nil {
		x.egress = DefaultEgressSuffixes()
	}
	if x.max <= 0 {
		x.max = DefaultMaxGroups
	}
	return x
}

// Note passes a status note on.
func (x *External) Note(s sources.Status) {
	if x.next != nil {
		x.next.Note(s)
	}
}

// Flow accounts f's bytes (and, without exchanges, its outcome) to its
// destination and passes it on.
func (x *External) Flow(f *decode.Flow) {
	x.mu.Lock()
	x.advance(f.Source, f.Last)
	ef := x.flows[f.ID]
	if ef == nil {
		ef = &extFlow{id: f.ID, idPos: -1, endPos: -1}
		x.flows[f.ID] = ef
		x.byID.push(ef, time.Time{}, ef.id)
	}
	var prevLast time.Time
	if ef.cur != nil {
		prevLast = ef.cur.Last
	}
	ef.cur = f
	x.learnMeshHost(f)
	x.track(ef, prevLast)
	x.recompute(ef)
	x.sweep()
	x.mu.Unlock()
	if x.next != nil {
		x.next.Flow(f)
	}
}

// Exchange accounts a final exchange to its destination (DNS answers feed
// the name cache instead) and passes it on.
func (x *External) Exchange(e *decode.Exchange) {
	if e.State.Final() {
		x.mu.Lock()
		x.observe(e)
		x.mu.Unlock()
	}
	if x.next != nil {
		x.next.Exchange(e)
	}
}

func (x *External) observe(e *decode.Exchange) {
	x.advance(e.Source, e.End)
	if e.DNS != nil {
		x.dns.add(e.DNS)
		return
	}
	if e.Leg == decode.LegNetwork && e.Linked != 0 {
		return // the app-leg twin counts
	}
	ef := x.flows[e.FlowID]
	if ef != nil {
		ef.exs++
		if ef.host == "" && e.Request != nil {
			ef.host = normalizeName(e.Request.Host)
		}
	}
	if e.Leg == decode.LegApp && e.Linked != 0 {
		if nf := x.flows[e.Linked]; nf != nil && !nf.covered {
			nf.covered = true
			x.recompute(nf)
		}
	}
	if ef != nil {
		x.recompute(ef)
	}
	t, ok := x.exchangeTarget(e, ef)
	if !ok {
		return
	}
	g := x.group(t)
	g.refs++
	g.count(exchangeOutcome(e))
	g.touch(e.Start, e.End)
	x.bump(g)
}

// target is a destination resolved for one flow or exchange.
type target struct {
	name, via string
	ip        netip.Addr
}

// destIP is the address a connection really went to: not loopback, not
// the sidecar's redirect ports.
func (x *External) destIP(ap netip.AddrPort) netip.Addr {
	a := ap.Addr().Unmap()
	if !a.IsValid() || a.IsLoopback() || isPassthroughSource(a) || ap.Port() == x.ports[0] || ap.Port() == x.ports[1] {
		return netip.Addr{}
	}
	return a
}

func (x *External) exchangeTarget(e *decode.Exchange, ef *extFlow) (target, bool) {
	if e.Direction == decode.DirInbound {
		return target{}, false
	}
	name := ""
	if e.Request != nil {
		name = e.Request.Host
	}
	if name == "" {
		name = e.SNI
	}
	ip := x.destIP(e.Server)
	via := ""
	if nf := x.flows[e.Linked]; e.Linked != 0 && nf != nil && nf.cur != nil {
		if !ip.IsValid() {
			ip = x.destIP(nf.cur.Server)
		}
		if svc, ok := ParseSNI(nf.cur.SNI); ok {
			via = svc.Host
		}
	}
	if ef != nil && ef.cur != nil && ef.cur.OrigDst != nil && !ip.IsValid() {
		ip = x.destIP(*ef.cur.OrigDst) // where the app sent it, blocked or not
	}
	if name == "" && ef != nil && ef.cur != nil {
		return x.flowTarget(ef)
	}
	return x.classify(name, ip, via)
}

func (x *External) flowTarget(ef *extFlow) (target, bool) {
	f := ef.cur
	if f.Direction == decode.DirInbound || f.Proto == "dns" {
		return target{}, false
	}
	if f.Leg == decode.LegNetwork && (f.Linked != 0 || ef.covered) {
		return target{}, false // the app leg counts
	}
	ip := x.destIP(f.Server)
	if o := x.flows[f.Linked]; !ip.IsValid() && f.Linked != 0 && o != nil && o.cur != nil {
		ip = x.destIP(o.cur.Server)
	}
	if !ip.IsValid() && f.OrigDst != nil {
		ip = x.destIP(*f.OrigDst)
	}
	sni := f.SNI
	if sni == "" && f.TLS != nil {
		sni = f.TLS.SNI
	}
	name := ef.host
	if svc, ok := ParseSNI(sni); ok {
		name = svc.Host
	} else if sni != "" {
		name = sni
	}
	if name == "" && carriesExchanges(f) {
		return target{}, false // wait for the Host of its first request
	}
	return x.classify(name, ip, "")
}

// carriesExchanges reports flows whose requests are decoded: they are
// named and judged by their exchanges, not as opaque connections.
func carriesExchanges(f *decode.Flow) bool {
	if f.TLS != nil && f.TLS.Decrypted {
		return true
	}
	switch f.Proto {
	case "http/1.1", "http/1.0", "http/1", "h2", "h2c", "grpc", "ws", "dns":
		return true
	}
	return false
}

// classify names a destination and says whether it is outside the
// cluster (see the package documentation for the order of evidence).
func (x *External) classify(name string, ip netip.Addr, viaMesh string) (target, bool) {
	name = normalizeName(name)
	if name == "" && ip.IsValid() {
		if name = x.dns.name(ip); name == "" {
			name = ip.String()
		}
	}
	if name == "" {
		return target{}, false
	}
	if host, ok := egressHost(name, x.egress); ok {
		if host == "" {
			return target{name: name, ip: ip}, true
		}
		return target{name: host, via: name, ip: ip}, true
	}
	t := target{name: name, ip: ip}
	if x.clusterName(name, viaMesh) {
		return t, false
	}
	ext := false
	switch ips := x.dns.addrs(name); {
	case ip.IsValid() && !x.sc.inside(ip):
		ext = true
	case isAddr(name):
		a, _ := netip.ParseAddr(name)
		ext = !x.sc.inside(a)
	case len(ips) > 0:
		ext = slices.ContainsFunc(ips, func(a netip.Addr) bool { return !x.sc.inside(a) })
	case ip.IsValid():
		// Connected inside the cluster: only a mesh hop (an egress
		// gateway) carrying a public name is a way out.
		ext = viaMesh != "" && publicName(name)
	default:
		ext = publicName(name)
	}
	if ext && viaMesh != "" && !sameService(name, viaMesh) {
		t.via = viaMesh
	}
	return t, ext
}

// clusterName reports names that are the cluster's own, which win over
// what the last label looks like ("reviews.shop" is service reviews in
// namespace shop, not a .shop domain): a name the mesh SNI of the
// connection that carried the request names as an in-cluster service, or
// any mesh SNI did; a name under svc.<cluster domain> or a search domain
// the pod's DNS queries show; a name DNS resolved only once completed
// with such a search domain, to addresses inside; NAME.NAMESPACE for a
// namespace of the cluster (when the API told them).
func (x *External) clusterName(name, viaMesh string) bool {
	if isAddr(name) {
		return false
	}
	if viaMesh != "" && clusterHost(viaMesh) && sameService(name, viaMesh) {
		return true
	}
	if strings.HasSuffix(name, ".svc") || strings.HasSuffix(name, ".svc.cluster.local") || x.dns.clusterDomain(name) {
		return true
	}
	if ips := x.dns.searchAddrs(name); len(ips) > 0 && !slices.ContainsFunc(ips, func(a netip.Addr) bool { return !x.sc.inside(a) }) {
		return true
	}
	if len(x.meshHosts) > 0 && strings.Count(name, ".") <= 2 {
		for h := range x.meshHosts {
			if sameService(name, h) {
				return true
			}
		}
	}
	if i := strings.IndexByte(name, '.'); i > 0 && len(x.namespaces) > 0 {
		rest := strings.TrimSuffix(name[i+1:], ".svc")
		if !strings.Contains(rest, ".") && slices.Contains(x.namespaces, rest) {
			return true
		}
	}
	return false
}

// clusterHost reports a mesh service host inside the cluster
// ("reviews.shop.svc.cluster.local", Kuma's tag form) rather than an
// external host a mesh routes itself (an Istio ServiceEntry's
// "api.github.com").
func clusterHost(h string) bool {
	return strings.Contains(h, ".svc.") || strings.HasSuffix(h, ".svc") || strings.ContainsRune(h, '_') || internalSuffix(h)
}

// maxMeshHosts bounds the in-cluster services remembered from mesh SNIs.
const maxMeshHosts = 512

// learnMeshHost remembers the in-cluster service a flow's mesh SNI names.
func (x *External) learnMeshHost(f *decode.Flow) {
	sni := f.SNI
	if sni == "" && f.TLS != nil {
		sni = f.TLS.SNI
	}
	if sni == "" {
		return
	}
	if svc, ok := ParseSNI(sni); ok && clusterHost(svc.Host) && !x.meshHosts[svc.Host] && len(x.meshHosts) < maxMeshHosts {
		x.meshHosts[svc.Host] = true
	}
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// recompute replaces a flow's contribution with what it says now.
func (x *External) recompute(ef *extFlow) {
	f := ef.cur
	if f == nil {
		return
	}
	t, ok := x.flowTarget(ef)
	if ef.g != nil && (ef.g.gone || !ok || ef.g.Name != t.name) {
		if g := ef.g; !g.gone {
			g.Bytes -= ef.bytes
			if ef.counted {
				g.uncount(ef.out)
			}
			g.refs--
			x.bump(g)
			x.dropIfEmpty(g)
		}
		ef.g, ef.bytes, ef.counted = nil, 0, false
	}
	if !ok {
		return
	}
	var o outcome
	haveO := false
	if ef.exs == 0 && !carriesExchanges(f) {
		o, haveO = flowOutcome(f, flowEnded(f))
	}
	g := ef.g
	if g == nil {
		g = x.group(t)
		g.refs++
		ef.g = g
	} else {
		x.touchLRU(g, t)
	}
	bytes := f.BytesC2S + f.BytesS2C
	g.Bytes += bytes - ef.bytes
	ef.bytes = bytes
	if ef.counted && (!haveO || o.verdict != ef.out.verdict) {
		g.uncount(ef.out)
		ef.counted = false
	}
	if haveO && !ef.counted {
		g.count(o)
		ef.out, ef.counted = o, true
	}
	g.touch(f.First, f.Last)
	x.bump(g)
}

// group returns the destination's group, created (evicting the least
// recently seen when full) if needed, and marks it recently seen.
func (x *External) group(t target) *groupState {
	g := x.groups[t.name]
	if g == nil {
		if len(x.groups) >= x.max {
			if back := x.lru.Back(); back != nil {
				old := back.Value.(*groupState)
				x.lru.Remove(back)
				delete(x.groups, old.Name)
				old.gone = true
				x.evicted++
			}
		}
		g = &groupState{Group: Group{Name: t.name}}
		g.elem = x.lru.PushFront(g)
		x.groups[t.name] = g
	}
	x.touchLRU(g, t)
	return g
}

// touchLRU marks g recently seen and records the target's via and
// addresses.
func (x *External) touchLRU(g *groupState, t target) {
	x.lru.MoveToFront(g.elem)
	if t.via != "" {
		g.Via = t.via
	}
	if t.ip.IsValid() && !x.sc.inside(t.ip) {
		g.addIP(t.ip)
	}
	for _, a := range x.dns.addrs(t.name) {
		if !x.sc.inside(a) {
			g.addIP(a)
		}
	}
}

func (x *External) bump(g *groupState) {
	x.gen++
	g.gen = x.gen
}

// dropIfEmpty removes a group nothing contributes to any more (a flow
// first named by its address, then by its SNI).
func (x *External) dropIfEmpty(g *groupState) {
	if g.refs > 0 || g.gone {
		return
	}
	x.lru.Remove(g.elem)
	delete(x.groups, g.Name)
	g.gone = true
}

// advance moves the capture clock of a source. Sources keep their own
// clocks: files from different years in one session must not make each
// other's flows look old.
func (x *External) advance(source string, t time.Time) {
	if t.After(x.clocks[source]) {
		x.clocks[source] = t
	}
	if t.After(x.now) {
		x.now = t
	}
}

// track keeps ef's place among the ended flows in step with its latest
// publication.
func (x *External) track(ef *extFlow, prevLast time.Time) {
	f := ef.cur
	x.ended.update(ef, ef.id, flowEnded(f), f.Source, f.Last, prevLast)
}

// sweep forgets flows that ended a while ago; their contribution stays.
// Beyond maxFlows it forgets the oldest down to three quarters of it.
// Both take the flows from heaps, so the cost is in the flows forgotten,
// not in those kept.
func (x *External) sweep() {
	if x.now.Sub(x.swept) < sweepEvery && len(x.flows) <= x.maxFlows {
		return
	}
	x.swept = x.now
	x.ended.expire(func(src string) time.Time { return x.clocks[src] }, flowLinger, func(ef *extFlow) {
		delete(x.flows, ef.id)
		x.byID.remove(ef)
	})
	if len(x.flows) <= x.maxFlows {
		return
	}
	for n := len(x.flows) - x.maxFlows*3/4; n > 0; n-- {
		ef := x.byID.popMin()
		delete(x.flows, ef.id)
		x.ended.remove(ef)
	}
}
