//go:build linux

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// soOriginalDst is getsockopt(SOL_IP, SO_ORIGINAL_DST): the destination a
// connection had before iptables NAT (REDIRECT) rewrote it, as Envoy's
// original_dst listener filter reads it.
const soOriginalDst = 80

// originalDst returns the pre-NAT destination of an accepted connection.
func originalDst(c net.Conn) (netip.AddrPort, error) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("not TCP")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return netip.AddrPort{}, err
	}
	var ap netip.AddrPort
	var gerr error
	err = rc.Control(func(fd uintptr) {
		// sockaddr_in comes back in the 16 bytes of an IPv6Mreq.
		m, err := syscall.GetsockoptIPv6Mreq(int(fd), syscall.IPPROTO_IP, soOriginalDst)
		if err != nil {
			gerr = err
			return
		}
		b := m.Multiaddr
		port := binary.BigEndian.Uint16(b[2:4])
		ap = netip.AddrPortFrom(netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]}), port)
	})
	if err == nil {
		err = gerr
	}
	return ap, err
}

// dialNote receives the local address a dial bound, also when the
// connection then failed (a refused upstream still had a local port, and
// the capture shows its SYN from there).
type dialNote struct {
	mu    sync.Mutex
	local netip.AddrPort
}

func (n *dialNote) set(a netip.AddrPort) {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.local = a
	n.mu.Unlock()
}

func (n *dialNote) get() netip.AddrPort {
	if n == nil {
		return netip.AddrPort{}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.local
}

type noteKey struct{}

// dialTCP connects to raddr from bindIP (any address when invalid),
// binding explicitly first so the local port is known before connect;
// the note in ctx, if any, receives it.
func dialTCP(ctx context.Context, raddr string, bindIP netip.Addr) (net.Conn, error) {
	note, _ := ctx.Value(noteKey{}).(*dialNote)
	d := net.Dialer{Timeout: 3 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var berr error
		err := c.Control(func(fd uintptr) {
			var sa syscall.Sockaddr = &syscall.SockaddrInet4{}
			if bindIP.IsValid() {
				sa = &syscall.SockaddrInet4{Addr: bindIP.As4()}
			}
			if berr = syscall.Bind(int(fd), sa); berr != nil {
				return
			}
			got, err := syscall.Getsockname(int(fd))
			if err != nil {
				berr = err
				return
			}
			if in4, ok := got.(*syscall.SockaddrInet4); ok {
				note.set(netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port)))
			}
		})
		if err != nil {
			return err
		}
		return berr
	}}
	return d.DialContext(ctx, "tcp4", raddr)
}

// lockedWriter serialises writes from many connections to one file (TLS
// key log lines, ground-truth records).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// openLog opens an append-only file, or discards when path is "".
func openLog(path string) io.Writer {
	if path == "" {
		return io.Discard
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		fatalf("open %s: %v", path, err)
	}
	return &lockedWriter{w: f}
}

// jsonLog writes one JSON object per line.
type jsonLog struct{ w io.Writer }

func (j jsonLog) write(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		fatalf("json: %v", err)
	}
	j.w.Write(append(b, '\n'))
}

// selfCert makes a throw-away certificate: the bed skips verification,
// the point is real TLS 1.3 with real keys on the wire.
func selfCert(names ...string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fatalf("key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		fatalf("cert: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "meshbed: "+format+"\n", args...)
	os.Exit(1)
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

// peekConn replays bytes already read before the rest of the connection.
type peekConn struct {
	net.Conn
	r io.Reader
}

func (p *peekConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// readOnly lets crypto/tls read a ClientHello without answering it.
type readOnly struct {
	r io.Reader
	net.Conn
}

func (c readOnly) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c readOnly) Write(p []byte) (int, error) { return 0, io.ErrClosedPipe }

var errHelloRead = fmt.Errorf("hello read")
