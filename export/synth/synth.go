// Package synth builds realistic packets from byte streams: Ethernet (or
// raw IP) frames carrying IPv4 or IPv6 with TCP or UDP, valid checksums,
// a TCP handshake, MSS-sized segments with consistent sequence and
// acknowledgment numbers, and a FIN or RST teardown. tapview needs this
// wherever it has bytes but no packets: Envoy tap traces exported as
// pcap, the embedded demo capture, test recordings of real Go clients and
// servers (see Recording), and benchmark inputs.
package synth

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/netip"
	"time"

	"github.com/tapview/tapview/sources"
)

// Defaults applied to zero Options fields.
const (
	// DefaultMSS is the segment payload size: an Ethernet MTU of 1500
	// minus IPv4/TCP headers and the TCP timestamp option, what Linux
	// typically sends.
	DefaultMSS = 1448
	// DefaultWindow is the advertised receive window (no window scaling).
	DefaultWindow = 65535
	// DefaultTTL is the IPv4 TTL and IPv6 hop limit.
	DefaultTTL = 64
	// DefaultSource names the packets' source when Options.Source is "".
	DefaultSource = "synth"
	// Tick is the smallest gap between two packets of one connection:
	// packets are stamped strictly after their predecessor so they keep
	// their order even in a microsecond-resolution pcap.
	Tick = time.Microsecond
	// maxMSS keeps an IPv4 packet within its 16-bit total length.
	maxMSS = 65535 - 20 - 20
)

// Options shape the packets a TCP or UDP builder emits. The zero value
// gives Ethernet frames with DefaultMSS segments.
type Options struct {
	// MSS is the largest TCP payload per segment, and the MSS option
	// advertised in the SYNs. 0 means DefaultMSS.
	MSS int
	// Link is sources.LinkEthernet (0 means Ethernet) or sources.LinkRaw.
	Link uint16
	// Source is copied to every Packet.Source (and so becomes the pcapng
	// interface name). "" means DefaultSource.
	Source string
	// Window is the advertised TCP window. 0 means DefaultWindow.
	Window uint16
	// TTL is the IPv4 TTL / IPv6 hop limit. 0 means DefaultTTL.
	TTL uint8
}

// withDefaults fills zero fields and rejects values no packet can carry.
func (o Options) withDefaults() (Options, error) {
	if o.MSS == 0 {
		o.MSS = DefaultMSS
	}
	if o.MSS < 1 || o.MSS > maxMSS {
		return o, fmt.Errorf("synth: MSS %d out of range 1..%d", o.MSS, maxMSS)
	}
	if o.Link == 0 {
		o.Link = sources.LinkEthernet
	}
	if o.Link != sources.LinkEthernet && o.Link != sources.LinkRaw {
		return o, fmt.Errorf("synth: link type %d not supported (want %d Ethernet or %d raw IP)", o.Link, sources.LinkEthernet, sources.LinkRaw)
	}
	if o.Source == "" {
		o.Source = DefaultSource
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	return o, nil
}

// endpoint is one side of a conversation as it appears in frames.
type endpoint struct {
	addr netip.AddrPort
	mac  [6]byte
}

// endpoints validates a client/server pair and derives stable MAC
// addresses from the IPs (locally administered, so they never clash with
// real vendors). IPv4-mapped IPv6 addresses are unmapped, as the kernel
// does on the wire.
func endpoints(client, server netip.AddrPort) ([2]endpoint, error) {
	c := netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	s := netip.AddrPortFrom(server.Addr().Unmap(), server.Port())
	if !c.Addr().IsValid() || !s.Addr().IsValid() {
		return [2]endpoint{}, fmt.Errorf("synth: invalid endpoints %v -> %v", client, server)
	}
	if c.Addr().Is4() != s.Addr().Is4() {
		return [2]endpoint{}, fmt.Errorf("synth: endpoints %v -> %v mix IPv4 and IPv6", client, server)
	}
	return [2]endpoint{{addr: c, mac: macFor(c.Addr())}, {addr: s, mac: macFor(s.Addr())}}, nil
}

func macFor(a netip.Addr) [6]byte {
	h := fnv.New32a()
	b := a.As16()
	h.Write(b[:])
	var m [6]byte
	m[0] = 0x02 // locally administered, unicast
	binary.BigEndian.PutUint32(m[2:], h.Sum32())
	return m
}

// seed derives a stable 32-bit value (ISN, IP id) from a conversation, so
// the same endpoints always give the same numbers.
func seed(salt string, a, b netip.AddrPort) uint32 {
	h := fnv.New32a()
	h.Write([]byte(salt))
	h.Write([]byte(a.String()))
	h.Write([]byte(b.String()))
	return h.Sum32()
}

// clock hands out strictly increasing timestamps for one conversation.
type clock struct{ last time.Time }

// next returns ts, or Tick after the previous stamp when ts is not later.
// Monotonic clock readings are dropped so stamps compare by wall time.
func (c *clock) next(ts time.Time) time.Time {
	ts = ts.Round(0)
	if !c.last.IsZero() && !ts.After(c.last) {
		ts = c.last.Add(Tick)
	}
	c.last = ts
	return ts
}
