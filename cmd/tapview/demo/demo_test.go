package demo_test

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tapview/tapview/cmd/tapview/demo"
)

// conn is what the test learns about one recorded TCP connection.
type conn struct {
	server uint16
	first  []byte // first client payload
}

// summary is the capture as read back with gopacket.
type summary struct {
	packets int
	first   time.Time
	conns   map[netip.AddrPort]*conn // by client endpoint
	udpDst  map[uint16]int           // datagrams per destination port
}

func read(t *testing.T) summary {
	t.Helper()
	r, err := pcapgo.NewNgReader(demo.Reader(), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatalf("embedded capture is not pcapng: %v", err)
	}
	s := summary{conns: map[netip.AddrPort]*conn{}, udpDst: map[uint16]int{}}
	var last time.Time
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("packet %d: %v", s.packets+1, err)
		}
		s.packets++
		if s.first.IsZero() {
			s.first = ci.Timestamp
		}
		if ci.Timestamp.Before(last) {
			t.Errorf("packet %d goes back in time", s.packets)
		}
		last = ci.Timestamp
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		ip, _ := pkt.NetworkLayer().(*layers.IPv4)
		if ip == nil {
			t.Fatalf("packet %d: not IPv4", s.packets)
		}
		if tl, ok := pkt.TransportLayer().(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			tl.SetNetworkLayerForChecksum(ip)
		}
		if err, bad := pkt.VerifyChecksums(); err != nil || len(bad) > 0 {
			t.Errorf("packet %d: checksums %v %v", s.packets, err, bad)
		}
		src := netip.AddrFrom4([4]byte(ip.SrcIP.To4()))
		switch l4 := pkt.TransportLayer().(type) {
		case *layers.TCP:
			if l4.SYN && !l4.ACK {
				s.conns[netip.AddrPortFrom(src, uint16(l4.SrcPort))] = &conn{server: uint16(l4.DstPort)}
			}
			if c := s.conns[netip.AddrPortFrom(src, uint16(l4.SrcPort))]; c != nil && c.first == nil && len(l4.Payload) > 0 {
				c.first = l4.Payload
			}
		case *layers.UDP:
			s.udpDst[uint16(l4.DstPort)]++
		}
	}
	return s
}

func TestEmbeddedCapture(t *testing.T) {
	b := demo.Bytes()
	if len(b) == 0 || len(b) > 200<<10 {
		t.Fatalf("demo capture is %d bytes, want 1..200 KiB", len(b))
	}
	b[0] ^= 0xFF
	if bytes.Equal(b, demo.Bytes()) {
		t.Error("Bytes shares its backing array")
	}
	if demo.Name != "demo.pcapng" {
		t.Errorf("Name = %q", demo.Name)
	}
	s := read(t)
	if want := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC); !s.first.Equal(want) {
		t.Errorf("capture starts at %v, want %v", s.first, want)
	}
	servers := map[uint16]bool{}
	for _, c := range s.conns {
		servers[c.server] = true
	}
	if len(servers) < 3 {
		t.Errorf("TCP connections to %d server ports, want at least 3", len(servers))
	}
	if len(s.udpDst) == 0 {
		t.Error("no UDP (DNS) datagrams")
	}
}

// ports classifies server ports by what the client sent first.
func ports(s summary) (h1 []uint16, h2 []uint16) {
	for _, c := range s.conns {
		switch {
		case bytes.HasPrefix(c.first, []byte("PRI * HTTP/2.0\r\n")):
			h2 = append(h2, c.server)
		case bytes.HasPrefix(c.first, []byte("GET ")), bytes.HasPrefix(c.first, []byte("POST ")):
			h1 = append(h1, c.server)
		}
	}
	slices.Sort(h1)
	slices.Sort(h2)
	return slices.Compact(h1), slices.Compact(h2)
}

func tshark(t *testing.T, file string, args ...string) string {
	t.Helper()
	const path = "/usr/bin/tshark"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not installed: skipping the Wireshark cross-check", path)
	}
	cmd := exec.Command(path, append([]string{"-r", file}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

func decodeAs(proto string, ports []uint16) []string {
	var args []string
	for _, p := range ports {
		args = append(args, "-d", "tcp.port=="+strconv.Itoa(int(p))+","+proto)
	}
	return args
}

func TestCaptureWithTshark(t *testing.T) {
	s := read(t)
	h1, h2 := ports(s)
	if len(h1) != 1 || len(h2) != 2 {
		t.Fatalf("HTTP/1 server ports %v, HTTP/2 ports %v: want one and two (h2c and gRPC)", h1, h2)
	}
	file := filepath.Join(t.TempDir(), demo.Name)
	if err := os.WriteFile(file, demo.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	all := append(decodeAs("http", h1), decodeAs("http2", h2)...)
	check := append(all, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-Y", "tcp.analysis.flags || _ws.malformed || tcp.checksum.status == 0 || ip.checksum.status == 0 || udp.checksum.status == 0")
	if bad := tshark(t, file, check...); bad != "" {
		t.Errorf("tshark flags packets (bad checksum, TCP analysis, malformed):\n%s", bad)
	}

	reqs := tshark(t, file, append(decodeAs("http", h1), "-Y", "http.request", "-T", "fields", "-E", "separator=|",
		"-e", "http.request.method", "-e", "http.request.uri", "-e", "http.authorization", "-e", "http.cookie")...)
	lines := strings.Split(strings.TrimSpace(reqs), "\n")
	if len(lines) != 12 {
		t.Errorf("tshark finds %d HTTP/1.1 requests, want 12:\n%s", len(lines), reqs)
	}
	var login bool
	for _, l := range lines {
		f := strings.Split(l, "|")
		if f[0] == "POST" && f[1] == "/api/login" && strings.HasPrefix(f[2], "Bearer ey") && strings.Count(f[2], ".") == 2 {
			login = true
		}
	}
	if !login {
		t.Errorf("no POST /api/login with a bearer JWT among:\n%s", reqs)
	}
	for _, want := range []string{"api_key=", "/api/reports/adoptions", "session="} {
		if !strings.Contains(reqs, want) {
			t.Errorf("requests lack %q", want)
		}
	}

	resp := tshark(t, file, append(decodeAs("http", h1), "-Y", "http.response", "-T", "fields", "-E", "separator=|",
		"-e", "http.response.code", "-e", "http.transfer_encoding", "-e", "http.content_encoding", "-e", "http.set_cookie")...)
	for _, want := range []string{"404|", "500|", "503|", "304|", "200|chunked|gzip|", "|session="} {
		if !strings.Contains(resp, want) {
			t.Errorf("responses lack %q:\n%s", want, resp)
		}
	}

	paths := tshark(t, file, append(decodeAs("http2", h2), "-Y", "http2.type == 1 && http2.headers.path", "-T", "fields", "-e", "http2.headers.path")...)
	for _, want := range []string{"/v2/pets\n", "/v2/species\n", "/grpc.health.v1.Health/Check\n", "/grpc.health.v1.Health/Watch\n", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo\n"} {
		if !strings.Contains(paths, want) {
			t.Errorf("HTTP/2 HEADERS lack path %q:\n%s", want, paths)
		}
	}
	grpcMsgs := tshark(t, file, append(decodeAs("http2", h2), "-Y", "grpc", "-T", "fields", "-e", "grpc.message_length")...)
	if n := strings.Count(grpcMsgs, "\n"); n < 8 {
		t.Errorf("tshark finds gRPC messages in %d packets, want at least 8", n)
	}

	// gRPC statuses: OK for Check, NOT_FOUND (5) for the unknown
	// service. Header names and values come as parallel lists.
	st := tshark(t, file, append(decodeAs("http2", h2), "-Y", `http2.header.name == "grpc-status"`, "-T", "fields", "-E", "separator=|",
		"-e", "http2.header.name", "-e", "http2.header.value")...)
	codes := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(st), "\n") {
		f := strings.Split(l, "|")
		names, values := strings.Split(f[0], ","), strings.Split(f[1], ",")
		for i, n := range names {
			if n == "grpc-status" && i < len(values) {
				codes[values[i]] = true
			}
		}
	}
	if !codes["0"] || !codes["5"] {
		t.Errorf("grpc-status values %v, want 0 and 5:\n%s", codes, st)
	}

	dnsPort, most := uint16(0), 0
	for p, n := range s.udpDst {
		if n > most {
			dnsPort, most = p, n
		}
	}
	dns := tshark(t, file, "-d", "udp.port=="+strconv.Itoa(int(dnsPort))+",dns", "-Y", "dns.flags.response == 1", "-T", "fields", "-e", "dns.qry.name", "-e", "dns.flags.rcode", "-e", "dns.a")
	for _, want := range []string{"petstore.demo.internal\t0\t127.0.0.1", "cdn.petstore.example\t3\t"} {
		if !strings.Contains(dns, want) {
			t.Errorf("DNS answers lack %q:\n%s", want, dns)
		}
	}
}
