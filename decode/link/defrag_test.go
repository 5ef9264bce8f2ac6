package link

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tapview/tapview/sources"
)

// fragmentV4 builds a UDP datagram with gopacket and cuts its IP payload
// into Ethernet frames of fragments of at most size bytes (a multiple of 8).
func fragmentV4(t *testing.T, id uint16, payload []byte, size int) (frames [][]byte, udpBytes []byte) {
	t.Helper()
	ip := &layers.IPv4{Version: 4, TTL: 33, Protocol: layers.IPProtocolUDP, Id: id,
		SrcIP: net.IP{192, 168, 1, 1}, DstIP: net.IP{192, 168, 1, 2}}
	udp := &layers.UDP{SrcPort: 4000, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	whole := serialize(t, ip, udp, gopacket.Payload(payload))
	body := whole[20:]
	for off := 0; off < len(body); off += size {
		end := min(off+size, len(body))
		fip := &layers.IPv4{Version: 4, TTL: 33, Protocol: layers.IPProtocolUDP, Id: id,
			SrcIP: ip.SrcIP, DstIP: ip.DstIP, FragOffset: uint16(off / 8)}
		if end < len(body) {
			fip.Flags = layers.IPv4MoreFragments
		}
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		frames = append(frames, serialize(t, eth, fip, gopacket.Payload(body[off:end])))
	}
	return frames, body
}

func TestDefragIPv4OutOfOrderWithOverlap(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 250) // 4000 bytes
	frames, _ := fragmentV4(t, 77, payload, 1480)
	if len(frames) != 3 {
		t.Fatalf("%d fragments", len(frames))
	}
	d := NewDefragmenter(DefragConfig{})
	ts := time.Unix(1000, 0)
	var f Frame
	var got []byte
	// Last fragment first, then the first twice (an overlap), then the
	// middle one completes the datagram.
	for i, idx := range []int{2, 0, 0, 1} {
		if err := Parse(sources.LinkEthernet, frames[idx], &f); err != nil {
			t.Fatal(err)
		}
		if !f.Fragment || f.FragID != 77 {
			t.Fatalf("fragment %d not recognised: %+v", idx, f)
		}
		out, err := d.Add(&f, ts)
		if err != nil {
			t.Fatal(err)
		}
		if out != nil && i != 3 {
			t.Fatalf("datagram completed early at step %d", i)
		}
		got = out
	}
	if got == nil {
		t.Fatal("datagram not reassembled")
	}
	if err := ParseIP(got, &f); err != nil {
		t.Fatalf("reassembled datagram: %v", err)
	}
	if f.Fragment || f.Proto != ProtoUDP || f.SrcPort != 4000 || f.DstPort != 53 || !bytes.Equal(f.Payload, payload) || f.TTL != 33 {
		t.Errorf("reassembled frame wrong: proto %d ports %d->%d payload %d bytes", f.Proto, f.SrcPort, f.DstPort, len(f.Payload))
	}
	if ipv4Checksum(got[:20]) != 0 {
		t.Errorf("reassembled header checksum invalid")
	}
	st := d.Stats()
	if st.Reassembled != 1 || st.Fragments != 4 || st.Overlaps != 1 {
		t.Errorf("stats %+v", st)
	}
	if n, b := d.InFlight(); n != 0 || b != 0 {
		t.Errorf("still holding %d datagrams, %d bytes", n, b)
	}
}

func TestDefragIPv6(t *testing.T) {
	src, dst := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fe80::2")
	payload := bytes.Repeat([]byte{0xab}, 2000)
	udp := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(udp[0:2], 9000)
	binary.BigEndian.PutUint16(udp[2:4], 9001)
	binary.BigEndian.PutUint16(udp[4:6], uint16(len(udp)))
	copy(udp[8:], payload)
	frag := func(off int, chunk []byte, more bool) []byte {
		b := make([]byte, 48+len(chunk))
		b[0] = 6 << 4
		binary.BigEndian.PutUint16(b[4:6], uint16(8+len(chunk)))
		b[6] = 44
		b[7] = 64
		s, d := src.As16(), dst.As16()
		copy(b[8:24], s[:])
		copy(b[24:40], d[:])
		b[40] = ProtoUDP
		fo := uint16(off/8) << 3
		if more {
			fo |= 1
		}
		binary.BigEndian.PutUint16(b[42:44], fo)
		binary.BigEndian.PutUint32(b[44:48], 0xdeadbeef)
		copy(b[48:], chunk)
		return b
	}
	d := NewDefragmenter(DefragConfig{})
	var f Frame
	var out []byte
	for _, fr := range [][]byte{frag(1024, udp[1024:], false), frag(0, udp[:1024], true)} {
		if err := Parse(sources.LinkIPv6, fr, &f); err != nil {
			t.Fatal(err)
		}
		if !f.Fragment || f.FragID != 0xdeadbeef || f.Proto != ProtoUDP {
			t.Fatalf("not a fragment: %+v", f)
		}
		var err error
		if out, err = d.Add(&f, time.Unix(5, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if out == nil {
		t.Fatal("not reassembled")
	}
	if err := ParseIP(out, &f); err != nil {
		t.Fatal(err)
	}
	if f.Version != 6 || f.Src != src || f.Dst != dst || f.SrcPort != 9000 || !bytes.Equal(f.Payload, payload) {
		t.Errorf("bad reassembly: %+v", f)
	}
}

func TestDefragBounds(t *testing.T) {
	d := NewDefragmenter(DefragConfig{MaxDatagrams: 4, MaxBytes: 8000, Timeout: time.Second})
	var f Frame
	ts := time.Unix(100, 0)
	// Ten incomplete datagrams: only four may be held.
	for id := uint16(1); id <= 10; id++ {
		frames, _ := fragmentV4(t, id, make([]byte, 3000), 1480)
		if err := Parse(sources.LinkEthernet, frames[0], &f); err != nil {
			t.Fatal(err)
		}
		if out, err := d.Add(&f, ts); out != nil || err != nil {
			t.Fatalf("id %d: %v %v", id, out, err)
		}
		if n, b := d.InFlight(); n > 4 || b > 8000 {
			t.Fatalf("holding %d datagrams, %d bytes", n, b)
		}
	}
	// Completing an evicted datagram is impossible; the newest still works.
	frames, body := fragmentV4(t, 10, make([]byte, 3000), 1480)
	for _, fr := range frames[1:] {
		if err := Parse(sources.LinkEthernet, fr, &f); err != nil {
			t.Fatal(err)
		}
		out, err := d.Add(&f, ts)
		if err != nil {
			t.Fatal(err)
		}
		if out != nil && !bytes.Equal(out[20:], body) {
			t.Fatal("wrong reassembly")
		}
	}
	if d.Stats().Reassembled != 1 {
		t.Errorf("stats %+v", d.Stats())
	}
	// Capture time moves on: everything left expires.
	frames, _ = fragmentV4(t, 99, make([]byte, 100), 64)
	if err := Parse(sources.LinkEthernet, frames[0], &f); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Add(&f, ts.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _ := d.InFlight(); n != 1 {
		t.Errorf("after timeout %d datagrams held, want 1", n)
	}
	// A snaplen-cut fragment is refused.
	f.Payload = f.Payload[:10]
	if _, err := d.Add(&f, ts.Add(5*time.Second)); !errors.Is(err, ErrFragmentTruncated) {
		t.Errorf("cut fragment: %v", err)
	}
	// A fragment past the largest datagram is refused.
	f.Payload = f.Payload[:f.PayloadLen-0]
	f.FragOffset = 65528
	f.PayloadLen = len(f.Payload)
	if _, err := d.Add(&f, ts.Add(5*time.Second)); !errors.Is(err, ErrFragmentTooBig) {
		t.Errorf("huge offset: %v", err)
	}
}
