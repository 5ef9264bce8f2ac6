package mesh

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

func (g *groupState) count(o outcome) {
	g.Requests++
	switch o.verdict {
	case Passed:
		g.Passed++
	case Blocked:
		g.Blocked++
		g.blockWhy = o.reason
	default:
		g.Failed++
	}
	if o.err {
		g.Errors++
		if o.verdict != Blocked {
			g.failWhy = o.reason
		}
	}
}

func (g *groupState) uncount(o outcome) {
	g.Requests--
	switch o.verdict {
	case Passed:
		g.Passed--
	case Blocked:
		g.Blocked--
	default:
		g.Failed--
	}
	if o.err {
		g.Errors--
	}
}

func (g *groupState) touch(first, last time.Time) {
	if !first.IsZero() && (g.First.IsZero() || first.Before(g.First)) {
		g.First = first
	}
	if last.After(g.Last) {
		g.Last = last
	}
}

func (g *groupState) addIP(a netip.Addr) {
	if len(g.IPs) >= maxGroupIPs || slices.Contains(g.IPs, a) {
		return
	}
	g.IPs = append(g.IPs, a)
	slices.SortFunc(g.IPs, func(a, b netip.Addr) int { return a.Compare(b) })
}

// Groups returns every destination, blocked first, then failed, pending
// and passed, by name within each.
func (x *External) Groups() []Group {
	gs, _ := x.GroupsSince(0)
	return gs
}

// GroupsSince returns the destinations that changed after generation gen,
// in Groups order, and the current generation, so a periodic printer
// writes only what moved.
func (x *External) GroupsSince(gen uint64) ([]Group, uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]Group, 0, len(x.groups))
	for _, g := range x.groups {
		if g.gen > gen {
			out = append(out, g.snapshot())
		}
	}
	slices.SortFunc(out, func(a, b Group) int {
		if d := severity(a.Verdict) - severity(b.Verdict); d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, x.gen
}

// Evicted counts destinations dropped because the table was full.
func (x *External) Evicted() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.evicted
}

func (g *groupState) snapshot() Group {
	s := g.Group
	s.IPs = slices.Clone(g.IPs)
	switch {
	case g.Blocked > 0:
		s.Verdict, s.Reason = Blocked, g.blockWhy
	case g.Passed > 0:
		s.Verdict = Passed
		if g.Errors > 0 {
			s.Reason = g.failWhy
		}
	case g.Failed > 0:
		s.Verdict, s.Reason = Failed, g.failWhy
	default:
		s.Verdict = Pending
	}
	return s
}

func severity(v Verdict) int {
	switch v {
	case Blocked:
		return 0
	case Failed:
		return 1
	case Pending:
		return 2
	}
	return 3
}
