package mesh_test

import (
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/mesh"
	"github.com/tapview/tapview/sources"
)

// decodeCorpus runs one corpus capture through Labeler and External.
func decodeCorpus(t *testing.T, file string) (*mesh.External, *mesh.Labeler, *collector) {
	t.Helper()
	out := newCollector()
	x := mesh.NewExternal(out, mesh.ExternalOptions{})
	l := mesh.NewLabeler(x, mesh.Options{})
	decodeInto(corpustest.Read(t, file), nil, l)
	return x, l, out
}

// tsharkNames returns the HTTP Host and TLS SNI names tshark sees sent to
// public addresses in a capture, and the HTTP requests per name.
func tsharkNames(t *testing.T, file string) map[string]int {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	path := filepath.Join(corpustest.Dir(t), file)
	out, err := exec.Command("tshark", "-n", "-r", path, "-Y", "http.request || tls.handshake.type == 1",
		"-T", "fields", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "http.host", "-e", "tls.handshake.extensions_server_name").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	names := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 4 {
			continue
		}
		ip, err := netip.ParseAddr(f[0] + f[1])
		if err != nil || ip.IsPrivate() || ip.IsLoopback() {
			continue
		}
		if f[2] != "" {
			names[strings.ToLower(f[2])]++
		} else if f[3] != "" {
			names[strings.ToLower(f[3])] += 0
		}
	}
	return names
}

// TestExternalCorpus checks the lens on real captures against tshark:
// every Host and SNI sent to a public address is a destination, with as
// many requests as tshark counts HTTP requests (a TLS connection without
// keys is one request), and nothing private shows up.
func TestExternalCorpus(t *testing.T) {
	for _, file := range []string{
		"http11_get_plain.pcap", "http11_keepalive_5req_1conn.pcap", "http11_get_gzip.pcap",
		"tls12_clienthello_split_3segments_sni.pcap", "tls13_sll2_sni_zeek_org.pcap",
		"pcapng_dsb_tls_keys_decryptable.pcapng", "mix_non_http_services.pcap",
	} {
		t.Run(file, func(t *testing.T) {
			want := tsharkNames(t, file)
			x, l, _ := decodeCorpus(t, file)
			if l.Meshed() {
				t.Errorf("a sidecar was inferred in %s", file)
			}
			gs := x.Groups()
			for name, reqs := range want {
				g := findGroup(gs, name)
				if g == nil {
					t.Errorf("%s missing from %v", name, groupNames(gs))
					continue
				}
				if reqs == 0 {
					reqs = 1 // the TLS connection
				}
				if g.Requests != int64(reqs) || g.Verdict != mesh.Passed || g.Bytes == 0 || len(g.IPs) == 0 {
					t.Errorf("%s: %+v, want %d passed requests", name, *g, reqs)
				}
			}
			for _, g := range gs {
				for _, ip := range g.IPs {
					if ip.IsPrivate() || ip.IsLoopback() {
						t.Errorf("%s lists private address %v", g.Name, ip)
					}
				}
				if _, ok := want[g.Name]; !ok && file != "mix_non_http_services.pcap" {
					t.Errorf("unexpected destination %+v", g)
				}
			}
		})
	}
}

// TestExternalCorpusDNS: names come from DNS answers seen earlier. The
// SSH connection in the mix capture goes to an address the pod resolved
// as osage.localdomain (a CNAME to a public host); the resolver traffic
// itself is no destination.
func TestExternalCorpusDNS(t *testing.T) {
	x, _, _ := decodeCorpus(t, "mix_non_http_services.pcap")
	gs := x.Groups()
	g := findGroup(gs, "osage.localdomain")
	if g == nil || g.Verdict != mesh.Passed || g.Requests != 1 || !slices.Contains(g.IPs, netip.MustParseAddr("141.142.192.39")) {
		t.Fatalf("osage.localdomain: %+v in %v", g, groupNames(gs))
	}
	for _, g := range gs {
		if strings.HasSuffix(g.Name, ".arpa") || g.Name == "172.16.238.2" {
			t.Errorf("resolver traffic listed: %+v", g)
		}
	}

	// A connection after the answers in dns_udp_query_response.pcap is
	// named by them; the query itself is not a destination.
	out := newCollector()
	x = mesh.NewExternal(out, mesh.ExternalOptions{})
	decodeInto(corpustest.Read(t, "dns_udp_query_response.pcap"), nil, mesh.NewLabeler(x, mesh.Options{}))
	if gs := x.Groups(); len(gs) != 0 {
		t.Fatalf("DNS alone made destinations: %+v", gs)
	}
	var answered []string
	for _, e := range out.exchanges() {
		if e.DNS != nil {
			answered = append(answered, e.DNS.Answers...)
		}
	}
	if len(answered) == 0 {
		t.Fatal("no DNS answers decoded")
	}
	ip := netip.MustParseAddr(strings.TrimPrefix(answered[0], "A "))
	x.Flow(&decode.Flow{ID: 99, Transport: "tcp", Client: netip.MustParseAddrPort("192.168.1.11:50000"),
		Server: netip.AddrPortFrom(ip, 443), First: time.Now(), Last: time.Now(), State: decode.FlowOpen, BytesS2C: 10})
	if gs := x.Groups(); len(gs) != 1 || gs[0].Name != "www.tcpdump.org" {
		t.Fatalf("connection to %v named %v", ip, groupNames(gs))
	}
}

// TestNoMeshInCorpus: no corpus capture has a sidecar, so nothing gets a
// leg, and the Labeler passes every exchange through.
func TestNoMeshInCorpus(t *testing.T) {
	for _, row := range corpustest.Manifest(t) {
		file := row["file"]
		t.Run(file, func(t *testing.T) {
			direct := newCollector()
			pkts := corpustest.Read(t, file)
			decodeInto(pkts, nil, direct)
			_, l, out := decodeCorpus(t, file)
			if l.Meshed() {
				t.Fatalf("sidecar inferred")
			}
			if len(out.order) != len(direct.order) {
				t.Errorf("%d exchanges through the labeler, %d direct", len(out.order), len(direct.order))
			}
			for _, f := range out.flows {
				if f.Leg != "" || f.Direction != "" || f.Linked != 0 {
					t.Errorf("flow %v -> %v labelled %q %q %d", f.Client, f.Server, f.Leg, f.Direction, f.Linked)
				}
			}
		})
	}
}

// TestExternalSeveralSources: captures from different years decoded in
// one session keep their own clocks, so no flow is forgotten and counted
// twice, and each destination has the counts it has alone.
func TestExternalSeveralSources(t *testing.T) {
	// A newer capture after an older one, as sources read side by side
	// interleave: the older one's flows are republished at the end.
	files := []string{"mix_non_http_services.pcap", "tls13_sll2_sni_zeek_org.pcap", "http11_keepalive_5req_1conn.pcap"}
	alone := map[string]mesh.Group{}
	var pkts []sources.Packet
	for _, f := range files {
		x, _, _ := decodeCorpus(t, f)
		for _, g := range x.Groups() {
			alone[g.Name] = g
		}
		pkts = append(pkts, corpustest.Read(t, f)...)
	}
	x := mesh.NewExternal(nil, mesh.ExternalOptions{})
	decodeInto(pkts, nil, mesh.NewLabeler(x, mesh.Options{}))
	gs := x.Groups()
	if len(gs) != len(alone) {
		t.Fatalf("%v together, %d alone", groupNames(gs), len(alone))
	}
	for _, g := range gs {
		a := alone[g.Name]
		if g.Requests != a.Requests || g.Bytes != a.Bytes || g.Verdict != a.Verdict {
			t.Errorf("%s together %d requests %d bytes %s, alone %d %d %s", g.Name, g.Requests, g.Bytes, g.Verdict, a.Requests, a.Bytes, a.Verdict)
		}
	}
}
