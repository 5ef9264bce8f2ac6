package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mesh"
	"github.com/tapview/tapview/decode/pipeline"
	"github.com/tapview/tapview/decode/store"
	"github.com/tapview/tapview/decode/view"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/ui"
)

// externalEvery is how often a live headless session prints the external
// destinations that changed.
const externalEvery = 10 * time.Second

// meshFlags are the service-mesh options of every session.
type meshFlags struct {
	external bool
}

func (f *meshFlags) add(fs *pflag.FlagSet) {
	fs.BoolVar(&f.external, "external", false,
		"list destinations outside the cluster (by name, with requests, bytes, errors and a passed/blocked/failed verdict) "+
			"instead of exchanges; -o json prints {\"type\":\"external\"} lines, the UI opens on them (key 4)")
}

// meshPodSource is what a source can tell about the pod it captures (the
// Kubernetes attach source knows it from the API). Sources without it
// leave everything to inference from the traffic.
type meshPodSource interface {
	MeshPod() (mesh.PodInfo, bool)
}

// podNetworkSource is the Kubernetes attach source's view of its pod in
// plain values (sources do not import decode/mesh).
type podNetworkSource interface {
	PodNetwork() (ip netip.Addr, sidecar bool, ranges []netip.Prefix, ok bool)
}

// clusterNamesSource is the attach source's list of the cluster's
// namespaces (the pod's own first), which makes "reviews.shop" an
// in-cluster name.
type clusterNamesSource interface {
	ClusterNamespaces() []string
}

// podInfo is the mesh context of a source, when it knows its pod.
func podInfo(src sources.Source) (mesh.PodInfo, bool) {
	if s, ok := src.(meshPodSource); ok {
		return s.MeshPod()
	}
	if s, ok := src.(podNetworkSource); ok {
		if ip, sidecar, ranges, ok := s.PodNetwork(); ok {
			p := mesh.PodInfo{IP: ip, Sidecar: sidecar, InboundPort: mesh.DefaultInboundPort,
				OutboundPort: mesh.DefaultOutboundPort, ClusterCIDRs: ranges}
			if n, ok := src.(clusterNamesSource); ok {
				p.Namespaces = n.ClusterNamespaces()
			}
			return p, true
		}
	}
	return mesh.PodInfo{}, false
}

// pod returns the pod context of the one source that knows it, or nil:
// then the sidecar, its ports and the pod's address are inferred from the
// traffic.
func pod(inputs []input) *mesh.PodInfo {
	var found []mesh.PodInfo
	for _, in := range inputs {
		if p, ok := podInfo(in.src); ok {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		return nil // none, or several pods: no one pod's view applies
	}
	return &found[0]
}

// headless wraps a headless writer: mesh labels on everything, each
// request once; with --external the writer gets only status notes and
// done prints the destinations (at the end, and every externalEvery while
// live sources run). done must be called once the pipeline returned.
func (f *meshFlags) headless(ctx context.Context, inputs []input, w decode.Output, print func([]mesh.Group)) (decode.Output, func()) {
	pod := pod(inputs)
	if !f.external {
		return mesh.NewLabeler(w, mesh.Options{Pod: pod}), func() {}
	}
	x := mesh.NewExternal(notesOnly{w}, mesh.ExternalOptions{Pod: pod})
	out := mesh.NewLabeler(x, mesh.Options{Pod: pod})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if live(inputs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(externalEvery)
			defer t.Stop()
			var gen uint64
			for {
				select {
				case <-t.C:
					var gs []mesh.Group
					if gs, gen = x.GroupsSince(gen); len(gs) > 0 {
						print(gs)
					}
				case <-ctx.Done():
					return
				case <-stop:
					return
				}
			}
		}()
	}
	done := func() {
		close(stop)
		wg.Wait()
		print(x.Groups())
	}
	return out, done
}

// ui builds the UI's mesh parts over the session's store: the pipeline
// output (labels; everything into both, each request once into a view
// of it), the stats sink, and a hook that fills the UI config (the view
// as the default store, both legs behind b, the external lens). The view
// shares both's data, so the two lists cost one copy of each exchange.
func (f *meshFlags) ui(inputs []input, both *store.Store) (decode.Output, pipeline.StatsSink, func(*ui.Config)) {
	pod := pod(inputs)
	once := both.View()
	x := mesh.NewExternal(once, mesh.ExternalOptions{Pod: pod})
	out := mesh.NewLabeler(x, mesh.Options{Pod: pod, All: both})
	fill := func(cfg *ui.Config) {
		cfg.Store, cfg.Both, cfg.External, cfg.StartExternal = once, both, x, f.external
	}
	return out, both, fill
}

func live(inputs []input) bool {
	for _, in := range inputs {
		if in.live {
			return true
		}
	}
	return false
}

// notesOnly passes status notes to a writer and drops records, for
// --external where destinations replace exchanges.
type notesOnly struct{ w decode.Output }

func (n notesOnly) Flow(*decode.Flow)         {}
func (n notesOnly) Exchange(*decode.Exchange) {}
func (n notesOnly) Note(s sources.Status)     { n.w.Note(s) }

// tableExternal prints destinations as aligned rows.
func tableExternal(out io.Writer) func([]mesh.Group) {
	var mu sync.Mutex
	return func(gs []mesh.Group) {
		mu.Lock()
		defer mu.Unlock()
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VERDICT\tDESTINATION\tVIA\tREQS\tERR\tBYTES\tIPS\tREASON")
		for _, g := range gs {
			ips := make([]string, len(g.IPs))
			for i, ip := range g.IPs {
				ips[i] = ip.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", g.Verdict, view.Sanitize(g.Name), view.Sanitize(g.Via),
				g.Requests, g.Errors, g.Bytes, strings.Join(ips, ","), view.Sanitize(g.Reason))
		}
		tw.Flush()
	}
}
