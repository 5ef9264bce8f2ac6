package sink

import (
	"net"
	"sync"
)

// limitListener bounds open connections per peer IP and in total, and
// closes a connection over either bound as soon as it is accepted.
//
// It replaces netutil.LimitListener, which stops calling Accept at the
// limit: connections beyond it then wait in the kernel's backlog, so 512
// idle connections from anyone locked every sender out for as long as the
// attacker kept them open, token or not (authentication happens later, on
// a request). Refusing at once keeps Accept running; the per-peer bound
// keeps one address from taking the whole budget, and the server's idle
// and handshake timeouts close what is admitted but never used.
type limitListener struct {
	net.Listener
	perIP, total int
	onReject     func()

	mu   sync.Mutex
	open int
	byIP map[string]int
}

// LimitListener wraps ln with the same per-address and total bounds the
// sink's listeners use, for the other servers tapview runs (the --serve
// watch port, the capture agent). onReject, when set, is called for each
// connection closed on arrival.
func LimitListener(ln net.Listener, perIP, total int, onReject func()) net.Listener {
	return newLimitListener(ln, perIP, total, onReject)
}

func newLimitListener(ln net.Listener, perIP, total int, onReject func()) *limitListener {
	return &limitListener{Listener: ln, perIP: perIP, total: total, onReject: onReject, byIP: make(map[string]int)}
}

// Accept returns the next connection within the bounds, closing (and
// reporting) those over them.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteHost(c.RemoteAddr().String())
		if l.admit(ip) {
			return &limitConn{Conn: c, l: l, ip: ip}, nil
		}
		// SetLinger(0) answers with RST: the refused peer learns at
		// once, and no TIME_WAIT state piles up here under a flood.
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
		if l.onReject != nil {
			l.onReject()
		}
	}
}

func (l *limitListener) admit(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.total || l.byIP[ip] >= l.perIP {
		return false
	}
	l.open++
	l.byIP[ip]++
	return true
}

func (l *limitListener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
}

// limitConn gives its slot back on the first Close.
type limitConn struct {
	net.Conn
	l    *limitListener
	ip   string
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}
