package link_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tcp"
)

// tunnelDir is testdata/tunnels at the module root: captures recorded by
// scripts/record-tunnels.sh and public ones from tcpdump's test suite.
func tunnelDir(t *testing.T) string {
	t.Helper()
	return filepath.Join("..", "..", "testdata", "tunnels")
}

func needTshark(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (scripts/test-deps.sh installs it)")
	}
	return bin
}

// tunnelCaptures lists the recorded captures in testdata/tunnels and
// the public ones in its subdirectories (one per project they come
// from: tcpdump, zeek, suricata-verify).
func tunnelCaptures(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(tunnelDir(t), "*.pcap"))
	pub, _ := filepath.Glob(filepath.Join(tunnelDir(t), "*", "*.pcap"))
	return append(files, pub...)
}

// tsharkArgs decodes UDP 8472 as VXLAN (the Linux default port Flannel
// and Cilium use) as Parse does; tshark only knows 4789 by itself.
var tsharkArgs = []string{"-d", "udp.port==8472,vxlan"}

// innermost is what a frame's innermost IP packet is, per Parse or per
// tshark.
type innermost struct {
	src, dst         netip.Addr
	proto            string // "tcp", "udp" or ""
	srcPort, dstPort int
	// tunnel is the outermost encapsulation removed ("ipip", "gre",
	// "vxlan", "geneve"; "" for none) and depth how many were.
	tunnel string
	depth  int
}

func (i innermost) String() string {
	return fmt.Sprintf("%v:%d > %v:%d %s (tunnel %q depth %d)", i.src, i.srcPort, i.dst, i.dstPort, i.proto, i.tunnel, i.depth)
}

// tsharkInnermost lists, per frame, the innermost IP packet tshark finds
// by following only the encapsulations Parse removes (IPIP, GRE carrying
// IP or Ethernet, VXLAN, Geneve): the walk along frame.protocols stops at
// any other layer (Cisco metadata, ERSPAN, MPLS), so the expectation is
// the packet that carries it. Frames without IP, or whose tunnel carries
// a non-IP Ethernet frame (ARP), get ok=false.
func tsharkInnermost(t *testing.T, bin, file string) (out []innermost, ok []bool) {
	t.Helper()
	args := append([]string{"-n", "-r", file}, tsharkArgs...)
	args = append(args, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
		"-e", "frame.protocols", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst",
		"-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "udp.srcport", "-e", "udp.dstport")
	raw, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", file, err)
	}
	for _, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
		col := strings.Split(line, "\t")
		for len(col) < 9 {
			col = append(col, "")
		}
		occ := func(i, n int) string {
			v := strings.Split(col[i], ";")
			if n < len(v) {
				return v[n]
			}
			return ""
		}
		var ip4, ip6, tcp, udp int // layers seen so far
		var cur innermost
		found, inTunnel, prev := false, false, ""
		// pending is a tunnel layer seen (GRE, VXLAN, Geneve) whose
		// inner IP packet has not been reached yet; an IP layer right
		// after an IP layer is IP-in-IP.
		var kind, pending string
		depth := 0
		enter := func(k string) {
			if kind == "" {
				kind = k
			}
			depth++
		}
		layers := strings.Split(col[0], ":")
		layersOK := map[string]bool{"eth": true, "ethertype": true, "vlan": true, "ip": true, "ipv6": true,
			"udp": true, "tcp": true, "gre": true, "vxlan": true, "geneve": true}
	walk:
		for _, l := range layers {
			last := prev
			prev = l
			switch l {
			case "ip", "ipv6":
				if last == "ip" || last == "ipv6" {
					enter("ipip")
				} else if pending != "" {
					enter(pending)
				}
				pending = ""
				if l == "ip" {
					cur = innermost{src: netip.MustParseAddr(occ(1, ip4)), dst: netip.MustParseAddr(occ(2, ip4))}
					ip4++
				} else {
					cur = innermost{src: netip.MustParseAddr(occ(3, ip6)), dst: netip.MustParseAddr(occ(4, ip6))}
					ip6++
				}
				cur.tunnel, cur.depth = kind, depth
				found = true
			case "tcp":
				cur.proto = "tcp"
				cur.srcPort, _ = strconv.Atoi(occ(5, tcp))
				cur.dstPort, _ = strconv.Atoi(occ(6, tcp))
				tcp++
				break walk
			case "udp":
				cur.proto = "udp"
				cur.srcPort, _ = strconv.Atoi(occ(7, udp))
				cur.dstPort, _ = strconv.Atoi(occ(8, udp))
				udp++
			default:
				if !layersOK[l] {
					if inTunnel && last == "ethertype" {
						// An Ethernet frame in a tunnel that is not IP
						// (ARP in VXLAN): not an IP packet, as bare.
						found = false
					}
					break walk
				}
				if l == "vxlan" || l == "geneve" || l == "gre" {
					inTunnel = true
					pending = l
					// The UDP header belonged to the tunnel.
					cur.proto, cur.srcPort, cur.dstPort = "", 0, 0
				}
			}
		}
		out = append(out, cur)
		ok = append(ok, found)
	}
	return out, ok
}

// TestTunnelsMatchTshark parses every frame of every tunnel capture (the
// ones recorded in network namespaces and tcpdump's public test captures)
// and compares the innermost addresses, transport and ports with
// tshark's dissection of the same frame.
func TestTunnelsMatchTshark(t *testing.T) {
	bin := needTshark(t)
	files := tunnelCaptures(t)
	if len(files) < 40 {
		t.Fatalf("only %d captures under %s", len(files), tunnelDir(t))
	}
	// One tshark run over all captures concatenated (mergecap -a, which
	// ships with tshark): tshark's start-up is most of its cost.
	merged := filepath.Join(t.TempDir(), "all.pcapng")
	if out, err := exec.Command(filepath.Join(filepath.Dir(bin), "mergecap"), append([]string{"-a", "-w", merged}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v: %s", err, out)
	}
	allWant, allOK := tsharkInnermost(t, bin, merged)
	var total, tunnelled, next int
	for _, file := range files {
		pkts, err := corpustest.ReadPath(file)
		if err != nil {
			t.Fatal(err)
		}
		if next+len(pkts) > len(allWant) {
			t.Fatalf("%s: tshark listed %d frames in all, fewer than read", file, len(allWant))
		}
		want, ok := allWant[next:next+len(pkts)], allOK[next:next+len(pkts)]
		next += len(pkts)
		t.Run(filepath.Base(file), func(t *testing.T) {
			var f link.Frame
			for i, p := range pkts {
				err := link.Parse(p.LinkType, p.Data, &f)
				if !ok[i] {
					if err != link.ErrNotIP {
						t.Errorf("frame %d: parsed %v -> %v, tshark finds no IP", i+1, f.Src, f.Dst)
					}
					continue
				}
				if err != nil {
					t.Errorf("frame %d: %v, tshark %v", i+1, err, want[i])
					continue
				}
				total++
				if f.Tunnel.Kind != link.TunnelNone {
					tunnelled++
				}
				got := innermost{src: f.Src, dst: f.Dst, tunnel: f.Tunnel.Kind.String(), depth: int(f.Tunnel.Depth)}
				switch f.Proto {
				case link.ProtoTCP:
					got.proto, got.srcPort, got.dstPort = "tcp", int(f.SrcPort), int(f.DstPort)
				case link.ProtoUDP:
					got.proto, got.srcPort, got.dstPort = "udp", int(f.SrcPort), int(f.DstPort)
				}
				if got != want[i] {
					t.Errorf("frame %d: got %v, tshark %v", i+1, got, want[i])
				}
			}
		})
	}
	if next != len(allWant) {
		t.Errorf("read %d frames, tshark %d", next, len(allWant))
	}
	if tunnelled == 0 || total == 0 {
		t.Fatalf("no tunnelled frame among %d", total)
	}
	t.Logf("%d IP frames compared with tshark, %d decapsulated", total, tunnelled)
}

// TestTunnelRecords checks what Frame.Tunnel says about the recorded
// captures: the kind, the VNI given to `ip link add ... id N`, the node
// (underlay) addresses and the depth.
func TestTunnelRecords(t *testing.T) {
	cases := []struct {
		file  string
		kind  link.TunnelKind
		id    uint32
		nodes [2]string
		depth uint8
	}{
		{"vxlan.pcap", link.TunnelVXLAN, 42, [2]string{"10.20.0.1", "10.20.0.2"}, 1},
		{"vxlan6.pcap", link.TunnelVXLAN, 43, [2]string{"fd20::1", "fd20::2"}, 1},
		{"nested.pcap", link.TunnelVXLAN, 46, [2]string{"10.20.0.1", "10.20.0.2"}, 2},
	}
	for _, c := range cases {
		pkts, err := corpustest.ReadPath(filepath.Join(tunnelDir(t), c.file))
		if err != nil {
			t.Fatal(err)
		}
		var f link.Frame
		seen := 0
		for _, p := range pkts {
			if link.Parse(p.LinkType, p.Data, &f) != nil || f.Proto != link.ProtoTCP {
				continue
			}
			seen++
			tu := f.Tunnel
			nodes := [2]string{tu.Src.String(), tu.Dst.String()}
			if nodes[0] > nodes[1] {
				nodes[0], nodes[1] = nodes[1], nodes[0]
			}
			if tu.Kind != c.kind || !tu.HasID || tu.ID != c.id || nodes != c.nodes || tu.Depth != c.depth {
				t.Errorf("%s: tunnel %+v, want %v id %d nodes %v depth %d", c.file, tu, c.kind, c.id, c.nodes, c.depth)
				break
			}
			// Offsets index the captured frame: the inner TCP header is
			// where the frame says.
			if !bytes.Equal(p.Data[f.PayloadOffset:f.PayloadOffset+len(f.Payload)], f.Payload) || f.IPOffset < 50 {
				t.Errorf("%s: inner offsets %d/%d do not index the frame", c.file, f.IPOffset, f.PayloadOffset)
			}
		}
		if seen < 8 {
			t.Errorf("%s: %d TCP segments", c.file, seen)
		}
	}
}

// decodeFile runs the TCP decoder with the HTTP/1 parser over one
// capture into a Store.
func decodeFile(t *testing.T, file string) *decode.Store {
	t.Helper()
	pkts, err := corpustest.ReadPath(file)
	if err != nil {
		t.Fatal(err)
	}
	store := decode.NewStore()
	dec := tcp.NewDecoder(store, tcp.Config{Parsers: []decode.Parser{http1.New()}})
	var last time.Time
	for i := range pkts {
		pkts[i].Source = filepath.Base(file)
		dec.Packet(&pkts[i])
		last = pkts[i].Timestamp
	}
	dec.Finish(last)
	return store
}

// TestTunnelExchangesMatchTshark decodes the HTTP exchanges of the
// recorded tunnel captures and compares client, server and URI with
// tshark's HTTP requests (tshark lists outer and inner addresses; the
// inner ones are the last), and checks the flow keeps the node pair.
func TestTunnelExchangesMatchTshark(t *testing.T) {
	bin := needTshark(t)
	files, _ := filepath.Glob(filepath.Join(tunnelDir(t), "*.pcap"))
	if len(files) < 3 {
		t.Fatalf("only %d recorded captures in %s (scripts/record-tunnels.sh --record)", len(files), tunnelDir(t))
	}
	checkExchanges(t, bin, files)
}

// TestTunnelsLive re-records tunnelled traffic with
// scripts/record-tunnels.sh in network namespaces of its own (root only)
// for the tunnel kinds Kubernetes CNIs use and this kernel can create,
// and checks the fresh captures like the checked-in ones.
func TestTunnelsLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	bin := needTshark(t)
	for _, c := range []string{"ip", "tcpdump", "python3", "curl"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("needs %s", c)
		}
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "record-tunnels.sh"), dir, "vxlan", "geneve", "ipip", "gre", "gretap")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("record-tunnels.sh: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap"))
	if len(files) == 0 {
		t.Fatalf("nothing recorded:\n%s", out)
	}
	t.Logf("recorded %d captures:\n%s", len(files), out)
	checkExchanges(t, bin, files)
}

// tunnelKindOf is the tunnel a capture of record-tunnels.sh was made
// with, from its name.
func tunnelKindOf(file string) string {
	switch k := strings.TrimSuffix(filepath.Base(file), ".pcap"); k {
	case "vxlan", "vxlan6", "nested":
		return "vxlan"
	case "gre", "grekey", "gretap", "ip6gre":
		return "gre"
	case "ipip", "sit", "ip6ip6", "ipip6":
		return "ipip"
	default:
		return k
	}
}

// checkExchanges compares the HTTP exchanges tapview decodes from
// captures of record-tunnels.sh with tshark's requests, and checks each
// flow's tunnel record.
func checkExchanges(t *testing.T, bin string, files []string) {
	t.Helper()
	merged := filepath.Join(t.TempDir(), "all.pcapng")
	if out, err := exec.Command(filepath.Join(filepath.Dir(bin), "mergecap"), append([]string{"-a", "-w", merged}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v: %s", err, out)
	}
	raw, err := exec.Command(bin, "-n", "-r", merged, "-Y", "http.request", "-T", "fields", "-E", "occurrence=l",
		"-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "frame.protocols", "-e", "http.request.uri").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		c := strings.Split(line, "\t")
		if len(c) < 6 {
			continue
		}
		src, dst := c[0], c[1]
		// The innermost IP is whichever family the protocol chain ends with.
		if strings.LastIndex(c[4], ":ipv6:") > strings.LastIndex(c[4], ":ip:") {
			src, dst = c[2], c[3]
		}
		want = append(want, src+" "+dst+" "+c[5])
	}
	var got []string
	for _, file := range files {
		store := decodeFile(t, file)
		for _, e := range store.Exchanges() {
			if e.Request == nil {
				continue
			}
			got = append(got, e.Client.Addr().String()+" "+e.Server.Addr().String()+" "+e.Request.Target)
			fl := store.FlowByID(e.FlowID)
			if fl == nil || fl.Tunnel == nil || fl.Tunnel.Kind != tunnelKindOf(file) {
				t.Errorf("%s: flow of %s: tunnel %+v, want %s", file, e.Request.Target, fl.Tunnel, tunnelKindOf(file))
				continue
			}
			// The client is node 1's pod, so its node is node 1.
			if n := fl.Tunnel.ClientNode.String(); n != "10.20.0.1" && n != "fd20::1" {
				t.Errorf("%s: client node %s, want node 1", file, n)
			}
			if e.Response == nil || e.Status() != 200 {
				t.Errorf("%s: %s answered %d", file, e.Request.Target, e.Status())
			}
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("exchanges:\n%s\ntshark:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(want) < len(files) {
		t.Errorf("tshark found %d requests in %d captures", len(want), len(files))
	}
}

// FuzzTunnel parses frames seeded from the tunnel captures: never a
// panic, offsets inside the data, the inner packet after the outer one,
// and no deeper decapsulation than MaxTunnelDepth.
func FuzzTunnel(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "tunnels", "*.pcap"))
	pub, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "tunnels", "*", "*.pcap"))
	for _, file := range append(files, pub...) {
		pkts, _ := corpustest.ReadPath(file)
		for i := 0; i < len(pkts) && i < 4; i++ {
			f.Add(pkts[i].LinkType, pkts[i].Data)
		}
	}
	f.Fuzz(func(t *testing.T, lt uint16, data []byte) {
		var fr link.Frame
		if err := link.Parse(lt, data, &fr); err != nil {
			return
		}
		if fr.PayloadOffset > len(data) || fr.PayloadOffset+len(fr.Payload) > len(data) ||
			fr.IPOffset > len(data) || fr.TransportOffset > len(data) || len(fr.Payload) > fr.PayloadLen {
			t.Fatalf("offsets outside data: %+v (len %d)", fr, len(data))
		}
		if fr.Tunnel.Depth > link.MaxTunnelDepth || (fr.Tunnel.Kind != link.TunnelNone) != (fr.Tunnel.Depth > 0) {
			t.Fatalf("tunnel %+v", fr.Tunnel)
		}
		if fr.Tunnel.Kind != link.TunnelNone && (fr.IPOffset < 20 || !fr.Tunnel.Src.IsValid()) {
			t.Fatalf("inner packet at %d, outer %v", fr.IPOffset, fr.Tunnel.Src)
		}
	})
}
