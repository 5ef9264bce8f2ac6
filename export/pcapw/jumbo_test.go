package pcapw_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/sources"
)

// jumboFrame is a 300 KB Ethernet/IPv4/TCP frame as a GRO-reassembled or
// big-TCP loopback capture holds it: IP total length 0 (too big for the
// field), one segment carrying the whole payload.
func jumboFrame(t *testing.T, size int) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 0, 0, 0, 0, 0}, DstMAC: net.HardwareAddr{0, 0, 0, 0, 0, 0}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{127, 0, 0, 1}, DstIP: net.IP{127, 0, 0, 1}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 8080, Seq: 1, Ack: 1, ACK: true, PSH: true, Window: 512, DataOffset: 5}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, eth, ip, tcp); err != nil {
		t.Fatal(err)
	}
	hdr := buf.Bytes()
	frame := make([]byte, size)
	copy(frame, hdr)
	for i := len(hdr); i < size; i++ {
		frame[i] = 'A' + byte(i%26)
	}
	return frame
}

// TestPcapngJumboPacketReadByTshark writes a small packet, a 300 KB one
// and another small one with the default options: the jumbo packet is
// clipped to 262144 captured bytes with its original length kept, and
// tshark reads all three frames (it used to stop at the jumbo one).
func TestPcapngJumboPacketReadByTshark(t *testing.T) {
	const jumbo = 300 * 1000
	base := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	ss := []sample{
		{p: sources.Packet{Data: udpFrame(t, sources.LinkEthernet, "before"), LinkType: sources.LinkEthernet, Source: "lo", Timestamp: base, Ordinal: 1}},
		{p: sources.Packet{Data: jumboFrame(t, jumbo), LinkType: sources.LinkEthernet, Source: "lo", Timestamp: base.Add(time.Millisecond), Ordinal: 2}},
		{p: sources.Packet{Data: udpFrame(t, sources.LinkEthernet, "after"), LinkType: sources.LinkEthernet, Source: "lo", Timestamp: base.Add(2 * time.Millisecond), Ordinal: 3}},
	}
	for _, ss[1].p.OrigLen = range []int{0, jumbo} { // OrigLen unset, then set
		out := writeNg(t, pcapw.NgOptions{}, ss)
		r, err := pcapgo.NewNgReader(bytes.NewReader(out), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ss {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				t.Fatalf("packet %d: %v", i+1, err)
			}
			if i == 1 && (len(data) != pcapw.DefaultSnapLen || ci.Length != jumbo || !bytes.Equal(data, ss[1].p.Data[:pcapw.DefaultSnapLen])) {
				t.Errorf("jumbo packet stored %d of %d bytes, want %d of %d", len(data), ci.Length, pcapw.DefaultSnapLen, jumbo)
			}
		}

		if _, err := exec.LookPath("tshark"); err != nil {
			t.Skip("tshark not installed: run scripts/test-deps.sh")
		}
		path := filepath.Join(t.TempDir(), "jumbo.pcapng")
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.number", "-e", "frame.len", "-e", "frame.cap_len")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		got, err := cmd.Output()
		if err != nil || strings.Contains(stderr.String(), "appears to be damaged") || strings.Contains(stderr.String(), "bigger than") {
			t.Fatalf("tshark: %v\n%s", err, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(string(got)), "\n")
		if len(lines) != 3 {
			t.Fatalf("tshark reads %d frames, want 3:\n%s", len(lines), got)
		}
		if want := "2\t300000\t262144"; lines[1] != want {
			t.Errorf("tshark frame 2 is %q, want %q", lines[1], want)
		}
	}
}
