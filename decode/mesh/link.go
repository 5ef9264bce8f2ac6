package mesh

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
)

// causalSlack absorbs timestamp noise when one leg must follow the other:
// a sidecar forwards after it received, but the two packets may be
// stamped on different interfaces.
const causalSlack = time.Millisecond

// appRecord is what pairing needs of a recent exchange of one leg.
type appRecord struct {
	id, flow       uint64
	dir            string
	method, target string
	host           string
	start          time.Time
	claimed, valid bool
}

// appRing keeps the latest exchanges of one leg, so that an exchange of
// the other leg decoded later can find its twin. It is a fixed ring: old
// requests fall out, which is what the link window wants anyway.
type appRing struct {
	recs  []appRecord
	next  int
	index map[uint64]int
}

func newAppRing(n int) appRing {
	return appRing{recs: make([]appRecord, n), index: make(map[uint64]int, n)}
}

// remember records or refreshes an exchange with a request; claimed marks
// it paired with its twin already.
func (r *appRing) remember(e *decode.Exchange, claimed bool) {
	if e.Request == nil {
		return
	}
	rec := appRecord{id: e.ID, flow: e.FlowID, dir: e.Direction, method: e.Request.Method,
		target: e.Request.Target, host: hostOnly(e.Request.Host), start: e.Start, valid: true, claimed: claimed}
	if i, ok := r.index[e.ID]; ok {
		rec.claimed = rec.claimed || r.recs[i].claimed
		r.recs[i] = rec
		return
	}
	slot := r.next
	if old := r.recs[slot]; old.valid {
		delete(r.index, old.id)
	}
	r.recs[slot] = rec
	r.index[e.ID] = slot
	r.next = (slot + 1) % len(r.recs)
}

// claimKey names one burst of one connection, so that a burst that
// carried one request is not taken for another's.
type claimKey struct {
	flow  uint64
	first int64
}

const maxClaims = 1 << 13

// linker decides which network-leg connection carried each app-leg
// request. Labeler owns one; its state is the recent exchanges of both
// legs and the bursts already taken.
type linker struct {
	apps, nets appRing
	claims     map[claimKey]bool
	wire       *Wire
	scratch    []Burst
}

func newLinker() linker {
	return linker{apps: newAppRing(1024), nets: newAppRing(1024), claims: make(map[claimKey]bool)}
}

// linkEnv is the Labeler state linking reads and updates.
type linkEnv struct {
	live  []*flowState
	flows map[uint64]*flowState
	exs   map[uint64]*exState
	stats *Stats
}

// exchange links c, an exchange being published, with the other leg and
// records it for later twins. A link, once set, stays.
func (k *linker) exchange(env linkEnv, c *decode.Exchange, xs *exState) {
	switch c.Leg {
	case decode.LegApp:
		twin := false
		if xs.linked == 0 {
			xs.linked, twin = k.linkApp(env, c)
			if xs.linked != 0 {
				env.stats.Linked++
			}
		}
		k.apps.remember(c, twin)
	case decode.LegNetwork:
		if xs.linked == 0 {
			xs.linked = k.linkNetwork(env, c)
		}
		k.nets.remember(c, xs.linked != 0)
	}
}

// twinOK reports whether an app-leg and a network-leg exchange are the
// same request: same method and target, the same host when both name
// one, and in the order a sidecar forwards: outbound the app leg first,
// inbound the network leg first.
func twinOK(app, net *appRecord, dir string) bool {
	if app.method != net.method || app.target != net.target {
		return false
	}
	if app.host != "" && net.host != "" && app.host != net.host {
		return false
	}
	d := net.start.Sub(app.start)
	switch dir {
	case decode.DirOutbound:
		return d >= -causalSlack && d <= linkWindow
	case decode.DirInbound:
		return d <= causalSlack && d >= -linkWindow
	}
	return absDur(d) <= linkWindow
}

func recordOf(e *decode.Exchange) appRecord {
	return appRecord{id: e.ID, flow: e.FlowID, dir: e.Direction, method: e.Request.Method,
		target: e.Request.Target, host: hostOnly(e.Request.Host), start: e.Start, valid: true}
}

// linkNetwork pairs a network-leg exchange with the app-leg exchange of
// the same request (see twinOK), the nearest in time. It returns the
// app-leg flow, and gives the app-leg exchange the network flow if it
// has none yet.
func (k *linker) linkNetwork(env linkEnv, ne *decode.Exchange) uint64 {
	if ne.Request == nil {
		return 0
	}
	net := recordOf(ne)
	best := -1
	var bestD time.Duration
	for i := range k.apps.recs {
		rec := &k.apps.recs[i]
		if !rec.valid || rec.claimed || rec.flow == ne.FlowID || !dirCompatible(rec.dir, ne.Direction) {
			continue
		}
		dir := rec.dir
		if dir == "" {
			dir = ne.Direction
		}
		if !twinOK(rec, &net, dir) {
			continue
		}
		d := absDur(rec.start.Sub(ne.Start))
		if best < 0 || d < bestD {
			best, bestD = i, d
		}
	}
	if best < 0 {
		return 0
	}
	rec := &k.apps.recs[best]
	rec.claimed = true
	if xs := env.exs[rec.id]; xs != nil && xs.linked == 0 {
		xs.linked = ne.FlowID
		env.stats.Linked++
	}
	return rec.flow
}

// linkApp finds the network-leg connection that carried an app-leg
// request. The network leg's own exchange of it, when that leg is
// decoded (keys, plaintext), is the best evidence and is taken at any
// publication (twin is then set). Otherwise the link is decided only
// once the exchange is final, when the sidecar has long opened, or
// picked from its pool, the upstream connection and the response has
// come back through it (see carrier).
func (k *linker) linkApp(env linkEnv, a *decode.Exchange) (flow uint64, twin bool) {
	if a.Request == nil {
		return 0, false
	}
	if id := k.twinForApp(env, a); id != 0 {
		return id, true
	}
	if !a.State.Final() {
		return 0, false
	}
	return k.carrier(env, a), false
}

// twinForApp finds the unpaired network-leg exchange of an app-leg
// request, and marks the pair.
func (k *linker) twinForApp(env linkEnv, a *decode.Exchange) uint64 {
	app := recordOf(a)
	best := -1
	var bestD time.Duration
	for i := range k.nets.recs {
		rec := &k.nets.recs[i]
		if !rec.valid || rec.claimed || rec.flow == a.FlowID || !dirCompatible(rec.dir, a.Direction) {
			continue
		}
		dir := a.Direction
		if dir == "" {
			dir = rec.dir
		}
		if !twinOK(&app, rec, dir) {
			continue
		}
		d := absDur(rec.start.Sub(a.Start))
		if best < 0 || d < bestD {
			best, bestD = i, d
		}
	}
	if best < 0 {
		return 0
	}
	rec := &k.nets.recs[best]
	rec.claimed = true
	if xs := env.exs[rec.id]; xs != nil && xs.linked == 0 {
		xs.linked = a.FlowID
	}
	return rec.flow
}

// carrier picks, for a final app-leg exchange, the network-leg
// connection that carried it, from what a sidecar does:
//
//   - It answers some requests itself without any upstream (Istio's
//     block_all 502, an RBAC 403): nothing carried those.
//   - It answers 503 itself when the upstream connection failed: the
//     connection it opened after the request came and that returned
//     nothing carried it, as far as it went.
//   - Otherwise the request went out, outbound, on a connection to the
//     service the Host header names (mesh SNI) or to the app's original
//     destination (passthrough), after the request arrived, and the
//     response came back on it before the sidecar answered the app: of
//     the connections whose payload (Wire's bursts) fits, the one where
//     the sidecar took least time both ways (request in to request out,
//     response in to response out). Inbound, the request arrived on a
//     connection to the app's port just before the sidecar passed it
//     on: the one whose latest request burst ended last before the
//     app-leg request began. A burst serves one request (HTTP/1 pools);
//     several only when every fitting one is taken (HTTP/2).
//   - A connection whose own requests are decoded (plaintext, or keys)
//     carried a request only if its exchange is the request's twin, so
//     timing never picks it.
//
// Without packet timing (no Wire: exchanges fed from elsewhere) the
// connection alive at the time that names the same service is taken, and
// a port alone is never enough.
func (k *linker) carrier(env linkEnv, a *decode.Exchange) uint64 {
	app := env.flows[a.FlowID]
	reqFirst := a.Start
	if !a.Request.First.IsZero() {
		reqFirst = a.Request.First
	}
	respFirst := a.End
	direct := false
	if r := a.Response; r != nil {
		if !r.First.IsZero() {
			respFirst = r.First
		}
		if envoyDirect(r) {
			if r.Status == 502 || r.Status == 403 {
				return 0 // no upstream at all
			}
			direct = true
		}
	}
	host, port := requestHostPort(a)
	if app != nil && app.orig.IsValid() && !strings.Contains(a.Request.Host, ":") {
		port = app.orig.Port()
	}
	inbound := a.Direction == decode.DirInbound
	var cands []*flowState
	for tier := 0; tier < 2 && len(cands) == 0; tier++ {
		for _, n := range env.live {
			if n.leg != decode.LegNetwork || n.id == a.FlowID || !dirCompatible(n.dir, a.Direction) {
				continue
			}
			if n.first.After(respFirst.Add(causalSlack)) || (n.ended && n.last.Before(reqFirst.Add(-causalSlack))) {
				continue
			}
			if n.decoded && !direct {
				// Its requests are decoded: had it carried this one,
				// its exchange would have been the twin.
				continue
			}
			if inbound && !sameInbound(a, n) {
				continue
			}
			if !inbound {
				if ok, exact := sameDestination(app, n, host, port); !ok || (tier == 0 && !exact) {
					continue
				}
				if tier == 1 && k.wire == nil {
					continue // only packet timing may pick among strangers
				}
			}
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		return 0
	}
	if direct {
		return failedAttempt(cands, reqFirst, respFirst)
	}
	if k.wire == nil {
		return aliveNearest(cands, a.Start)
	}
	// The fitting burst of each candidate, then the pick among them.
	type fit struct {
		n     *flowState
		b     scoredBurst
		taken bool
	}
	var fits []fit
	anyFree := false
	for _, n := range cands {
		k.scratch = k.wire.Bursts(k.scratch[:0], n.source, n.ep.client, n.ep.server)
		var b scoredBurst
		var ok bool
		if inbound {
			b, ok = k.requestBurst(n.id, k.scratch, reqFirst)
		} else {
			b, ok = k.responseBurst(n.id, k.scratch, reqFirst, respFirst)
		}
		if !ok {
			continue
		}
		taken := k.claims[claimKey{n.id, b.First.UnixNano()}]
		fits = append(fits, fit{n, b, taken})
		anyFree = anyFree || !taken
	}
	// Untaken bursts first; all of them only when every one is taken.
	// The nearest in time: a sidecar passes a response (inbound, a
	// request) on as it arrives. Requests in flight at once that look
	// the same (sizes, timing) cannot be told apart this way; their
	// network leg's own exchanges (keys) can.
	var best *fit
	for i := range fits {
		f := &fits[i]
		if anyFree && f.taken {
			continue
		}
		if best == nil || f.b.gap < best.b.gap {
			best = f
		}
	}
	if best == nil {
		return 0
	}
	bestKey := claimKey{best.n.id, best.b.First.UnixNano()}
	if len(k.claims) >= maxClaims {
		clear(k.claims)
	}
	k.claims[bestKey] = true
	return best.n.id
}

// scoredBurst is a burst that fits a request, with how long the sidecar
// would have taken to pass it on (smaller is likelier).
type scoredBurst struct {
	Burst
	gap time.Duration
}

// responseBurst finds, among a connection's bursts, the response to a
// request the sidecar sent on it: a server-to-client burst ending by
// respFirst whose request (the client-to-server burst just before it: an
// upstream HTTP/1 connection carries one request at a time) began after
// the app's request did. Its gap is the time the sidecar took to pass
// the response on, which is short: it sends it as it arrives (the
// request side may have waited for a new connection's handshake, so its
// time says little); the smallest wins, untaken ones first.
func (k *linker) responseBurst(flow uint64, bs []Burst, reqFirst, respFirst time.Time) (scoredBurst, bool) {
	var sent *Burst
	var best scoredBurst
	found, bestTaken := false, true
	for i := range bs {
		b := &bs[i]
		if b.C2S {
			sent = b
			continue
		}
		if b.Handshake || sent == nil || sent.First.Before(reqFirst.Add(-causalSlack)) || b.Last.After(respFirst.Add(causalSlack)) {
			continue
		}
		gap := respFirst.Sub(b.Last)
		taken := k.claims[claimKey{flow, b.First.UnixNano()}]
		if !found || (bestTaken && !taken) || (taken == bestTaken && gap < best.gap) {
			best, found, bestTaken = scoredBurst{*b, gap}, true, taken
		}
	}
	return best, found
}

// requestBurst finds the client-to-server burst of an inbound connection
// that ended last before the app-leg request began (within the link
// window); untaken ones first.
func (k *linker) requestBurst(flow uint64, bs []Burst, reqFirst time.Time) (scoredBurst, bool) {
	var best scoredBurst
	found, bestTaken := false, true
	for _, b := range bs {
		if !b.C2S || b.Handshake || b.Last.After(reqFirst.Add(causalSlack)) || b.Last.Before(reqFirst.Add(-linkWindow)) {
			continue
		}
		gap := reqFirst.Sub(b.Last)
		taken := k.claims[claimKey{flow, b.First.UnixNano()}]
		if !found || (bestTaken && !taken) || (taken == bestTaken && gap < best.gap) {
			best, found, bestTaken = scoredBurst{b, gap}, true, taken
		}
	}
	return best, found
}

// failedAttempt picks the upstream connection a sidecar opened for a
// request and got nothing back from: opened after the request came,
// before the sidecar answered, no byte returned; the first one.
func failedAttempt(cands []*flowState, reqFirst, respFirst time.Time) uint64 {
	var best *flowState
	for _, n := range cands {
		if n.first.Before(reqFirst.Add(-causalSlack)) || n.first.After(respFirst) || n.bytesS2C > 0 {
			continue
		}
		if best == nil || n.first.Before(best.first) {
			best = n
		}
	}
	if best == nil {
		return 0
	}
	return best.id
}

// aliveNearest picks the candidate alive nearest to t, the latest on a
// tie.
func aliveNearest(cands []*flowState, t time.Time) uint64 {
	var best *flowState
	var bestD time.Duration
	for _, n := range cands {
		d := distance(t, n)
		if best == nil || d < bestD || (d == bestD && n.last.After(best.last)) {
			best, bestD = n, d
		}
	}
	return best.id
}

// sameInbound reports whether network flow n can have brought an inbound
// request the sidecar passed to the app at a.Server: inbound redirects
// keep the destination (the capture sees it before the rewrite), so the
// network leg was addressed to the app's own address and port.
func sameInbound(a *decode.Exchange, n *flowState) bool {
	if n.ep.server == a.Server {
		return true
	}
	if a.Server.Addr().Unmap().IsLoopback() && n.ep.server.Port() == a.Server.Port() {
		return true // the sidecar passes inbound to 127.0.0.1 (older Istio)
	}
	return n.meshSvc && n.svc.Port == a.Server.Port()
}

// sameDestination reports whether network flow n goes where an outbound
// request was meant to: the service its mesh SNI names (host and port),
// the app's original destination (passthrough), or the host its plain
// SNI names (TLS origination). exact is false for a flow that is only
// possible: plaintext to somewhere else (an endpoint behind a service
// the mesh routes without mTLS).
func sameDestination(app *flowState, n *flowState, host string, port uint16) (ok, exact bool) {
	if n.meshSvc {
		return sameService(host, n.svc.Host) && (n.svc.Port == 0 || port == 0 || n.svc.Port == port), true
	}
	if app != nil && app.orig.IsValid() && n.ep.server == app.orig {
		return true, true
	}
	if n.ep.sni != "" {
		return sameService(host, hostOnly(n.ep.sni)), true
	}
	if app == nil || !app.orig.IsValid() {
		// No original destination known: the old rule, a server port
		// equal to the request's is possible but never exact.
		return n.ep.server.Port() == port, false
	}
	return true, false
}

// pairFlow pairs the two legs of one passed-through TLS connection: the
// same non-mesh SNI on both legs, opened within the link window; the
// network leg that went to the app leg's original destination first.
func pairFlow(live []*flowState, st *flowState) *flowState {
	if st.ep.sni == "" || st.meshSvc || st.leg == "" {
		return nil
	}
	var best *flowState
	var bestD time.Duration
	bestExact := false
	for _, o := range live {
		if o == st || o.leg == "" || o.leg == st.leg || o.linked != 0 || o.ep.sni != st.ep.sni || !dirCompatible(o.dir, st.dir) {
			continue
		}
		d := absDur(o.first.Sub(st.first))
		if d > linkWindow {
			continue
		}
		exact := (st.orig.IsValid() && o.ep.server == st.orig) || (o.orig.IsValid() && st.ep.server == o.orig)
		if best == nil || (exact && !bestExact) || (exact == bestExact && d < bestD) {
			best, bestD, bestExact = o, d, exact
		}
	}
	return best
}

// distance is how far t lies outside a flow's lifetime (0 inside it; an
// open flow has no end yet).
func distance(t time.Time, n *flowState) time.Duration {
	if t.Before(n.first) {
		return n.first.Sub(t)
	}
	if n.ended && t.After(n.last) {
		return t.Sub(n.last)
	}
	return 0
}

func dirCompatible(a, b string) bool { return a == "" || b == "" || a == b }

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// hostOnly returns the host of a Host header or authority, lower-cased,
// without port, brackets or trailing dot.
func hostOnly(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return strings.ToLower(h)
}

// requestHostPort returns the host and port a request was meant for:
// from the Host header, with the scheme's default port.
func requestHostPort(e *decode.Exchange) (string, uint16) {
	hp := e.Request.Host
	host := hostOnly(hp)
	if _, p, err := net.SplitHostPort(hp); err == nil {
		if n, err := strconv.ParseUint(p, 10, 16); err == nil {
			return host, uint16(n)
		}
	}
	if e.TLS || e.Request.Scheme == "https" {
		return host, 443
	}
	return host, 80
}
