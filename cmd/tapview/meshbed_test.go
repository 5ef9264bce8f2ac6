package main

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The mesh bed (scripts/meshbed.sh, issue 18) records a pod with Istio's
// real nat rules and a sidecar that reads SO_ORIGINAL_DST, captured with
// `tcpdump -i any` in the pod's namespace, and the sidecar's own log of
// what it did. These tests decode recordings through the real command and
// hold every request, flow, link and external destination to that log.

// TestMeshBedRecordings checks the recordings checked in under
// decode/mesh/testdata/meshbed.
func TestMeshBedRecordings(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "decode", "mesh", "testdata", "meshbed*"))
	if len(dirs) == 0 {
		t.Fatal("no mesh bed recordings (scripts/meshbed.sh --record makes them)")
	}
	for _, d := range dirs {
		t.Run(filepath.Base(d), func(t *testing.T) { checkBed(t, loadBed(t, d)) })
	}
}

// TestMeshBedLive runs the bed (root: network namespaces, iptables) and
// checks the fresh recording, so the checks hold on captures the
// checked-in ones did not happen to be.
func TestMeshBedLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the mesh bed (about 5 s)")
	}
	if os.Geteuid() != 0 {
		t.Skipf("the mesh bed needs root for network namespaces and iptables (running as uid %d)", os.Geteuid())
	}
	for _, c := range []string{"ip", "iptables-restore", "dnsmasq", "tcpdump", "setpriv"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("the mesh bed needs %s (scripts/test-deps.sh installs it)", c)
		}
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "meshbed.sh"), dir)
	cmd.Env = append(os.Environ(), fmt.Sprintf("MESHBED_PREFIX=mbt%d", os.Getpid()%100000))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("meshbed.sh: %v\n%s", err, out)
	}
	checkBed(t, loadBed(t, dir))
	if keep := os.Getenv("MESHBED_KEEP"); keep != "" && t.Failed() {
		// Keep the recording that failed, to look at or check in.
		to := filepath.Join(keep, fmt.Sprintf("meshbed-%d", time.Now().UnixNano()))
		if err := os.CopyFS(to, os.DirFS(dir)); err != nil {
			t.Log(err)
		} else {
			t.Logf("recording kept in %s", to)
		}
	}
}

func checkBed(t *testing.T, r bedRecording) {
	capture := filepath.Join(r.dir, "capture.pcap")
	for _, keys := range []struct {
		name  string
		files []string
	}{
		{"no keys", nil},
		{"app keys", []string{"app-keys.log"}},
		{"app and sidecar keys", []string{"app-keys.log", "sidecar-keys.log"}},
	} {
		t.Run(keys.name, func(t *testing.T) {
			args := []string{capture}
			if keys.files != nil {
				args = append([]string{"--keylog", r.keyFile(t, keys.files...)}, args...)
			}
			appKeys := keys.files != nil
			sidecarKeys := len(keys.files) == 2
			flows := runBed[bedFlow](t, "flow", append([]string{"--flows"}, args...)...)
			exs := runBed[bedExchange](t, "exchange", args...)
			groups := runBed[bedGroup](t, "external", append([]string{"--external"}, args...)...)
			checkBedFlows(t, r, flows)
			checkBedExchanges(t, r, flows, exs, appKeys, sidecarKeys)
			checkBedExternal(t, r, groups, appKeys)
		})
	}
}

// flowIndex finds flows by their client address.
type flowIndex struct {
	byID     map[uint64]bedFlow
	byClient map[string][]bedFlow
}

func indexFlows(flows []bedFlow) flowIndex {
	ix := flowIndex{byID: map[uint64]bedFlow{}, byClient: map[string][]bedFlow{}}
	for _, f := range flows {
		ix.byID[f.ID] = f
		ix.byClient[f.Client] = append(ix.byClient[f.Client], f)
	}
	return ix
}

// one returns the single flow from client to server ("" matches any).
func (ix flowIndex) one(t *testing.T, client, server string) (bedFlow, bool) {
	t.Helper()
	var found []bedFlow
	for _, f := range ix.byClient[client] {
		// Requests ride TCP; a DNS query may have used the same client
		// port over UDP.
		if f.Transport != "tcp" {
			continue
		}
		if server == "" || f.Server == server {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		t.Errorf("%d flows from %s to %q, want 1: %+v", len(found), client, server, found)
		return bedFlow{}, false
	}
	return found[0], true
}

// checkBedFlows: every flow in the capture is one the bed made, with the
// leg and direction of what it was.
func checkBedFlows(t *testing.T, r bedRecording, flows []bedFlow) {
	type want = struct{ leg, dir, server, orig string }
	expect := map[string]want{}
	for _, tr := range r.truth {
		switch tr.Dir {
		case "outbound":
			expect[tr.Down] = want{"app", "outbound", "127.0.0.1:15001", tr.Orig}
			if tr.UpLocal != "" {
				expect[tr.UpLocal] = want{"network", "outbound", tr.UpRemote, ""}
			}
		case "inbound":
			expect[tr.Down] = want{"network", "inbound", tr.Orig, ""}
			expect[tr.UpLocal] = want{"app", "inbound", tr.Orig, ""}
		}
	}
	seen := map[string]int{}
	for _, f := range flows {
		if f.Transport == "udp" {
			if !strings.HasSuffix(f.Server, ":53") || f.Leg != "network" || f.Direction != "outbound" {
				t.Errorf("DNS flow %s -> %s: leg %q direction %q", f.Client, f.Server, f.Leg, f.Direction)
			}
			continue
		}
		w, ok := expect[f.Client]
		if !ok {
			// A connection no request used: a sidecar pool may open one
			// it then does not need (a dial that lost the race to an
			// idle connection). Its role shows in its addresses.
			w, ok = unusedRole(r, f)
			if !ok {
				t.Errorf("flow %d %s -> %s (%s) is none the bed made", f.ID, f.Client, f.Server, f.State)
				continue
			}
		} else {
			seen[f.Client]++
		}
		if f.Leg != w.leg || f.Direction != w.dir || f.Server != w.server {
			t.Errorf("flow %d %s -> %s: leg %q direction %q, want %q %q to %s", f.ID, f.Client, f.Server, f.Leg, f.Direction, w.leg, w.dir, w.server)
		}
		if w.orig != "" && f.OrigDst != w.orig {
			t.Errorf("flow %d %s -> %s: original destination %q, want %s", f.ID, f.Client, f.Server, f.OrigDst, w.orig)
		}
	}
	for c := range expect {
		if seen[c] != 1 {
			t.Errorf("%d flows from %s, want 1", seen[c], c)
		}
	}
	// TLS the sidecar passed through: the two legs are paired.
	ix := indexFlows(flows)
	for _, tr := range r.truth {
		if tr.Kind != "tcp" {
			continue
		}
		app, ok := ix.one(t, tr.Down, "")
		if !ok {
			continue
		}
		if tr.UpLocal == "" {
			if app.Linked != 0 {
				t.Errorf("TLS to %s was reset by the sidecar, its flow is linked to %d", tr.SNI, app.Linked)
			}
			continue
		}
		up, ok := ix.one(t, tr.UpLocal, tr.UpRemote)
		if ok && (app.Linked != up.ID || up.Linked != app.ID) {
			t.Errorf("TLS to %s: app leg %d linked %d, network leg %d linked %d", tr.SNI, app.ID, app.Linked, up.ID, up.Linked)
		}
	}
}

// lookAlike reports whether the connection from upLocal carried another
// outbound request that looks like tr on the wire: to the same service,
// the same method, path length and status, in flight at the same time.
// With samePath the path must be equal too: then even decrypted bytes
// cannot tell the two apart.
func (r bedRecording) lookAlike(tr bedTruth, upLocal string, samePath bool) bool {
	for _, o := range r.truth {
		if o.UpLocal != upLocal || o.Dir != "outbound" || o.Kind != "http" || o.Down == tr.Down && o.Seq == tr.Seq {
			continue
		}
		if samePath && o.Path != tr.Path {
			continue
		}
		if o.UpRemote == tr.UpRemote && o.Method == tr.Method && len(o.Path) == len(tr.Path) && o.Status == tr.Status &&
			at(o.Start).Before(at(tr.End)) && at(tr.Start).Before(at(o.End)) {
			return true
		}
	}
	return false
}

func at(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// podAddr is the captured pod's address: where its app's calls come from.
func (r bedRecording) podAddr() string {
	for _, tr := range r.truth {
		if tr.Dir == "outbound" {
			if ap, err := netip.ParseAddrPort(tr.Down); err == nil {
				return ap.Addr().String()
			}
		}
	}
	return ""
}

// unusedRole is the leg and direction of a sidecar connection that
// carried no request, from its addresses.
func unusedRole(r bedRecording, f bedFlow) (w struct{ leg, dir, server, orig string }, ok bool) {
	c, err1 := netip.ParseAddrPort(f.Client)
	s, err2 := netip.ParseAddrPort(f.Server)
	if err1 != nil || err2 != nil {
		return w, false
	}
	pod := r.podAddr()
	switch {
	case c.Addr().String() == pod && s == netip.MustParseAddrPort("127.0.0.1:15001"):
		w.leg, w.dir = "app", "outbound" // the app's pool dialled one too many
	case c.Addr() == netip.MustParseAddr("127.0.0.6") && s.Addr().String() == pod:
		w.leg, w.dir = "app", "inbound"
	case s.Addr().String() == pod && !c.Addr().IsLoopback():
		w.leg, w.dir = "network", "inbound"
	case c.Addr().String() == pod && !s.Addr().IsLoopback():
		w.leg, w.dir = "network", "outbound"
	default:
		return w, false
	}
	w.server = f.Server
	return w, true
}

// checkBedExchanges: every request the app made or served appears once,
// on the app leg, with its status and direction, linked to the network
// connection that carried it.
//
// Without the sidecar's keys the network leg is opaque, and a request is
// linked by timing alone. Requests in flight at once to the same
// service, alike in method, path length and status, look the same on
// the wire; the capture cannot tell which of their connections carried
// which, so a link to a twin's connection is accepted there, and only
// there. With the sidecar's keys every link must be exact.
func checkBedExchanges(t *testing.T, r bedRecording, flows []bedFlow, exs []bedExchange, appKeys, sidecarKeys bool) {
	ix := indexFlows(flows)
	// The shown requests by app-leg flow, in order.
	onFlow := map[uint64][]bedExchange{}
	for _, e := range exs {
		if e.Proto == "dns" {
			continue
		}
		if e.Leg != "app" {
			t.Errorf("exchange %d %s %s%s shown from the %q leg (flow %s -> %s)", e.ID, e.Method, e.Host, e.Path, e.Leg, e.Client, e.Server)
			continue
		}
		onFlow[e.Flow] = append(onFlow[e.Flow], e)
	}
	for id := range onFlow {
		sort.SliceStable(onFlow[id], func(i, j int) bool { return onFlow[id][i].Start < onFlow[id][j].Start })
	}
	type expected struct {
		tr          bedTruth
		flowClient  string
		method      string
		path        string
		status      int
		dir         string
		linkClient  string // "" means no link
		linkServer  string
		forExchange bool
	}
	var wants []expected
	inboundByUp := map[string][]bedTruth{}
	for _, tr := range r.truth {
		switch {
		case tr.Dir == "outbound" && tr.Kind == "http":
			wants = append(wants, expected{tr: tr, flowClient: tr.Down, method: tr.Method, path: tr.Path, status: tr.Status, dir: "outbound",
				linkClient: tr.UpLocal, linkServer: tr.UpRemote})
		case tr.Dir == "outbound" && tr.Kind == "tcp" && appKeys && tr.UpLocal != "":
			for _, a := range r.app {
				u, err := url.Parse(a.URL)
				if err != nil || a.Dir != "outbound" || u.Scheme != "https" || u.Hostname() != tr.SNI || a.Local != tr.Down {
					continue
				}
				wants = append(wants, expected{tr: tr, flowClient: tr.Down, method: a.Method, path: u.RequestURI(), status: a.Status, dir: "outbound",
					linkClient: tr.UpLocal, linkServer: tr.UpRemote})
			}
		case tr.Dir == "inbound":
			inboundByUp[tr.UpLocal] = append(inboundByUp[tr.UpLocal], tr)
		}
	}
	for up, trs := range inboundByUp {
		sort.SliceStable(trs, func(i, j int) bool { return trs[i].Start < trs[j].Start })
		for _, tr := range trs {
			wants = append(wants, expected{tr: tr, flowClient: up, method: tr.Method, path: tr.Path, status: tr.Status, dir: "inbound",
				linkClient: tr.Down, linkServer: tr.Orig})
		}
	}
	// Walk each app-leg flow's requests in order against the truth.
	next := map[uint64]int{}
	total := 0
	for _, w := range wants {
		what := fmt.Sprintf("%s %s %s%s (sidecar saw it from %s)", w.dir, w.method, w.tr.Host+w.tr.SNI, w.path, w.tr.Down)
		f, ok := ix.one(t, w.flowClient, "")
		if !ok {
			t.Errorf("%s: no app-leg flow", what)
			continue
		}
		list := onFlow[f.ID]
		i := next[f.ID]
		if i >= len(list) {
			t.Errorf("%s: missing from the output (flow %d has %d requests)", what, f.ID, len(list))
			continue
		}
		e := list[i]
		next[f.ID]++
		total++
		if e.Method != w.method || e.Path != w.path || e.Status != w.status || e.Direction != w.dir || e.State != "complete" {
			t.Errorf("%s: shown as %s %s status %d direction %q state %q", what, e.Method, e.Path, e.Status, e.Direction, e.State)
		}
		switch {
		case w.linkClient == "" && e.Linked != 0:
			lf := ix.byID[e.Linked]
			t.Errorf("%s: no network connection carried it, linked to flow %d %s -> %s", what, e.Linked, lf.Client, lf.Server)
		case w.linkClient != "":
			lf, ok := ix.byID[e.Linked]
			if ok && !sidecarKeys && lf.Client != w.linkClient && r.lookAlike(w.tr, lf.Client, false) {
				t.Logf("%s: linked to the connection of a request just like it (allowed without the sidecar's keys)", what)
				break
			}
			if ok && sidecarKeys && lf.Client != w.linkClient && r.lookAlike(w.tr, lf.Client, true) {
				// Two identical requests at once to the same service: the
				// decrypted bytes are the same too, so either pairing is
				// what the capture shows.
				t.Logf("%s: linked to the connection of an identical request made at the same time (allowed: no bytes tell them apart)", what)
				break
			}
			if !ok || lf.Client != w.linkClient || lf.Server != w.linkServer {
				t.Errorf("%s: carried by %s -> %s, linked to flow %d %s -> %s", what, w.linkClient, w.linkServer, e.Linked, lf.Client, lf.Server)
			}
		}
	}
	shown := 0
	for id, list := range onFlow {
		shown += len(list)
		if next[id] < len(list) {
			for _, e := range list[next[id]:] {
				t.Errorf("exchange %d %s %s%s on flow %d (%s -> %s) is no request the bed made, or a duplicate", e.ID, e.Method, e.Host, e.Path, e.Flow, e.Client, e.Server)
			}
		}
	}
	if total != len(wants) || shown != len(wants) {
		t.Errorf("%d requests made, %d matched, %d shown", len(wants), total, shown)
	}
}

// checkBedExternal: each destination outside the cluster by name, with
// the verdict and request count of what the sidecar did, and nothing
// inside the cluster.
func checkBedExternal(t *testing.T, r bedRecording, groups []bedGroup, appKeys bool) {
	type want struct {
		requests                int
		passed, blocked, failed int
		reasons                 []string
		ips                     []string
		via                     string
	}
	wants := map[string]*want{}
	for _, tr := range r.truth {
		if tr.Dir != "outbound" || tr.Route == "mesh" {
			continue
		}
		name, via := strings.ToLower(tr.SNI), ""
		if tr.Kind == "http" {
			name = tr.Host
			if h, _, err := net.SplitHostPort(name); err == nil {
				name = h
			}
			if host, ok := strings.CutSuffix(name, ".egress.local"); ok {
				name, via = host, name
			}
		}
		w := wants[name]
		if w == nil {
			w = &want{via: via}
			wants[name] = w
		}
		n := 1
		if tr.Kind == "tcp" && appKeys && tr.UpLocal != "" {
			n = r.httpsRequests(tr.SNI)
		}
		w.requests += n
		switch tr.Verdict {
		case "passed":
			w.passed += n
		case "blocked-502":
			w.blocked += n
			w.reasons = append(w.reasons, "502")
		case "blocked-reset":
			w.blocked += n
			w.reasons = append(w.reasons, "reset")
		case "failed":
			w.failed += n
		}
		if tr.UpRemote != "" && via == "" {
			if ap, err := netip.ParseAddrPort(tr.UpRemote); err == nil && !slices.Contains(w.ips, ap.Addr().String()) {
				w.ips = append(w.ips, ap.Addr().String())
			}
		}
	}
	got := map[string]bedGroup{}
	for _, g := range groups {
		got[g.Name] = g
		if wants[g.Name] == nil {
			t.Errorf("external destination %q (%s, %d requests) is none the app called outside the cluster", g.Name, g.Verdict, g.Requests)
		}
	}
	for name, w := range wants {
		g, ok := got[name]
		if !ok {
			t.Errorf("external destination %s missing", name)
			continue
		}
		verdict := "failed"
		switch {
		case w.blocked > 0:
			verdict = "blocked"
		case w.passed > 0:
			verdict = "passed"
		}
		if g.Verdict != verdict || g.Requests != w.requests || g.Via != w.via {
			t.Errorf("%s: %s, %d requests, via %q; want %s, %d requests, via %q", name, g.Verdict, g.Requests, g.Via, verdict, w.requests, w.via)
		}
		for _, why := range w.reasons {
			if !strings.Contains(g.Reason, why) {
				t.Errorf("%s: reason %q, want one naming %q", name, g.Reason, why)
			}
		}
		for _, ip := range w.ips {
			if !slices.Contains(g.IPs, ip) {
				t.Errorf("%s: addresses %v lack %s", name, g.IPs, ip)
			}
		}
	}
}
