package packets

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
)

// encodeFrames packs frames as a fuzz input: a 2-byte length before
// each.
func encodeFrames(pkts []sources.Packet) []byte {
	var b []byte
	for _, p := range pkts {
		b = binary.BigEndian.AppendUint16(b, uint16(len(p.Data)))
		b = append(b, p.Data...)
	}
	return b
}

// decodeFrames unpacks a fuzz input into Ethernet packets.
func decodeFrames(b []byte) []sources.Packet {
	var out []sources.Packet
	for len(b) >= 2 && len(out) < 64 {
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		n = min(n, len(b))
		out = append(out, sources.Packet{Timestamp: t0.Add(time.Duration(len(out)) * time.Millisecond), LinkType: sources.LinkEthernet,
			Data: bytes.Clone(b[:n]), OrigLen: n})
		b = b[n:]
	}
	return number(out)
}

// fuzzSeeds are conversations with secrets where they used to leak.
func fuzzSeeds(t testing.TB) [][]sources.Packet {
	req, resp := plantedRequest(), plantedResponse()
	var seeds [][]sources.Packet
	for _, tc := range []struct {
		client, server string
		mss            int
	}{{"10.0.0.1:40001", "10.0.0.2:80", 60}, {"[2001:db8::1]:40001", "[2001:db8::2]:8080", 7}} {
		c, err := synth.NewTCP(netip.MustParseAddrPort(tc.client), netip.MustParseAddrPort(tc.server), synth.Options{MSS: tc.mss})
		if err != nil {
			t.Fatal(err)
		}
		var p []sources.Packet
		p = append(p, c.Open(t0)...)
		p = append(p, c.Send(decode.ClientToServer, req[:len(req)/2], t0)...)
		p = append(p, c.Send(decode.ServerToClient, []byte("x"), t0)...)
		p = append(p, c.Send(decode.ClientToServer, req[len(req)/2:], t0)...)
		p = append(p, c.Send(decode.ServerToClient, resp, t0)...)
		seeds = append(seeds, append(p, c.Close(t0)...))
	}
	h2req, h2resp := h2Conversation(t)
	c, _ := synth.NewTCP(netip.MustParseAddrPort("10.1.0.1:50000"), netip.MustParseAddrPort("10.1.0.2:8080"), synth.Options{MSS: 40})
	p := append(c.Open(t0), c.Send(decode.ClientToServer, h2req, t0)...)
	seeds = append(seeds, append(p, c.Send(decode.ServerToClient, h2resp, t0)...))
	u, _ := synth.NewUDP(netip.MustParseAddrPort("10.2.0.1:5353"), netip.MustParseAddrPort("10.2.0.2:53"), synth.Options{})
	dns, err := u.Send(decode.ClientToServer, []byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03api\x04test\x00\x00\x10\x00\x01token=ghp_0123456789abcdefghij0123456789abcdef"), t0)
	if err != nil {
		t.Fatal(err)
	}
	seeds = append(seeds, []sources.Packet{dns})
	return seeds
}

// FuzzMaskPacket runs the masked two-pass export over a fuzzed packet
// sequence (the seeds carry secrets split across segments) and checks
// what the issue asks of the packet masker: it never changes a
// packet's length, never touches anything but the transport payload
// and checksum, and leaves no bad checksum it did not find (a checksum
// that was right stays right, one that was wrong stays as it was).
func FuzzMaskPacket(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(encodeFrames(number(clonePackets(s))))
	}
	m := mask.Default()
	f.Fuzz(func(t *testing.T, data []byte) {
		in := decodeFrames(data)
		if len(in) == 0 {
			return
		}
		plan := NewPlan(true, m)
		pass1(t, in, plan, CollectOptions{})
		w := &recordWriter{}
		if _, err := Write(context.Background(), w, plan, Inputs{Captured: []Stream{&sliceStream{pkts: clonePackets(in)}}}, Options{}); err != nil {
			t.Fatal(err)
		}
		if len(w.pkts) != len(in) {
			t.Fatalf("%d packets in, %d out", len(in), len(w.pkts))
		}
		for i := range in {
			checkMaskedPacket(t, in[i].Data, w.pkts[i].Data)
		}
	})
}

// checkMaskedPacket compares one packet before and after masking.
func checkMaskedPacket(t *testing.T, before, after []byte) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("length %d -> %d", len(before), len(after))
	}
	if bytes.Equal(before, after) {
		return
	}
	var f link.Frame
	if err := link.Parse(sources.LinkEthernet, before, &f); err != nil {
		t.Fatalf("an unparsable packet changed: %v", err)
	}
	lo, hi := f.PayloadOffset, f.PayloadOffset+len(f.Payload)
	if f.Fragment {
		lo, hi = f.FragHeaderOffset, min(len(before), f.IPOffset+f.IPLen)
	}
	sum := -1
	if !f.Fragment && (f.Proto == link.ProtoTCP || f.Proto == link.ProtoUDP) {
		sum = f.TransportOffset + 16
		if f.Proto == link.ProtoUDP {
			sum = f.TransportOffset + 6
		}
	}
	for i := range before {
		if before[i] != after[i] && (i < lo || i >= hi) && (i < sum || i > sum+1) {
			t.Fatalf("byte %d outside the payload [%d,%d) changed", i, lo, hi)
		}
	}
	// A checksum that was right stays right, one that was wrong stays as
	// it was: by gopacket where it can tell, else by a plain sum over
	// the segment as the IP header (or the captured length, for an IPv6
	// length of 0 as offloading writes it) delimits it.
	okBefore, known := transportSumOK(before)
	okAfter, _ := transportSumOK(after)
	if f.Proto == link.ProtoUDP && !f.Fragment && f.TransportOffset+8 <= len(before) {
		// A UDP length that does not fit: gopacket and the masker read
		// the datagram differently; judge it as the masker reads it.
		if u := int(binary.BigEndian.Uint16(before[f.TransportOffset+4:])); u < 8 || f.TransportOffset+u > f.IPOffset+f.IPLen {
			known = false
		}
	}
	if !known {
		okBefore, known = plainSumOK(&f, before)
		okAfter, _ = plainSumOK(&f, after)
	}
	switch {
	case !known || !okBefore:
		if sum >= 0 && !bytes.Equal(before[sum:sum+2], after[sum:sum+2]) {
			t.Fatalf("a checksum that was wrong or unknown (known %v) was rewritten:\n% x\n% x", known, before, after)
		}
	case !okAfter:
		t.Fatalf("a right checksum became wrong:\n% x\n% x", before, after)
	}
}

// plainSumOK adds up a TCP or UDP segment with its pseudo-header, 16
// bits at a time.
func plainSumOK(f *link.Frame, data []byte) (ok, known bool) {
	if f.Fragment || f.Truncated() || f.Proto != link.ProtoTCP && f.Proto != link.ProtoUDP {
		return false, false
	}
	start, end := f.TransportOffset, f.IPOffset+f.IPLen
	if end > len(data) {
		return false, false
	}
	if f.Proto == link.ProtoUDP && end-start >= 8 {
		if u := int(binary.BigEndian.Uint16(data[start+4:])); u >= 8 && start+u <= end {
			end = start + u
		}
	}
	if end-start < 8 {
		return false, false
	}
	var s uint64
	add := func(b []byte) {
		for i := 0; i < len(b); i += 2 {
			v := uint64(b[i]) << 8
			if i+1 < len(b) {
				v |= uint64(b[i+1])
			}
			s += v
		}
	}
	src, dst := f.Src.AsSlice(), f.Dst.AsSlice()
	add(src)
	add(dst)
	n := end - start
	s += uint64(f.Proto) + uint64(n>>16) + uint64(n&0xffff)
	add(data[start:end])
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	if f.Proto == link.ProtoUDP && f.Version == 4 && binary.BigEndian.Uint16(data[start+6:]) == 0 {
		return true, true // no checksum
	}
	return s == 0xffff, true
}

// transportSumOK checks the TCP or UDP checksum with gopacket, an
// implementation independent of the masker's; known is false when it
// cannot be checked (fragment, cut, not TCP/UDP).
func transportSumOK(data []byte) (ok, known bool) {
	gp := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Default)
	// A payload gopacket cannot decode (DNS on port 53, say) is no
	// reason not to check the checksum below it.
	nl := gp.NetworkLayer()
	if nl == nil || gp.TransportLayer() == nil || gp.Metadata().Truncated {
		return false, false
	}
	if ip4, is := nl.(*layers.IPv4); is && (ip4.Flags&layers.IPv4MoreFragments != 0 || ip4.FragOffset != 0 || int(ip4.Length) > len(ip4.Contents)+len(ip4.Payload)) {
		return false, false
	}
	tl, is := gp.TransportLayer().(interface {
		SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
	})
	if !is {
		return false, false
	}
	if err := tl.SetNetworkLayerForChecksum(nl); err != nil {
		return false, false
	}
	_, bad := gp.VerifyChecksums()
	for _, b := range bad {
		if lt := b.Layer.LayerType(); lt == layers.LayerTypeTCP || lt == layers.LayerTypeUDP {
			return false, true
		}
	}
	return true, true
}
