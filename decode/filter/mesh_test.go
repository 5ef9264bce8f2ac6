package filter

import (
	"testing"

	"github.com/tapview/tapview/decode"
)

// TestMeshVariables: direction and leg read the labels decode/mesh puts
// on exchanges and flows, natively and through CEL alike.
func TestMeshVariables(t *testing.T) {
	app := &decode.Exchange{Leg: decode.LegApp, Direction: decode.DirOutbound}
	net := &decode.Exchange{Leg: decode.LegNetwork, Direction: decode.DirInbound}
	plain := &decode.Exchange{}
	flow := &decode.Flow{Leg: decode.LegNetwork, Direction: decode.DirOutbound}
	cases := []struct {
		expr                 string
		app, net, plain, flw bool
	}{
		{`leg == "app"`, true, false, false, false},
		{`leg == "network" && direction == "inbound"`, false, true, false, false},
		{`direction == "outbound"`, true, false, false, true},
		{`leg == ""`, false, false, true, false},
		{`leg.startsWith("net")`, false, true, false, true},
		{`direction in ["inbound", "outbound"]`, true, true, false, true},
	}
	for _, c := range cases {
		p, err := Compile(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		got := [4]bool{p.Match(app), p.Match(net), p.Match(plain), p.MatchFlow(flow)}
		if got != [4]bool{c.app, c.net, c.plain, c.flw} {
			t.Errorf("%s: got %v", c.expr, got)
		}
		if p.isNative() {
			for _, v := range []values{&exchangeVars{e: app}, &exchangeVars{e: net}, &flowVars{f: flow}} {
				if p.run(v) != p.eval(v) {
					t.Errorf("%s: native and CEL disagree", c.expr)
				}
			}
		}
	}
	names := map[string]bool{}
	for _, v := range Variables() {
		names[v.Name] = v.Flow
	}
	if !names["direction"] || !names["leg"] {
		t.Errorf("direction and leg missing from Variables or not flow variables: %v", names)
	}
}
