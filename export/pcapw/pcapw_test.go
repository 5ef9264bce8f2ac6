package pcapw_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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

var (
	_ pcapw.PacketWriter = (*pcapw.PcapWriter)(nil)
	_ pcapw.PacketWriter = (*pcapw.PcapngWriter)(nil)
)

// udpFrame serializes a UDP datagram with gopacket, independently of the
// code under test. link selects Ethernet or raw IP framing.
func udpFrame(t *testing.T, link uint16, payload string) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	ls := []gopacket.SerializableLayer{ip, udp, gopacket.Payload(payload)}
	if link == sources.LinkEthernet {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ls = append([]gopacket.SerializableLayer{eth}, ls...)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type sample struct {
	p       sources.Packet
	comment string
}

func samples(t *testing.T) []sample {
	base := time.Date(2026, 1, 15, 10, 0, 0, 123456789, time.UTC)
	mk := func(i int, src string, link uint16, payload, comment string) sample {
		d := udpFrame(t, link, payload)
		return sample{sources.Packet{Timestamp: base.Add(time.Duration(i) * 1001 * time.Nanosecond), OrigLen: len(d), LinkType: link, Data: d, Source: src, Ordinal: uint64(i + 1)}, comment}
	}
	return []sample{
		mk(0, "pod-a", sources.LinkEthernet, "first", "masked by tapview"),
		mk(1, "pod-b", sources.LinkEthernet, "second!", ""),
		mk(2, "pod-a", sources.LinkRaw, "third", "odd"),
		mk(3, "pod-a", sources.LinkEthernet, "fourth", "línea 1\nline 2"),
		mk(4, "pod-b", sources.LinkEthernet, "fifth", ""),
	}
}

const keyLog = "CLIENT_RANDOM 0011223344556677 8899aabbccddeeff\n"

func writeNg(t *testing.T, opts pcapw.NgOptions, ss []sample) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapw.NewPcapng(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTLSKeyLog([]byte(keyLog)); err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if err := w.WritePacket(s.p, s.comment); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPcapngReadBack(t *testing.T) {
	ss := samples(t)
	out := writeNg(t, pcapw.NgOptions{Comment: "masked by tapview", Application: "tapview test", OS: "linux"}, ss)

	r, err := pcapgo.NewNgReader(bytes.NewReader(out), pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatal(err)
	}
	if si := r.SectionInfo(); si.Comment != "masked by tapview" || si.Application != "tapview test" || si.OS != "linux" {
		t.Errorf("section info = %+v", si)
	}
	for i, s := range ss {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !bytes.Equal(data, s.p.Data) {
			t.Errorf("packet %d: data differs", i)
		}
		if !ci.Timestamp.Equal(s.p.Timestamp) {
			t.Errorf("packet %d: time %v, want %v", i, ci.Timestamp, s.p.Timestamp)
		}
		if lt := ci.AncillaryData[0].(layers.LinkType); uint16(lt) != s.p.LinkType {
			t.Errorf("packet %d: link type %d, want %d", i, lt, s.p.LinkType)
		}
		iface, err := r.Interface(ci.InterfaceIndex)
		if err != nil {
			t.Fatal(err)
		}
		if iface.Name != s.p.Source || uint16(iface.LinkType) != s.p.LinkType || iface.TimestampResolution != 9 {
			t.Errorf("packet %d: interface %+v, want name %q link %d resolution 9", i, iface, s.p.Source, s.p.LinkType)
		}
		var want []string
		if s.comment != "" {
			want = []string{s.comment}
		}
		if fmt.Sprint(opts.Comments) != fmt.Sprint(want) {
			t.Errorf("packet %d: comments %q, want %q", i, opts.Comments, want)
		}
	}
	if _, _, err := r.ReadPacketData(); err != io.EOF {
		t.Errorf("after last packet: %v, want EOF", err)
	}
	// (pod-a, eth), (pod-b, eth), (pod-a, raw): three interfaces, no more.
	if n := r.NInterfaces(); n != 3 {
		t.Errorf("%d interfaces, want 3", n)
	}
}

// block is one pcapng block found by walkBlocks.
type block struct {
	typ  uint32
	body []byte // between the length fields
}

// walkBlocks splits a little-endian pcapng stream into blocks, checking
// the framing rules every reader relies on.
func walkBlocks(t *testing.T, b []byte) []block {
	t.Helper()
	var out []block
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("%d trailing bytes", len(b))
		}
		typ, n := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
		if n%4 != 0 || n < 12 || int(n) > len(b) {
			t.Fatalf("block type %#x: bad total length %d (%d left)", typ, n, len(b))
		}
		if tail := binary.LittleEndian.Uint32(b[n-4:]); tail != n {
			t.Fatalf("block type %#x: trailing length %d != %d", typ, tail, n)
		}
		out = append(out, block{typ, b[8 : n-4]})
		b = b[n:]
	}
	return out
}

func TestPcapngBlocks(t *testing.T) {
	out := writeNg(t, pcapw.NgOptions{}, samples(t))
	bs := walkBlocks(t, out)
	var types []uint32
	for _, b := range bs {
		types = append(types, b.typ)
	}
	// SHB, DSB, then each IDB right before the first packet needing it.
	want := []uint32{0x0A0D0D0A, 0x0A, 1, 6, 1, 6, 1, 6, 6, 6}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Fatalf("block types %x, want %x", types, want)
	}
	if magic := binary.LittleEndian.Uint32(bs[0].body); magic != 0x1A2B3C4D {
		t.Errorf("byte-order magic %#x", magic)
	}
	if len(bs[0].body) != 16 {
		t.Errorf("SHB without options has %d body bytes, want 16", len(bs[0].body))
	}
	dsb := bs[1].body
	if typ, n := binary.LittleEndian.Uint32(dsb), binary.LittleEndian.Uint32(dsb[4:]); typ != pcapw.SecretsTLSKeyLog || int(n) != len(keyLog) || string(dsb[8:8+n]) != keyLog {
		t.Errorf("DSB type %#x len %d data %q", typ, n, dsb[8:])
	}
}

func TestPcapngSnapLen(t *testing.T) {
	ss := samples(t)[:1]
	out := writeNg(t, pcapw.NgOptions{SnapLen: 40}, ss)
	r, err := pcapgo.NewNgReader(bytes.NewReader(out), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	data, ci, err := r.ReadPacketData()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, ss[0].p.Data[:40]) || ci.Length != len(ss[0].p.Data) {
		t.Errorf("captured %d of %d bytes, want 40 of %d", len(data), ci.Length, len(ss[0].p.Data))
	}
}

func TestPcapngHugeComment(t *testing.T) {
	ss := samples(t)[:1]
	ss[0].comment = strings.Repeat("c", 70000)
	out := writeNg(t, pcapw.NgOptions{}, ss)
	walkBlocks(t, out)
	r, err := pcapgo.NewNgReader(bytes.NewReader(out), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	_, _, opts, err := r.ReadPacketDataWithOptions()
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Comments) != 1 || len(opts.Comments[0]) != 0xFFFF {
		t.Errorf("comment cut to %d bytes, want 65535", len(opts.Comments[0]))
	}
}

func TestPcapNanosAndMicros(t *testing.T) {
	for _, nanos := range []bool{true, false} {
		var buf bytes.Buffer
		w, err := pcapw.NewPcap(&buf, sources.LinkEthernet, 0, nanos)
		if err != nil {
			t.Fatal(err)
		}
		ss := samples(t)
		if err := w.WritePacket(ss[0].p, "ignored"); err != nil {
			t.Fatal(err)
		}
		err = w.WritePacket(ss[2].p, "")
		var lte *pcapw.LinkTypeError
		if !errors.As(err, &lte) || lte.File != sources.LinkEthernet || lte.Packet != sources.LinkRaw || !strings.Contains(err.Error(), "pcapng") {
			t.Errorf("raw packet into Ethernet pcap: err = %v", err)
		}
		if err := w.WritePacket(ss[1].p, ""); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if r.LinkType() != layers.LinkTypeEthernet || r.Snaplen() != pcapw.DefaultSnapLen {
			t.Errorf("header: link %v snaplen %d", r.LinkType(), r.Snaplen())
		}
		for _, s := range []sample{ss[0], ss[1]} {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				t.Fatal(err)
			}
			want := s.p.Timestamp
			if !nanos {
				want = want.Truncate(time.Microsecond)
			}
			if !bytes.Equal(data, s.p.Data) || !ci.Timestamp.Equal(want) {
				t.Errorf("nanos=%v: got %v %x, want %v %x", nanos, ci.Timestamp, data, want, s.p.Data)
			}
		}
		if _, _, err := r.ReadPacketData(); err != io.EOF {
			t.Errorf("nanos=%v: refused packet was written (err %v)", nanos, err)
		}
	}
}

// runTool runs a Wireshark tool and returns its stdout, skipping the test
// when the tool is not installed.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	path := "/usr/bin/" + name
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not installed: skipping the Wireshark cross-check", path)
	}
	cmd := exec.Command(path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return string(out)
}

func TestPcapngWireshark(t *testing.T) {
	ss := samples(t)
	f := filepath.Join(t.TempDir(), "out.pcapng")
	if err := os.WriteFile(f, writeNg(t, pcapw.NgOptions{Comment: "masked by tapview", Application: "tapview test"}, ss), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runTool(t, "tshark", "-r", f, "-T", "fields", "-E", "separator=|", "-e", "frame.interface_name", "-e", "frame.time_epoch", "-e", "udp.payload", "-e", "frame.comment")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(ss) {
		t.Fatalf("tshark read %d packets, want %d:\n%s", len(lines), len(ss), out)
	}
	for i, s := range ss {
		payload := udpPayload(s.p)
		want := fmt.Sprintf("%s|%d.%09d|%x|%s", s.p.Source, s.p.Timestamp.Unix(), s.p.Timestamp.Nanosecond(), payload, strings.ReplaceAll(s.comment, "\n", `\n`))
		if lines[i] != want {
			t.Errorf("tshark packet %d:\n got %s\nwant %s", i, lines[i], want)
		}
	}
	info := runTool(t, "capinfos", f)
	for _, want := range []string{"Capture comment:     masked by tapview", "Capture application: tapview test", "Number of interfaces in file: 3", "Number of decryption secrets in file: 1", "Time precision = nanoseconds (9)"} {
		if !strings.Contains(info, want) {
			t.Errorf("capinfos lacks %q:\n%s", want, info)
		}
	}
}

func TestPcapngEmptyWireshark(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapw.NewPcapng(&buf, pcapw.NgOptions{Comment: "nothing matched"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if bs := walkBlocks(t, buf.Bytes()); len(bs) != 1 || bs[0].typ != 0x0A0D0D0A {
		t.Fatalf("empty export: %d blocks", len(bs))
	}
	f := filepath.Join(t.TempDir(), "empty.pcapng")
	if err := os.WriteFile(f, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	info := runTool(t, "capinfos", f)
	if !strings.Contains(info, "Number of packets:   0") || !strings.Contains(info, "nothing matched") {
		t.Errorf("capinfos on empty export:\n%s", info)
	}
}

func udpPayload(p sources.Packet) []byte {
	var first gopacket.LayerType = layers.LayerTypeEthernet
	if p.LinkType == sources.LinkRaw {
		first = layers.LayerTypeIPv4
	}
	pkt := gopacket.NewPacket(p.Data, first, gopacket.Default)
	return pkt.Layer(layers.LayerTypeUDP).LayerPayload()
}
