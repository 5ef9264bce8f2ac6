package mesh_test

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mesh"
)

// role is what the fixture's client port ranges stand for.
type role struct{ leg, dir string }

var roles = map[int]role{
	portAppOut:     {decode.LegApp, decode.DirOutbound},
	portAppTLS:     {decode.LegApp, decode.DirOutbound},
	portAppBlocked: {decode.LegApp, decode.DirOutbound},
	portNetReviews: {decode.LegNetwork, decode.DirOutbound},
	portNetGitHub:  {decode.LegNetwork, decode.DirOutbound},
	portNetExample: {decode.LegNetwork, decode.DirOutbound},
	portPeer:       {decode.LegNetwork, decode.DirInbound},
	portPassSrc:    {decode.LegApp, decode.DirInbound},
	portDNS:        {decode.LegNetwork, decode.DirOutbound},
}

func exKey(e *decode.Exchange) string {
	if e.DNS != nil {
		return "DNS " + e.DNS.Name
	}
	return e.Method() + " " + e.Host() + e.Path()
}

func count(exs []*decode.Exchange) map[string]int {
	m := map[string]int{}
	for _, e := range exs {
		m[exKey(e)]++
	}
	return m
}

func TestSidecarLegs(t *testing.T) {
	c := recordSidecar(t)
	for _, withKeys := range []bool{false, true} {
		t.Run(fmt.Sprintf("keys=%v", withKeys), func(t *testing.T) {
			var keys []byte
			if withKeys {
				keys = c.keys
			}
			shown, all := newCollector(), newCollector()
			l := mesh.NewLabeler(shown, mesh.Options{All: all})
			decodeInto(c.pkts, keys, l)
			if !l.Meshed() {
				t.Fatal("no sidecar inferred")
			}

			// Every flow has the leg and direction of its role.
			if len(all.flows) < 12 {
				t.Fatalf("only %d flows decoded", len(all.flows))
			}
			for _, f := range all.flows {
				want, ok := roles[int(f.Client.Port())/1000*1000]
				if !ok {
					t.Errorf("flow %v -> %v: unexpected client port", f.Client, f.Server)
					continue
				}
				if f.Leg != want.leg || f.Direction != want.dir {
					t.Errorf("flow %v -> %v (sni %q): leg %q dir %q, want %q %q", f.Client, f.Server, f.SNI, f.Leg, f.Direction, want.leg, want.dir)
				}
				if shown.flows[f.ID] == nil {
					t.Errorf("flow %d missing from the default output", f.ID)
				}
			}

			// The default output shows each request once.
			want := map[string]int{
				"GET reviews:8080/reviews/1": 1, "GET reviews:8080/reviews/2": 1, "GET reviews:8080/reviews/3": 1,
				"GET pastebin.com/raw/x1": 1, "GET example.org/": 1, "GET productpage:9080/productpage": 2,
				"DNS api.github.com": 1, "DNS example.org": 1, "DNS pastebin.com": 1,
			}
			if withKeys {
				want["GET api.github.com/zen"] = 1
			}
			if got := count(shown.exchanges()); !equalCounts(got, want) {
				t.Errorf("default output:\n got %v\nwant %v", got, want)
			}
			for _, e := range shown.exchanges() {
				if e.DNS == nil && e.Leg != decode.LegApp {
					t.Errorf("%s shown from the %q leg", exKey(e), e.Leg)
				}
			}

			// The full output has the network-leg twins, each linked to
			// the app-leg flow of its request.
			dups := 0
			for _, e := range all.exchanges() {
				if shown.ex[e.ID] != nil {
					continue
				}
				dups++
				if e.Leg != decode.LegNetwork || e.Linked == 0 {
					t.Errorf("hidden %s: leg %q linked %d", exKey(e), e.Leg, e.Linked)
					continue
				}
				twin := appTwin(shown, e)
				if twin == nil || twin.FlowID != e.Linked {
					t.Errorf("hidden %s (flow %d) linked to flow %d, app twin %v", exKey(e), e.FlowID, e.Linked, twin)
				} else if twin.Linked != e.FlowID {
					t.Errorf("app %s linked to flow %d, its twin is on flow %d", exKey(twin), twin.Linked, e.FlowID)
				}
			}
			wantDups := 1 // example.org, plaintext on both legs
			if withKeys {
				wantDups = 1 + 3 + 2 + 1 // + reviews, productpage, api.github.com
			}
			if dups != wantDups || l.Stats().Duplicates != int64(wantDups) {
				t.Errorf("%d duplicates hidden (stats %d), want %d", dups, l.Stats().Duplicates, wantDups)
			}

			// App-leg requests point at the connection that carried them.
			for _, e := range shown.exchanges() {
				if e.DNS != nil {
					continue
				}
				nf := all.flows[e.Linked]
				switch host := e.Host(); {
				case strings.HasPrefix(host, "reviews"):
					if nf == nil || nf.SNI != reviewsSNI || e.Direction != decode.DirOutbound {
						t.Errorf("%s: linked %v, direction %q", exKey(e), nf, e.Direction)
					}
				case strings.HasPrefix(host, "productpage"):
					if nf == nil || nf.Client.Addr() != peerIP || e.Direction != decode.DirInbound {
						t.Errorf("%s: linked %v, direction %q", exKey(e), nf, e.Direction)
					}
				case host == "example.org":
					if nf == nil || nf.Server != exampleEP {
						t.Errorf("%s: linked %v", exKey(e), nf)
					}
				case host == "api.github.com":
					if nf == nil || nf.Server != githubEP {
						t.Errorf("%s: linked %v", exKey(e), nf)
					}
				case host == "pastebin.com":
					if e.Linked != 0 {
						t.Errorf("blocked request linked to flow %d", e.Linked)
					}
				}
			}

			// The two legs of the passed-through TLS connection are paired.
			app := all.flowByClient(netip.AddrPortFrom(podIP, portAppTLS+1))
			net := all.flowByClient(netip.AddrPortFrom(podIP, portNetGitHub+1))
			if app == nil || net == nil || app.Linked != net.ID || net.Linked != app.ID {
				t.Errorf("TLS passthrough legs not paired: app %+v net %+v", app, net)
			}
		})
	}
}

// appTwin is the shown app-leg exchange of the same request as e.
func appTwin(shown *collector, e *decode.Exchange) *decode.Exchange {
	var best *decode.Exchange
	for _, a := range shown.exchanges() {
		if a.Leg != decode.LegApp || exKey(a) != exKey(e) {
			continue
		}
		if best == nil || absDur(a.Start.Sub(e.Start)) < absDur(best.Start.Sub(e.Start)) {
			best = a
		}
	}
	return best
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
