package main

import (
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// TestPublicTunnelExchangesMatchTshark reads the public tunnel captures
// of testdata/tunnels (Zeek's, suricata-verify's, tcpdump's) with
// `tapview open -o json` and compares each file's HTTP and DNS exchanges
// (inner client and server address, method, target, status, DNS name)
// with tshark's dissection, and each exchange's flow's tunnel kind with
// the outermost encapsulation tshark finds around the request. HTTP in
// ERSPAN and DNS in PPTP's GRE version 1, which tapview leaves
// encapsulated, are not expected.
func TestPublicTunnelExchangesMatchTshark(t *testing.T) {
	needTshark(t)
	var files []string
	for _, dir := range []string{"zeek", "suricata-verify", "tcpdump"} {
		f, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "tunnels", dir, "*.pcap"))
		files = append(files, f...)
	}
	if len(files) < 30 {
		t.Fatalf("only %d public tunnel captures", len(files))
	}
	frames, runs := tsharkFramesByFile(t, files)
	exs := tapviewExchanges(t, runs, false)
	flows := tapviewExchanges(t, runs, true)
	total, tunnelled := 0, 0
	for _, file := range files {
		name := filepath.Base(file)
		var kept []tsharkFrame
		kinds := map[string]bool{}
		for _, f := range frames[file] {
			if f.hasLayer("erspan") || f.hasLayer("ppp") {
				continue
			}
			kept = append(kept, f)
			if len(f.col["http.request.method"])+len(f.col["dns.qry.name"]) > 0 && !f.hasLayer("icmp") {
				kinds[f.tunnelKind()] = true
			}
		}
		want := tsharkLines(kept, true)
		got := tapviewLines(exs[name], true)
		if name == "geneve-vxlan-dns-truncated.pcap" {
			// The capture cuts both DNS messages short (snap length
			// 176): tshark shows the names it got, tapview takes only
			// whole datagrams as DNS.
			if len(got) != 0 || len(want) != 2 {
				t.Errorf("%s: %q, tshark %q; want nothing and 2 lines", name, got, want)
			}
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d lines, tshark %d:\n%s", name, len(got), len(want), lineDiff(got, want))
		}
		total += len(want)
		// Every exchange's flow carries the tunnel tshark found. Flows
		// are matched by endpoints: flow ids are per run.
		byEnds := map[string]string{}
		for _, fl := range flows[name] {
			if fl.Tunnel != nil {
				byEnds[fl.Client+" "+fl.Server] = fl.Tunnel.Kind
			} else {
				byEnds[fl.Client+" "+fl.Server] = ""
			}
		}
		for _, e := range exs[name] {
			k, ok := byEnds[e.Client+" "+e.Server]
			if !ok {
				t.Errorf("%s: exchange %s > %s, no such flow", name, e.Client, e.Server)
				continue
			}
			if !kinds[k] {
				t.Errorf("%s: %s exchange on a flow tunnelled by %q, tshark finds %v", name, e.Proto, k, kinds)
			}
			if k != "" {
				tunnelled++
			}
		}
	}
	if total < 15 || tunnelled < 8 {
		t.Errorf("%d lines compared, %d exchanges tunnelled: the captures lost their traffic?", total, tunnelled)
	}
	t.Logf("%d files, %d request/response/DNS lines identical to tshark's, %d exchanges in tunnels ("+strconv.Itoa(len(runs))+" tshark runs)", len(files), total, tunnelled)
}
