package synth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/sources"
)

// Recording collects the traffic of real client connections as synthetic
// packets, so tests and the demo generator can capture what net/http,
// h2c and grpc-go really put on the wire without root, libpcap or a
// capture interface. It is safe for concurrent use by many connections.
type Recording struct {
	opts   Options
	dialer net.Dialer

	mu   sync.Mutex
	pkts []sources.Packet
}

// NewRecording returns an empty recording whose packets are built with
// opts (validated when a connection is wrapped).
func NewRecording(opts Options) *Recording {
	return &Recording{opts: opts}
}

// DialContext dials network/address and records the connection. It has
// the signature of net/http's Transport.DialContext and of the resolver
// hook net.Resolver.Dial ("udp" conversations are recorded datagram by
// datagram).
func (r *Recording) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	start := time.Now()
	c, err := r.dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	rc, err := r.wrap(c, start)
	if err != nil {
		c.Close()
		return nil, err
	}
	return rc, nil
}

// DialGRPC dials a TCP address and records the connection; pass it to
// grpc.WithContextDialer.
func (r *Recording) DialGRPC(ctx context.Context, address string) (net.Conn, error) {
	return r.DialContext(ctx, "tcp", address)
}

// Wrap records an already established TCP or UDP client connection from
// now on: writes are client-to-server data, reads server-to-client data,
// using the connection's real local and remote addresses. A TCP
// connection gets a handshake stamped now.
func (r *Recording) Wrap(c net.Conn) (net.Conn, error) {
	return r.wrap(c, time.Now())
}

func (r *Recording) wrap(c net.Conn, start time.Time) (net.Conn, error) {
	local, err := addrPort(c.LocalAddr())
	if err != nil {
		return nil, err
	}
	remote, err := addrPort(c.RemoteAddr())
	if err != nil {
		return nil, err
	}
	switch c.LocalAddr().Network() {
	case "tcp", "tcp4", "tcp6":
		t, err := NewTCP(local, remote, r.opts)
		if err != nil {
			return nil, err
		}
		r.add(t.Open(start))
		return &tcpConn{Conn: c, rec: r, t: t}, nil
	case "udp", "udp4", "udp6":
		u, err := NewUDP(local, remote, r.opts)
		if err != nil {
			return nil, err
		}
		return &udpConn{Conn: c, rec: r, u: u}, nil
	default:
		return nil, fmt.Errorf("synth: cannot record %s connection to %v", c.LocalAddr().Network(), c.RemoteAddr())
	}
}

func addrPort(a net.Addr) (netip.AddrPort, error) {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort(), nil
	case *net.UDPAddr:
		return a.AddrPort(), nil
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return ap, fmt.Errorf("synth: address %q: %w", a, err)
	}
	return ap, nil
}

func (r *Recording) add(p []sources.Packet) {
	if len(p) == 0 {
		return
	}
	r.mu.Lock()
	r.pkts = append(r.pkts, p...)
	r.mu.Unlock()
}

// Packets returns a copy of everything recorded so far in timestamp order
// (ties keep recording order), with Ordinal numbered from 1.
func (r *Recording) Packets() []sources.Packet {
	r.mu.Lock()
	out := slices.Clone(r.pkts)
	r.mu.Unlock()
	slices.SortStableFunc(out, func(a, b sources.Packet) int {
		return a.Timestamp.Compare(b.Timestamp)
	})
	for i := range out {
		out[i].Ordinal = uint64(i + 1)
	}
	return out
}

// Export writes the recorded packets in timestamp order to w and flushes.
func (r *Recording) Export(w pcapw.PacketWriter) error {
	for _, p := range r.Packets() {
		if err := w.WritePacket(p, ""); err != nil {
			return err
		}
	}
	return w.Flush()
}

// WritePcapng writes the recording as a pcapng section to w.
func (r *Recording) WritePcapng(w io.Writer, opts pcapw.NgOptions) error {
	nw, err := pcapw.NewPcapng(w, opts)
	if err != nil {
		return err
	}
	return r.Export(nw)
}

// WritePcap writes the recording as a nanosecond pcap to w.
func (r *Recording) WritePcap(w io.Writer) error {
	o, err := r.opts.withDefaults()
	if err != nil {
		return err
	}
	pw, err := pcapw.NewPcap(w, o.Link, 0, true)
	if err != nil {
		return err
	}
	return r.Export(pw)
}

// ShiftTo moves packets in time so the earliest starts at start, keeping
// every gap; generators use it to make captures of real traffic start at
// a fixed instant.
func ShiftTo(pkts []sources.Packet, start time.Time) {
	if len(pkts) == 0 {
		return
	}
	first := slices.MinFunc(pkts, func(a, b sources.Packet) int { return cmp.Compare(a.Timestamp.UnixNano(), b.Timestamp.UnixNano()) }).Timestamp
	d := start.Sub(first)
	for i := range pkts {
		pkts[i].Timestamp = pkts[i].Timestamp.Add(d)
	}
}

// tcpConn records a client TCP connection. Each write is recorded before
// it is passed on, so a response can never appear before its request; the
// connection's lock is never held during I/O, so a blocked write cannot
// stall the reader.
type tcpConn struct {
	net.Conn
	rec *Recording

	mu     sync.Mutex
	t      *TCP
	closed bool
}

func (c *tcpConn) record(f func(t *TCP, now time.Time) []sources.Packet) {
	c.mu.Lock()
	p := f(c.t, time.Now())
	c.mu.Unlock()
	c.rec.add(p)
}

// Write records b as one client write, then sends it. Recording first
// keeps a request ahead of its response; the price is that bytes of a
// write that fails are recorded all the same.
func (c *tcpConn) Write(b []byte) (int, error) {
	c.record(func(t *TCP, now time.Time) []sources.Packet {
		return t.Send(decode.ClientToServer, b, now)
	})
	return c.Conn.Write(b)
}

// Read receives and records what arrived as one server write; EOF is the
// server's FIN and a connection reset its RST.
func (c *tcpConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.record(func(t *TCP, now time.Time) []sources.Packet {
		p := t.Send(decode.ServerToClient, b[:n], now)
		switch {
		case errors.Is(err, io.EOF):
			p = append(p, t.Fin(decode.ServerToClient, now)...)
		case errors.Is(err, syscall.ECONNRESET):
			p = append(p, t.Reset(decode.ServerToClient, now)...)
		}
		return p
	})
	return n, err
}

// CloseWrite half-closes the connection (client FIN) when the underlying
// connection supports it.
func (c *tcpConn) CloseWrite() error {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok {
		return fmt.Errorf("synth: %T cannot half-close", c.Conn)
	}
	c.record(func(t *TCP, now time.Time) []sources.Packet {
		return t.Fin(decode.ClientToServer, now)
	})
	return cw.CloseWrite()
}

// Close records the orderly teardown (once) and closes the connection.
func (c *tcpConn) Close() error {
	c.record(func(t *TCP, now time.Time) []sources.Packet {
		if c.closed {
			return nil
		}
		c.closed = true
		return t.Close(now)
	})
	return c.Conn.Close()
}

// udpConn records a connected UDP socket: each write and each read is
// one datagram. It is a net.PacketConn too, because Go's DNS resolver
// frames messages for UDP only when its connection is one.
type udpConn struct {
	net.Conn
	rec *Recording

	mu sync.Mutex
	u  *UDP
}

func (c *udpConn) record(dir decode.Direction, b []byte) {
	c.mu.Lock()
	p, err := c.u.Send(dir, b, time.Now())
	c.mu.Unlock()
	if err == nil {
		c.rec.add([]sources.Packet{p})
	}
}

// Write records b as one client datagram, then sends it.
func (c *udpConn) Write(b []byte) (int, error) {
	c.record(decode.ClientToServer, b)
	return c.Conn.Write(b)
}

// Read receives one datagram and records it as from the server.
func (c *udpConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.record(decode.ServerToClient, b[:n])
	}
	return n, err
}

// ReadFrom receives one datagram like Read; only the connected peer's
// datagrams are recorded.
func (c *udpConn) ReadFrom(b []byte) (int, net.Addr, error) {
	pc, ok := c.Conn.(net.PacketConn)
	if !ok {
		n, err := c.Read(b)
		return n, c.RemoteAddr(), err
	}
	n, from, err := pc.ReadFrom(b)
	if n > 0 && from != nil && from.String() == c.RemoteAddr().String() {
		c.record(decode.ServerToClient, b[:n])
	}
	return n, from, err
}

// WriteTo sends one datagram; only datagrams to the connected peer are
// recorded.
func (c *udpConn) WriteTo(b []byte, to net.Addr) (int, error) {
	pc, ok := c.Conn.(net.PacketConn)
	if !ok {
		return 0, fmt.Errorf("synth: %T cannot send to %v", c.Conn, to)
	}
	if to != nil && to.String() == c.RemoteAddr().String() {
		c.record(decode.ClientToServer, b)
	}
	return pc.WriteTo(b, to)
}
