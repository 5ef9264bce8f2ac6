package synth_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tapview/tapview/sources"
)

// flowKey names one direction of a conversation.
type flowKey struct{ src, dst netip.AddrPort }

func (k flowKey) String() string { return k.src.String() + "->" + k.dst.String() }

// streams is what checkPackets learns from a list of packets.
type streams struct {
	data  map[flowKey]*bytes.Buffer // TCP payload per direction, in sequence order
	dgram map[flowKey][][]byte      // UDP payloads per direction
	flags map[flowKey][]string      // TCP flag summary per segment
	tcp   int                       // number of TCP segments
}

// checkPackets decodes every packet with gopacket, independently of the
// code under test, and fails on a decode error, a bad IP/TCP/UDP
// checksum, a length mismatch, a sequence gap or overlap, an ACK of
// unsent data, a segment over mss, or a timestamp that does not grow.
func checkPackets(t *testing.T, pkts []sources.Packet, mss int) streams {
	t.Helper()
	s := streams{data: map[flowKey]*bytes.Buffer{}, dgram: map[flowKey][][]byte{}, flags: map[flowKey][]string{}}
	next := map[flowKey]uint32{}     // next expected sequence number
	start := map[flowKey]bool{}      // a SYN was seen
	lastTS := map[string]time.Time{} // per conversation
	for i, p := range pkts {
		first := layers.LayerTypeEthernet
		if p.LinkType == sources.LinkRaw {
			first = layers.LayerTypeIPv4
			if p.Data[0]>>4 == 6 {
				first = layers.LayerTypeIPv6
			}
		}
		pkt := gopacket.NewPacket(p.Data, first, gopacket.Default)
		// Application-layer decode errors (gopacket guesses DNS from
		// port 53) do not matter here; a missing transport layer does.
		if pkt.TransportLayer() == nil {
			t.Fatalf("packet %d: no transport layer (%v)", i, pkt.ErrorLayer())
		}
		if cs, ok := pkt.TransportLayer().(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			if err := cs.SetNetworkLayerForChecksum(pkt.NetworkLayer()); err != nil {
				t.Fatal(err)
			}
		}
		err, bad := pkt.VerifyChecksums()
		if err != nil || len(bad) > 0 {
			t.Fatalf("packet %d: checksums: %v %+v", i, err, bad)
		}
		if p.OrigLen != len(p.Data) {
			t.Errorf("packet %d: OrigLen %d != %d", i, p.OrigLen, len(p.Data))
		}
		var src, dst netip.Addr
		switch ip := pkt.NetworkLayer().(type) {
		case *layers.IPv4:
			src, dst = netip.AddrFrom4([4]byte(ip.SrcIP.To4())), netip.AddrFrom4([4]byte(ip.DstIP.To4()))
			if int(ip.Length) != len(ip.Contents)+len(ip.Payload) || ip.Flags != layers.IPv4DontFragment {
				t.Fatalf("packet %d: IPv4 length %d flags %v", i, ip.Length, ip.Flags)
			}
		case *layers.IPv6:
			src, dst = netip.AddrFrom16([16]byte(ip.SrcIP)), netip.AddrFrom16([16]byte(ip.DstIP))
			if int(ip.Length) != len(ip.Payload) {
				t.Fatalf("packet %d: IPv6 payload length %d != %d", i, ip.Length, len(ip.Payload))
			}
		default:
			t.Fatalf("packet %d: no IP layer", i)
		}
		switch l4 := pkt.TransportLayer().(type) {
		case *layers.TCP:
			s.tcp++
			k := flowKey{netip.AddrPortFrom(src, uint16(l4.SrcPort)), netip.AddrPortFrom(dst, uint16(l4.DstPort))}
			rev := flowKey{k.dst, k.src}
			conv := min(k.String(), rev.String())
			if last, ok := lastTS[conv]; ok && !p.Timestamp.After(last) {
				t.Fatalf("packet %d (%v): timestamp %v not after %v", i, k, p.Timestamp, last)
			}
			lastTS[conv] = p.Timestamp
			if len(l4.Payload) > mss {
				t.Fatalf("packet %d: %d payload bytes over MSS %d", i, len(l4.Payload), mss)
			}
			if l4.SYN {
				next[k] = l4.Seq
				start[k] = true
			}
			if !start[k] {
				t.Fatalf("packet %d (%v): segment before SYN", i, k)
			}
			if l4.Seq != next[k] {
				t.Fatalf("packet %d (%v): seq %d, want %d", i, k, l4.Seq, next[k])
			}
			if l4.ACK && start[rev] && l4.Ack != next[rev] {
				t.Fatalf("packet %d (%v): ack %d, peer's next seq is %d", i, k, l4.Ack, next[rev])
			}
			next[k] += uint32(len(l4.Payload))
			if l4.SYN || l4.FIN {
				next[k]++
			}
			if s.data[k] == nil {
				s.data[k] = &bytes.Buffer{}
			}
			s.data[k].Write(l4.Payload)
			s.flags[k] = append(s.flags[k], tcpFlags(l4))
		case *layers.UDP:
			k := flowKey{netip.AddrPortFrom(src, uint16(l4.SrcPort)), netip.AddrPortFrom(dst, uint16(l4.DstPort))}
			if int(l4.Length) != 8+len(l4.Payload) {
				t.Fatalf("packet %d: UDP length %d", i, l4.Length)
			}
			s.dgram[k] = append(s.dgram[k], l4.Payload)
		default:
			t.Fatalf("packet %d: no TCP/UDP layer", i)
		}
	}
	return s
}

func tcpFlags(l *layers.TCP) string {
	var b strings.Builder
	for _, f := range []struct {
		on   bool
		name string
	}{{l.SYN, "S"}, {l.FIN, "F"}, {l.RST, "R"}, {l.PSH, "P"}, {l.ACK, "."}} {
		if f.on {
			b.WriteString(f.name)
		}
	}
	if len(l.Payload) > 0 {
		fmt.Fprintf(&b, "%d", len(l.Payload))
	}
	return b.String()
}

// tshark runs tshark on file and returns stdout, skipping the test when
// tshark is not installed.
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

// countLines counts non-empty lines.
func countLines(s string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

// tsharkClean checks with one tshark run that every IP/TCP/UDP checksum
// of the npkts packets was verified good, that TCP analysis flags nothing
// (no gap, retransmission, bad ACK, window problem), that nothing is
// malformed and that no expert item reaches warning level.
func tsharkClean(t *testing.T, file string, npkts int) {
	t.Helper()
	out := tshark(t, file, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
		"-T", "fields", "-E", "separator=|", "-e", "frame.number", "-e", "ip.checksum.status", "-e", "ipv6.version",
		"-e", "tcp.checksum.status", "-e", "udp.checksum.status", "-e", "tcp.analysis.flags", "-e", "_ws.malformed",
		"-e", "_ws.expert.severity", "-e", "_ws.expert.message")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != npkts {
		t.Fatalf("tshark read %d packets, want %d", len(lines), npkts)
	}
	const warn = 0x600000 // PI_WARN
	for _, l := range lines {
		f := strings.Split(l, "|")
		ipOK := f[1] == "1" || (f[1] == "" && f[2] == "6")
		l4OK := f[3] == "1" || f[4] == "1"
		sevOK := true
		for _, sev := range strings.Split(f[7], ",") {
			if n, err := strconv.Atoi(sev); err == nil && n >= warn {
				sevOK = false
			}
		}
		if !ipOK || !l4OK || f[5] != "" || f[6] != "" || !sevOK {
			t.Errorf("tshark: frame %s: ip checksum %q, tcp %q, udp %q, analysis %q, malformed %q, expert %q", f[0], f[1], f[3], f[4], f[5], f[6], f[8])
		}
	}
}
