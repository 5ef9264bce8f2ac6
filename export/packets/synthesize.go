package packets

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/rebuild"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
)

// Placeholder endpoints (TEST-NET-1, RFC 5737) for exchanges whose source
// recorded no addresses; the packet comment says they are made up.
var (
	placeholderClient = netip.MustParseAddrPort("192.0.2.1:40000")
	placeholderServer = netip.MustParseAddrPort("192.0.2.2:80")
)

// Synthesizer turns exchanges that came without packets (Envoy HTTP tap
// traces, socket traces) into TCP connections: handshake, the request and
// response as HTTP/1.1 segments with consistent sequence numbers, and a
// teardown, from the exchange's real addresses (IPv4 or IPv6). Exchanges
// of one flow, or of one address pair when there is no flow, share a
// connection, in the order they are added. Packets go to a
// PacketWriter, usually a time-ordered spool that pass two merges with
// the captured packets. A Synthesizer is used by one goroutine.
type Synthesizer struct {
	w       pcapw.PacketWriter
	masker  *mask.Masker
	conns   map[synthKey]*synthConn
	written int
	skipped int
}

type synthKey struct {
	flow           uint64
	source         string
	client, server netip.AddrPort
}

type synthConn struct {
	tcp    *synth.TCP
	source string
	first  time.Time
	last   time.Time
}

// NewSynthesizer writes synthesized packets to w, built from exchanges
// masked by m (nil: unmasked).
func NewSynthesizer(w pcapw.PacketWriter, m *mask.Masker) *Synthesizer {
	return &Synthesizer{w: w, masker: m, conns: make(map[synthKey]*synthConn)}
}

// Add synthesizes the packets of one final exchange. Only HTTP exchanges
// (HTTP/1.x, HTTP/2, gRPC) can be rebuilt; others are counted as skipped.
func (s *Synthesizer) Add(e *decode.Exchange) error {
	switch e.Proto {
	case "http/1.0", "http/1.1", "h2", "grpc":
	default:
		s.skipped++
		return nil
	}
	me := s.masker.Exchange(e)
	req, resp := rebuild.Exchange(me)
	if len(req) == 0 && len(resp) == 0 {
		s.skipped++
		return nil
	}
	client, server, made := endpointsOf(e)
	key := synthKey{flow: e.FlowID}
	if e.FlowID == 0 {
		key = synthKey{source: e.Source, client: client, server: server}
	}
	start := firstTime(e)
	c := s.conns[key]
	if c == nil {
		source := e.Source
		if source == "" {
			source = synth.DefaultSource
		}
		tcp, err := synth.NewTCP(client, server, synth.Options{Source: source})
		if err != nil {
			return fmt.Errorf("export: synthesize %s: %w", e.Host(), err)
		}
		c = &synthConn{tcp: tcp, source: source, first: start}
		s.conns[key] = c
		if err := s.write(c, c.tcp.Open(start.Add(-3*synth.Tick)), ""); err != nil {
			return err
		}
	}
	note := "no packets captured: synthesized"
	if e.Proto == "h2" || e.Proto == "grpc" {
		note += ", HTTP/2 shown as HTTP/1.1"
	}
	if made {
		note += ", addresses made up"
	}
	text := Summary(me) + " [" + note + "]"
	reqAt, respAt := start, start
	if me.Request != nil && !me.Request.First.IsZero() {
		reqAt = me.Request.First
	}
	if me.Response != nil && !me.Response.First.IsZero() {
		respAt = me.Response.First
	} else if len(me.Interim) > 0 && !me.Interim[0].First.IsZero() {
		respAt = me.Interim[0].First
	}
	if len(req) > 0 {
		if err := s.write(c, c.tcp.Send(decode.ClientToServer, req, reqAt), text); err != nil {
			return err
		}
		text = ""
	}
	if err := s.write(c, c.tcp.Send(decode.ServerToClient, resp, respAt), text); err != nil {
		return err
	}
	s.written++
	return nil
}

// write sends packets to the writer, the comment on the first one, and
// tracks the connection's last time.
func (s *Synthesizer) write(c *synthConn, pkts []sources.Packet, text string) error {
	for i, p := range pkts {
		comment := ""
		if i == 0 {
			comment = text // Send returns the first data segment first
		}
		if err := s.w.WritePacket(p, comment); err != nil {
			return fmt.Errorf("export: spool synthesized packets: %w", err)
		}
		if p.Timestamp.After(c.last) {
			c.last = p.Timestamp
		}
	}
	return nil
}

// Close tears every synthesized connection down (FIN from both sides)
// just after its last packet.
func (s *Synthesizer) Close() error {
	conns := make([]*synthConn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	slices.SortFunc(conns, func(a, b *synthConn) int { return cmp.Compare(a.first.UnixNano(), b.first.UnixNano()) })
	for _, c := range conns {
		if err := s.write(c, c.tcp.Close(c.last.Add(time.Millisecond)), ""); err != nil {
			return err
		}
	}
	clear(s.conns)
	return nil
}

// Counts returns how many exchanges were synthesized and how many could
// not be (not HTTP, or nothing to rebuild).
func (s *Synthesizer) Counts() (written, skipped int) { return s.written, s.skipped }

// endpointsOf returns usable addresses for e: its own when valid,
// placeholders when it has none (made is then set). A packet cannot mix
// IPv4 and IPv6, so when a proxy recorded one of each, the IPv4 address
// is written in the NAT64 well-known prefix 64:ff9b::/96 (RFC 6052),
// where it stays readable.
func endpointsOf(e *decode.Exchange) (client, server netip.AddrPort, made bool) {
	client, server = unmap(e.Client), unmap(e.Server)
	if !client.Addr().IsValid() || !server.Addr().IsValid() {
		return placeholderClient, placeholderServer, true
	}
	if client.Addr().Is4() != server.Addr().Is4() {
		client, server = nat64(client), nat64(server)
	}
	return client, server, false
}

func nat64(a netip.AddrPort) netip.AddrPort {
	if !a.Addr().Is4() {
		return a
	}
	v4 := a.Addr().As4()
	b := [16]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b}
	copy(b[12:], v4[:])
	return netip.AddrPortFrom(netip.AddrFrom16(b), a.Port())
}

// firstTime is when an exchange began, falling back to now for sources
// that recorded no times.
func firstTime(e *decode.Exchange) time.Time {
	switch {
	case e.Request != nil && !e.Request.First.IsZero():
		return e.Request.First
	case !e.Start.IsZero():
		return e.Start
	case e.Response != nil && !e.Response.First.IsZero():
		return e.Response.First
	}
	return time.Now()
}
