package mesh

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

func TestParseSNI(t *testing.T) {
	cases := []struct {
		sni  string
		want Service
		ok   bool
	}{
		{"outbound_.9080_.v1_.reviews.default.svc.cluster.local", Service{Host: "reviews.default.svc.cluster.local", Port: 9080, Subset: "v1"}, true},
		{"outbound_.8080_._.reviews.default.svc.cluster.local", Service{Host: "reviews.default.svc.cluster.local", Port: 8080, Subset: ""}, true},
		{"inbound_.9080_._.productpage.default.svc.cluster.local", Service{Host: "productpage.default.svc.cluster.local", Port: 9080}, true},
		{"backend_kuma-demo_svc_3001{mesh=default}", Service{Host: "backend_kuma-demo_svc_3001", Port: 3001}, true},
		{"outbound_.x_._.reviews", Service{}, false},
		{"outbound_.80_.", Service{}, false},
		{"api.github.com", Service{}, false},
		{"", Service{}, false},
	}
	for _, c := range cases {
		got, ok := ParseSNI(c.sni)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseSNI(%q) = %+v %v, want %+v %v", c.sni, got, ok, c.want, c.ok)
		}
	}
}

func TestNames(t *testing.T) {
	for name, want := range map[string]bool{
		"api.github.com": true, "example.co.uk": true, "pastebin.com": true, "xn--bcher-kva.example": false,
		"reviews": false, "reviews.default": false, "reviews.default.svc.cluster.local": false,
		"db.internal": false, "printer.lan": false, "host.localdomain": false, "metadata.google.internal": false,
		"backend.mesh": false, "shop.xn--p1ai": true, "10.0.0.1": false,
	} {
		if got := publicName(name); got != want {
			t.Errorf("publicName(%q) = %v", name, got)
		}
	}
	for name, want := range map[string][2]any{
		"api.github.com.egress.local": {"api.github.com", true},
		"github.egress.local":         {"", true},
		"api.github.com":              {"", false},
	} {
		host, ok := egressHost(name, DefaultEgressSuffixes())
		if host != want[0] || ok != want[1] {
			t.Errorf("egressHost(%q) = %q %v", name, host, ok)
		}
	}
	for q, want := range map[string]string{
		"39.192.142.141.in-addr.arpa": "141.142.192.39",
		"b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa": "4321:0:1:2:3:4:567:89ab",
		"example.com":      "invalid IP",
		"1.2.in-addr.arpa": "invalid IP",
	} {
		ip, _ := reverseAddr(q)
		if ip.String() != want {
			t.Errorf("reverseAddr(%q) = %v, want %s", q, ip, want)
		}
	}
	var s scope
	for a, inside := range map[string]bool{"10.1.2.3": true, "100.64.0.9": true, "169.254.169.254": true, "fd00::1": true,
		"140.82.112.6": false, "2606:50c0::1": false, "::ffff:10.0.0.1": true, "224.0.0.251": true} {
		if got := s.inside(netip.MustParseAddr(a)); got != inside {
			t.Errorf("inside(%s) = %v", a, got)
		}
	}
}

type recorder struct{ ex []*decode.Exchange }

func (r *recorder) Flow(*decode.Flow)           {}
func (r *recorder) Exchange(e *decode.Exchange) { r.ex = append(r.ex, e) }
func (r *recorder) Note(sources.Status)         {}

// TestHoldRelease: a network-leg exchange nobody pairs is held back while
// pending, then shown once its wait is over (capture time), with every
// later version; a paired one never reaches the default output.
func TestHoldRelease(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := &recorder{}
	l := NewLabeler(out, Options{Hold: time.Second})
	pod := netip.MustParseAddr("10.1.2.3")
	// Evidence: an outbound redirect.
	l.Flow(&decode.Flow{ID: 1, Transport: "tcp", Client: netip.AddrPortFrom(pod, 40000), Server: netip.MustParseAddrPort("127.0.0.1:15001"), First: t0, Last: t0, State: decode.FlowOpen})
	// A network-leg connection the capture has no app leg for.
	nf := &decode.Flow{ID: 2, Transport: "tcp", Client: netip.AddrPortFrom(pod, 50000), Server: netip.MustParseAddrPort("198.51.100.1:80"), First: t0, Last: t0, State: decode.FlowOpen}
	l.Flow(nf)
	e := &decode.Exchange{ID: 10, FlowID: 2, Proto: "http/1.1", Client: nf.Client, Server: nf.Server, Start: t0, End: t0, State: decode.Pending, Version: 1,
		Request: &decode.Message{Method: "GET", Target: "/poll", Host: "updates.example.com"}}
	l.Exchange(e)
	if len(out.ex) != 0 {
		t.Fatal("an unpaired network-leg exchange was shown at once")
	}
	// Time passes on the capture clock (another flow moves).
	l.Flow(&decode.Flow{ID: 1, Transport: "tcp", Client: netip.AddrPortFrom(pod, 40000), Server: netip.MustParseAddrPort("127.0.0.1:15001"), First: t0, Last: t0.Add(1500 * time.Millisecond), State: decode.FlowOpen})
	if len(out.ex) != 1 || out.ex[0].Leg != decode.LegNetwork || out.ex[0].Direction != decode.DirOutbound {
		t.Fatalf("held exchange not released after Hold: %+v", out.ex)
	}
	e2 := *e
	e2.Version, e2.State, e2.End = 2, decode.Complete, t0.Add(2*time.Second)
	l.Exchange(&e2)
	if len(out.ex) != 2 || out.ex[1].Version != 2 {
		t.Fatalf("later version not shown: %d", len(out.ex))
	}
	if s := l.Stats(); s.Released != 1 || s.Duplicates != 0 || s.AppFlows != 1 || s.NetworkFlows != 1 {
		t.Errorf("stats %+v", s)
	}
}
