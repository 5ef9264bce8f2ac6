package ui

import (
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mesh"
)

// fakeExternal is a fixed set of destinations.
type fakeExternal struct {
	mu sync.Mutex
	gs []mesh.Group
}

func (f *fakeExternal) Groups() []mesh.Group {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mesh.Group(nil), f.gs...)
}

func externalFixtures() *fakeExternal {
	return &fakeExternal{gs: []mesh.Group{
		{Name: "pastebin.com", IPs: []netip.Addr{netip.MustParseAddr("203.0.113.7")}, Requests: 3, Bytes: 1830,
			Errors: 3, Blocked: 3, First: at(100), Last: at(900), Verdict: mesh.Blocked,
			Reason: "502 from Envoy without an upstream (block_all route / BlackHoleCluster)"},
		{Name: "api.github.com", Via: "api.github.com.egress.local", IPs: []netip.Addr{netip.MustParseAddr("140.82.112.6")},
			Requests: 12, Bytes: 48213, Passed: 12, First: at(0), Last: at(1300), Verdict: mesh.Passed},
		{Name: "\x1b[31mevil.example.com", Requests: 1, Failed: 1, Errors: 1, First: at(50), Last: at(60),
			Verdict: mesh.Failed, Reason: "reset, nothing returned"},
	}}
}

func TestExternalLensGolden(t *testing.T) {
	cfg := baseConfig(loadedStore())
	cfg.External = externalFixtures()
	d := newDriver(t, cfg, 80, 24)
	if !strings.Contains(d.screen(), "4 External") {
		t.Fatalf("no lens tab in the header:\n%s", d.screen())
	}
	d.keys("4")
	golden(t, "external_80x24", d.screen())
	d.keys("j")
	scr := d.screen()
	if !strings.Contains(scr, "api.github.com  140.82.112.6") || !strings.Contains(scr, "sent through api.github.com.egress.local") {
		t.Errorf("detail of the selected destination missing:\n%s", scr)
	}
	if strings.Contains(d.raw(), "\x1b[31mevil") {
		t.Error("escape sequence from the wire reached the terminal")
	}
	d.keys("1")
	if (d.m.external() != nil) || !strings.Contains(d.screen(), "api.example.com/v1/users") {
		t.Errorf("1 did not go back to the exchanges:\n%s", d.screen())
	}
	d.keys("4", "esc")
	if d.m.external() != nil {
		t.Error("esc did not leave the lens")
	}
	d.keys("?")
	if scr := d.screen(); !strings.Contains(scr, "external destinations") {
		t.Errorf("help lacks the lens key:\n%s", scr)
	}
}

func TestExternalLensStartsOpen(t *testing.T) {
	cfg := baseConfig(loadedStore())
	cfg.External, cfg.StartExternal = &fakeExternal{}, true
	d := newDriver(t, cfg, 80, 24)
	if scr := d.screen(); !strings.Contains(scr, "no destinations outside the cluster yet") || !strings.Contains(scr, "0 destinations") {
		t.Errorf("empty lens:\n%s", scr)
	}
}

func TestNoLensWithoutReader(t *testing.T) {
	d := newDriver(t, baseConfig(loadedStore()), 80, 24)
	d.keys("4", "b")
	if (d.m.external() != nil) || d.m.both || strings.Contains(d.screen(), "External") {
		t.Error("lens or both-legs view without a source")
	}
}

// meshStores are the two stores of a sidecar session: one request shown
// once (app leg), and the full store with its network-leg twin.
func meshStores() (shown, all *fakeStore) {
	app := exchange(1, 0, "GET", "/reviews/1", 200, "", "", "application/json", `{"id":1}`)
	app.Leg, app.Direction, app.Linked = decode.LegApp, decode.DirOutbound, 5
	app.FlowID = 4
	twin := exchange(2, 1, "GET", "/reviews/1", 200, "", "", "application/json", `{"id":1}`)
	twin.Leg, twin.Direction, twin.Linked, twin.FlowID = decode.LegNetwork, decode.DirOutbound, 4, 5
	flows := []*decode.Flow{
		{ID: 4, Transport: "tcp", Proto: "http/1.1", Client: netip.MustParseAddrPort("10.1.2.3:40001"),
			Server: netip.MustParseAddrPort("127.0.0.1:15001"), First: at(0), Last: at(20), State: decode.FlowClosed,
			Leg: decode.LegApp, Direction: decode.DirOutbound},
		{ID: 5, Transport: "tcp", Proto: "tls", Client: netip.MustParseAddrPort("10.1.2.3:50001"),
			Server: netip.MustParseAddrPort("10.1.5.7:8080"), First: at(0), Last: at(20), State: decode.FlowClosed,
			SNI: "outbound_.8080_._.reviews.default.svc.cluster.local", TLS: &decode.TLSInfo{Version: "TLS 1.3"},
			Leg: decode.LegNetwork, Direction: decode.DirOutbound},
	}
	shown, all = newFakeStore(), newFakeStore()
	shown.add(app)
	all.add(app, twin)
	shown.fl, all.fl = flows, flows
	return shown, all
}

func TestBothLegs(t *testing.T) {
	shown, all := meshStores()
	cfg := baseConfig(shown)
	cfg.Both = all
	d := newDriver(t, cfg, 150, 30)
	if got := strings.Count(d.screen(), "/reviews/1"); got != 1 {
		t.Fatalf("request listed %d times by default:\n%s", got, d.screen())
	}
	d.keys("b")
	scr := d.screen()
	if got := strings.Count(scr, "/reviews/1"); got != 2 || !strings.Contains(scr, "both legs") {
		t.Fatalf("both legs: request listed %d times:\n%s", got, scr)
	}
	d.keys("b")
	if got := strings.Count(d.screen(), "/reviews/1"); got != 1 || d.m.both {
		t.Fatalf("back to once: listed %d times", got)
	}

	// The detail of the app-leg request names its network leg.
	d.keys("enter", "tab", "tab")
	scr = d.screen()
	for _, want := range []string{"app leg (app ⇄ sidecar) · outbound", "network    flow #5 10.1.2.3:50001 → 10.1.5.7:8080",
		"SNI outbound_.8080_._.reviews.default.svc.cluster.local", "TLS, not decrypted"} {
		if !strings.Contains(scr, want) {
			t.Errorf("timing tab lacks %q:\n%s", want, scr)
		}
	}
	// And a flow's detail says which leg it is.
	d.keys("esc", "2", "j", "enter")
	if scr := d.screen(); !strings.Contains(scr, "network leg (sidecar ⇄ network) · outbound") {
		t.Errorf("flow detail lacks its leg:\n%s", scr)
	}
}
