package mesh

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
)

// appRecord is what pairing needs of a recent app-leg exchange.
type appRecord struct {
	id, flow       uint64
	dir            string
	method, target string
	host           string
	start          time.Time
	claimed, valid bool
}

// appRing keeps the latest app-leg exchanges, so a network-leg exchange
// decoded later (keys, or plaintext passthrough) can find its twin. It is
// a fixed ring: old requests fall out, which is what the link window
// wants anyway.
type appRing struct {
	recs  []appRecord
	next  int
	index map[uint64]int
}

func newAppRing(n int) appRing {
	return appRing{recs: make([]appRecord, n), index: make(map[uint64]int, n)}
}

// remember records or refreshes an app-leg exchange with a request.
func (r *appRing) remember(e *decode.Exchange) {
	if e.Request == nil {
		return
	}
	rec := appRecord{id: e.ID, flow: e.FlowID, dir: e.Direction, method: e.Request.Method,
		target: e.Request.Target, host: hostOnly(e.Request.Host), start: e.Start, valid: true}
	if i, ok := r.index[e.ID]; ok {
		rec.claimed = r.recs[i].claimed
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

// linkNetwork pairs a network-leg exchange with the app-leg exchange of
// the same request: same method, target and host, the nearest in time.
// It returns the app-leg flow, and gives the app-leg exchange the
// network flow if it had none.
func (l *Labeler) linkNetwork(ne *decode.Exchange) uint64 {
	if ne.Request == nil {
		return 0
	}
	host := hostOnly(ne.Request.Host)
	best := -1
	var bestD time.Duration
	for i := range l.apps.recs {
		rec := &l.apps.recs[i]
		if !rec.valid || rec.claimed || rec.flow == ne.FlowID || !dirCompatible(rec.dir, ne.Direction) {
			continue
		}
		if rec.method != ne.Request.Method || rec.target != ne.Request.Target {
			continue
		}
		if rec.host != "" && host != "" && rec.host != host {
			continue
		}
		d := absDur(rec.start.Sub(ne.Start))
		if d > linkWindow {
			continue
		}
		if best < 0 || d < bestD {
			best, bestD = i, d
		}
	}
	if best < 0 {
		return 0
	}
	rec := &l.apps.recs[best]
	rec.claimed = true
	if xs := l.exs[rec.id]; xs != nil && xs.linked == 0 {
		xs.linked = ne.FlowID
		l.stats.Linked++
	}
	return rec.flow
}

// linkApp finds the network-leg flow that carried an app-leg request: a
// flow alive at the request's start that names the same service (mesh
// SNI host, or plain SNI) and port. A port alone is enough only when one
// flow has it.
func (l *Labeler) linkApp(a *decode.Exchange) uint64 {
	if a.Request == nil {
		return 0
	}
	host, port := requestHostPort(a)
	inbound := a.Direction == decode.DirInbound
	var best *flowState
	bestScore, bestDist, atOne := 0, time.Duration(0), 0
	for _, n := range l.live {
		if n.leg != decode.LegNetwork || n.id == a.FlowID || !dirCompatible(n.dir, a.Direction) {
			continue
		}
		if n.first.After(a.Start.Add(linkWindow)) || (n.ended && n.last.Before(a.Start.Add(-linkWindow))) {
			continue
		}
		score := 0
		np := n.svc.Port
		if inbound {
			if n.ep.server.Port() == a.Server.Port() || (np != 0 && np == a.Server.Port()) {
				score++
			}
		} else {
			if np == 0 {
				np = n.ep.server.Port()
			}
			if port != 0 && np == port {
				score++
			}
		}
		name := n.ep.sni
		if n.meshSvc {
			name = n.svc.Host
		}
		if sameService(host, name) {
			score += 2
		}
		if score == 0 {
			continue
		}
		if score == 1 {
			atOne++
		}
		d := distance(a.Start, n)
		switch {
		case best == nil, score > bestScore,
			score == bestScore && d < bestDist,
			score == bestScore && d == bestDist && n.last.After(best.last):
			best, bestScore, bestDist = n, score, d
		}
	}
	if best == nil || (bestScore == 1 && atOne > 1) {
		return 0
	}
	return best.id
}

// pairFlow pairs the two legs of one passed-through TLS connection: the
// same non-mesh SNI on both legs, opened within the link window.
func (l *Labeler) pairFlow(st *flowState) *flowState {
	if st.ep.sni == "" || st.meshSvc || st.leg == "" {
		return nil
	}
	var best *flowState
	var bestD time.Duration
	for _, o := range l.live {
		if o == st || o.leg == "" || o.leg == st.leg || o.linked != 0 || o.ep.sni != st.ep.sni || !dirCompatible(o.dir, st.dir) {
			continue
		}
		d := absDur(o.first.Sub(st.first))
		if d > linkWindow {
			continue
		}
		if best == nil || d < bestD {
			best, bestD = o, d
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
