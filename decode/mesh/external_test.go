package mesh_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mesh"
)

func groupNames(gs []mesh.Group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Name
	}
	return out
}

func findGroup(gs []mesh.Group, name string) *mesh.Group {
	for i := range gs {
		if gs[i].Name == name {
			return &gs[i]
		}
	}
	return nil
}

// feed publishes hand-made values the way a Labeler would.
type feed struct {
	x  *mesh.External
	id uint64
	t  time.Time
}

func (f *feed) flow(client, server string, mut func(*decode.Flow)) *decode.Flow {
	f.id++
	f.t = f.t.Add(time.Second)
	fl := &decode.Flow{ID: f.id, Transport: "tcp", Proto: "http/1.1", Client: netip.MustParseAddrPort(client),
		Server: netip.MustParseAddrPort(server), First: f.t, Last: f.t.Add(50 * time.Millisecond),
		State: decode.FlowClosed, BytesC2S: 100, BytesS2C: 200}
	if mut != nil {
		mut(fl)
	}
	f.x.Flow(fl)
	return fl
}

func (f *feed) request(fl *decode.Flow, host string, status int, hdr ...string) {
	f.id++
	e := &decode.Exchange{ID: f.id, FlowID: fl.ID, Proto: "http/1.1", Client: fl.Client, Server: fl.Server,
		Start: fl.First, End: fl.Last, State: decode.Complete, Leg: fl.Leg, Direction: fl.Direction,
		Request:  &decode.Message{Method: "GET", Target: "/", Host: host},
		Response: &decode.Message{Status: status}}
	for i := 0; i+1 < len(hdr); i += 2 {
		e.Response.Headers = append(e.Response.Headers, decode.Header{Name: hdr[i], Value: hdr[i+1]})
	}
	f.x.Exchange(e)
}

func TestExternalRules(t *testing.T) {
	t.Run("egress proxy names", func(t *testing.T) {
		f := &feed{x: mesh.NewExternal(nil, mesh.ExternalOptions{})}
		fl := f.flow("10.1.2.3:40001", "10.0.40.2:80", nil)
		f.request(fl, "api.stripe.com.egress.local", 200)
		gs := f.x.Groups()
		if len(gs) != 1 || gs[0].Name != "api.stripe.com" || gs[0].Via != "api.stripe.com.egress.local" || gs[0].Verdict != mesh.Passed {
			t.Fatalf("groups %+v", gs)
		}
	})
	t.Run("cluster CIDRs from the API", func(t *testing.T) {
		pod := &mesh.PodInfo{ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("10.96.0.0/12")}}
		f := &feed{x: mesh.NewExternal(nil, mesh.ExternalOptions{Pod: pod})}
		f.flow("10.0.1.5:40001", "10.200.0.9:5432", func(fl *decode.Flow) { fl.Proto = "" })    // VPC database, outside the cluster
		f.flow("10.0.1.5:40002", "10.96.3.4:5432", func(fl *decode.Flow) { fl.Proto = "" })     // a service inside
		f.flow("10.0.1.5:40003", "169.254.169.254:80", func(fl *decode.Flow) { fl.Proto = "" }) // metadata: link-local
		gs := f.x.Groups()
		if len(gs) != 1 || gs[0].Name != "10.200.0.9" || gs[0].Requests != 1 || gs[0].Bytes != 300 {
			t.Fatalf("groups %+v", gs)
		}
	})
	t.Run("namespaces from the API", func(t *testing.T) {
		// reviews.shop on a public address: "shop" is a public TLD, so
		// without the namespace list it is external; with it, it is the
		// service reviews in namespace shop. api.example.shop stays
		// external either way (three labels are not service.namespace).
		for _, c := range []struct {
			namespaces []string
			want       string
		}{{nil, "api.example.shop reviews.shop"}, {[]string{"shop", "default"}, "api.example.shop"}} {
			pod := &mesh.PodInfo{Namespaces: c.namespaces}
			f := &feed{x: mesh.NewExternal(nil, mesh.ExternalOptions{Pod: pod})}
			f.request(f.flow("10.1.2.3:40001", "198.51.100.7:80", nil), "reviews.shop", 200)
			f.request(f.flow("10.1.2.3:40002", "198.51.100.8:80", nil), "api.example.shop", 200)
			names := groupNames(f.x.Groups())
			slices.Sort(names)
			if got := strings.Join(names, " "); got != c.want {
				t.Errorf("namespaces %v: external %q, want %q", c.namespaces, got, c.want)
			}
		}
	})
	t.Run("private ranges without the API", func(t *testing.T) {
		f := &feed{x: mesh.NewExternal(nil, mesh.ExternalOptions{})}
		f.flow("10.0.1.5:40001", "10.200.0.9:5432", nil)
		f.flow("10.0.1.5:40002", "100.64.3.4:443", nil)
		if gs := f.x.Groups(); len(gs) != 0 {
			t.Fatalf("private destinations listed: %+v", gs)
		}
	})
	t.Run("verdicts", func(t *testing.T) {
		f := &feed{x: mesh.NewExternal(nil, mesh.ExternalOptions{})}
		up := f.flow("10.1.2.3:40001", "198.51.100.7:80", nil)
		f.request(up, "api.example.net", 503, "server", "envoy", "x-envoy-upstream-service-time", "12")
		f.request(up, "api.example.net", 200)
		nh := f.flow("10.1.2.3:40002", "198.51.100.8:80", nil)
		f.request(nh, "down.example.net", 503, "server", "envoy")
		rbac := f.flow("10.1.2.3:40003", "198.51.100.9:80", nil)
		f.request(rbac, "denied.example.net", 403, "server", "envoy")
		gs := f.x.Groups()
		if got := strings.Join(groupNames(gs), " "); got != "denied.example.net down.example.net api.example.net" {
			t.Fatalf("order %q", got)
		}
		if g := gs[2]; g.Verdict != mesh.Passed || g.Requests != 2 || g.Errors != 1 || !strings.Contains(g.Reason, "503 from the destination") {
			t.Errorf("upstream 503: %+v", g)
		}
		if g := gs[1]; g.Verdict != mesh.Failed || g.Errors != 1 || !strings.Contains(g.Reason, "from Envoy") {
			t.Errorf("envoy 503: %+v", g)
		}
		if g := gs[0]; g.Verdict != mesh.Blocked {
			t.Errorf("envoy 403: %+v", g)
		}
	})
	t.Run("bounded table", func(t *testing.T) {
		f := &feed{x: mesh.NewExternal(nil, mesh.ExternalOptions{MaxGroups: 2})}
		for _, h := range []string{"a.example.com", "b.example.com", "c.example.com"} {
			f.request(f.flow("10.1.2.3:40001", "198.51.100.7:80", nil), h, 200)
		}
		gs := f.x.Groups()
		if got := strings.Join(groupNames(gs), " "); got != "b.example.com c.example.com" || f.x.Evicted() != 1 {
			t.Fatalf("kept %q, evicted %d", got, f.x.Evicted())
		}
	})
	t.Run("changed since", func(t *testing.T) {
		f := &feed{x: mesh.NewExternal(nil, mesh.ExternalOptions{})}
		f.request(f.flow("10.1.2.3:40001", "198.51.100.7:80", nil), "a.example.com", 200)
		_, gen := f.x.GroupsSince(0)
		f.request(f.flow("10.1.2.3:40002", "198.51.100.8:80", nil), "b.example.com", 200)
		gs, gen2 := f.x.GroupsSince(gen)
		if len(gs) != 1 || gs[0].Name != "b.example.com" || gen2 <= gen {
			t.Fatalf("changed since %d: %+v (gen %d)", gen, gs, gen2)
		}
		if gs, _ := f.x.GroupsSince(gen2); len(gs) != 0 {
			t.Fatalf("nothing changed, got %+v", gs)
		}
	})
}
