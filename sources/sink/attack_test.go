package sink_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/tapview/tapview/sources/sink"
	"github.com/tapview/tapview/sources/sink/auth"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// The attackers dial from 127.0.0.2 and up, the legitimate sender from
// 127.0.0.1: on Linux all of 127.0.0.0/8 is loopback, so the per-address
// limit sees distinct peers without any traffic leaving the host.

// attackerIP is the n-th attacker source address, 127.0.0.(2+n).
func attackerIP(n int) net.IP { return net.IPv4(127, 0, 0, byte(2+n)) }

func dialFrom(ip net.IP, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 3 * time.Second}
	return d.Dial("tcp", addr)
}

// h2Idle opens an HTTP/2 connection from ip and completes the handshake
// (client preface and SETTINGS, the server's SETTINGS acknowledged), then
// sends nothing more: no RPC, no token.
func h2Idle(ip net.IP, addr string) (net.Conn, error) {
	c, err := dialFrom(ip, addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		c.Close()
		return nil, err
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		c.Close()
		return nil, err
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			c.Close()
			return nil, err
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			if err := fr.WriteSettingsAck(); err != nil {
				c.Close()
				return nil, err
			}
			c.SetDeadline(time.Time{})
			return c, nil
		}
	}
}

// flood opens n idle HTTP/2 connections spread over addrs source
// addresses, 32 at a time, and returns those that completed the
// handshake and how many failed.
func flood(t *testing.T, addr string, n, addrs int) (open []net.Conn, failed int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := h2Idle(attackerIP(i%addrs), addr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				return
			}
			open = append(open, c)
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range open {
			c.Close()
		}
	})
	return open, failed
}

// legitSend sends one trace with the token from 127.0.0.1 on a new
// connection and returns how long until the sink delivered it.
func legitSend(t *testing.T, s *sink.Sink, em *collector, path string) time.Duration {
	t.Helper()
	before := em.count()
	start := time.Now()
	cc := dial(t, s.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), auth.Token("s3cret").Credentials(true))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := streamTaps(ctx, cc, "legit", []*tapv3.TraceWrapper{tracetest.HTTPBuffered(1, path, 200, "ok")}); err != nil {
		t.Fatalf("legitimate sender refused: %v", err)
	}
	em.wait(t, before+1)
	return time.Since(start)
}

// stillOpen reports whether the peer has not closed c: a read that times
// out means open, EOF or a reset means closed. Frames the server sends
// (GOAWAY included) are read past until the deadline.
func stillOpen(c net.Conn, wait time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(wait))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 4096)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}
}

func needLoopbackRange(t *testing.T) {
	t.Helper()
	c, err := dialFrom(attackerIP(0), "127.0.0.1:1")
	if err != nil && strings.Contains(err.Error(), "assign requested address") {
		t.Skip("cannot bind 127.0.0.2 as a source address on this host")
	}
	if c != nil {
		c.Close()
	}
}

// TestIdleHTTP2FloodDoesNotLockOutSenders: 600 idle HTTP/2 connections
// (handshake done, no RPC, no token) used to fill the old 512-connection
// limit and lock out every sender. From one address, all but
// DefaultMaxConnsPerIP are closed on arrival; from 20 addresses, all 600
// stay open while a legitimate sender with the token is accepted within
// a second; idle connections are closed after IdleTimeout.
func TestIdleHTTP2FloodDoesNotLockOutSenders(t *testing.T) {
	needLoopbackRange(t)
	const idle = 2 * time.Second
	em := newCollector()
	s := start(t, sink.Config{Token: "s3cret", HTTPAddr: "off", IdleTimeout: idle}, em)
	addr := s.GRPCAddr().String()

	one, failed := flood(t, addr, 600, 1)
	if len(one) != sink.DefaultMaxConnsPerIP || failed != 600-sink.DefaultMaxConnsPerIP {
		t.Errorf("600 from one address: %d admitted, %d refused; want %d admitted", len(one), failed, sink.DefaultMaxConnsPerIP)
	}
	if d := legitSend(t, s, em, "/during-one-address-flood"); d > time.Second {
		t.Errorf("legitimate sender took %v during a one-address flood", d)
	}

	many, failed := flood(t, addr, 600, 20)
	if failed != 30 { // 127.0.0.2 already holds its 64: its 30 more are refused
		t.Errorf("600 from 20 addresses: %d refused, want the 30 from the address already at its limit", failed)
	}
	if d := legitSend(t, s, em, "/during-flood"); d > time.Second {
		t.Errorf("legitimate sender took %v with %d idle connections open", d, len(one)+len(many))
	}
	open := 0
	for _, c := range many[:50] {
		if stillOpen(c, 20*time.Millisecond) {
			open++
		}
	}
	if open != 50 {
		t.Errorf("%d of 50 sampled idle connections still open right after the sender; the flood should have been held, not dropped", open)
	}

	// Idle connections get GOAWAY after IdleTimeout and are closed once
	// grpc-go's drain timer (5 s) runs out.
	deadline := time.Now().Add(2*idle + 8*time.Second)
	for _, c := range append(one[:10], many[:10]...) {
		for stillOpen(c, 200*time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("an idle connection is still open %v after the flood", 2*idle+8*time.Second)
			}
		}
	}
	if d := legitSend(t, s, em, "/after"); d > time.Second {
		t.Errorf("legitimate sender took %v after the flood", d)
	}
	time.Sleep(1100 * time.Millisecond)
	em.mu.Lock()
	defer em.mu.Unlock()
	found := false
	for _, n := range em.notes {
		found = found || n.Kind == "connections"
	}
	if !found {
		t.Errorf("no note about refused connections in %+v", em.notes)
	}
}

// TestSlowlorisOnHTTPPort: connections that trickle their headers, or a
// body, hold no slot beyond HandshakeTimeout (headers) or BodyTimeout (a
// whole request), and a legitimate POST is answered within a second
// while 200 of them are open.
func TestSlowlorisOnHTTPPort(t *testing.T) {
	needLoopbackRange(t)
	const hdrTimeout, bodyTimeout = time.Second, 2 * time.Second
	em := newCollector()
	s := start(t, sink.Config{Token: "s3cret", GRPCAddr: "off", HandshakeTimeout: hdrTimeout, BodyTimeout: bodyTimeout}, em)
	addr := s.HTTPAddr().String()

	type victim struct {
		body   bool
		closed atomic.Int64 // nanoseconds after start, 0 while open
	}
	start := time.Now()
	var victims []*victim
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); wg.Wait() }()
	for i := range 200 {
		v := &victim{body: i%4 == 0}
		victims = append(victims, v)
		c, err := dialFrom(attackerIP(i%5), addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		head := "POST /x HTTP/1.1\r\nHost: sink\r\nAuthorization: Bearer s3cret\r\nContent-Type: application/x-protobuf\r\n"
		if v.body {
			head += "Content-Length: 1000000\r\n\r\n"
		}
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { // the reader notices the close
			io.Copy(io.Discard, c)
			v.closed.Store(int64(time.Since(start)))
		})
		wg.Go(func() { // one byte every 100 ms, forever
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					b := "X"
					if v.body {
						b = "\x0a"
					}
					if _, err := io.WriteString(c, b); err != nil {
						return
					}
				}
			}
		})
	}

	t0 := time.Now()
	body := binaryTapRequest(t, tracetest.HTTPBuffered(1, "/legit", 200, "ok"))
	if code := post(t, http.DefaultClient, "http://"+addr+"/", "application/x-protobuf", body, "Authorization", "Bearer s3cret"); code != 200 {
		t.Fatalf("legitimate POST during slowloris: %d", code)
	}
	em.wait(t, 1)
	if d := time.Since(t0); d > time.Second {
		t.Errorf("legitimate POST took %v during slowloris", d)
	}

	time.Sleep(bodyTimeout + 1500*time.Millisecond)
	for i, v := range victims {
		limit := hdrTimeout
		if v.body {
			limit = bodyTimeout
		}
		got := time.Duration(v.closed.Load())
		if got == 0 {
			t.Errorf("slowloris connection %d (body %v) still open after %v", i, v.body, time.Since(start))
		} else if got > limit+1500*time.Millisecond {
			t.Errorf("slowloris connection %d (body %v) closed after %v, limit %v", i, v.body, got, limit)
		}
	}
}

// TestOversizedHeaders: a header block over the limit is refused on both
// ports (431 on HTTP, a failed RPC on gRPC) and the sink keeps serving.
func TestOversizedHeaders(t *testing.T) {
	em := newCollector()
	s := start(t, sink.Config{Token: "s3cret"}, em)
	huge := strings.Repeat("a", 200<<10)

	req, _ := http.NewRequest(http.MethodPost, "http://"+s.HTTPAddr().String()+"/", strings.NewReader("x"))
	req.Header.Set("X-Huge", huge)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("HTTP with a 200 KB header: %d, want 431", resp.StatusCode)
	}

	cc := dial(t, s.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), auth.Token("s3cret").Credentials(true))
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-huge", huge), 5*time.Second)
	defer cancel()
	if err := streamTaps(ctx, cc, "huge", []*tapv3.TraceWrapper{tracetest.HTTPBuffered(1, "/huge", 200, "")}); err == nil {
		t.Error("gRPC with a 200 KB header was accepted")
	}
	if d := legitSend(t, s, em, "/after-huge"); d > time.Second {
		t.Errorf("sender took %v after oversized headers", d)
	}
	if got := em.count(); got != 1 {
		t.Errorf("%d traces delivered, want only the legitimate one", got)
	}
}

// TestIdleFloodOnHTTPPort: 600 connections that send nothing, and h2c
// connections that stop after the preface, used to hold the HTTP port
// for 120 s a wave. A legitimate POST is answered within a second while
// they are open, and every one is closed after HandshakeTimeout (no
// request yet) or IdleTimeout (h2c, no stream).
func TestIdleFloodOnHTTPPort(t *testing.T) {
	needLoopbackRange(t)
	const hdrTimeout, idle = time.Second, 2 * time.Second
	em := newCollector()
	s := start(t, sink.Config{Token: "s3cret", GRPCAddr: "off", HandshakeTimeout: hdrTimeout, IdleTimeout: idle}, em)
	addr := s.HTTPAddr().String()

	var conns []net.Conn
	for i := range 500 {
		c, err := dialFrom(attackerIP(i%20), addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	h2c, failed := flood(t, addr, 100, 20)
	if failed != 0 {
		t.Fatalf("%d h2c handshakes failed", failed)
	}
	conns = append(conns, h2c...)

	t0 := time.Now()
	body := binaryTapRequest(t, tracetest.HTTPBuffered(1, "/legit", 200, "ok"))
	if code := post(t, http.DefaultClient, "http://"+addr+"/", "application/x-protobuf", body, "Authorization", "Bearer s3cret"); code != 200 {
		t.Fatalf("legitimate POST during the flood: %d", code)
	}
	em.wait(t, 1)
	if d := time.Since(t0); d > time.Second {
		t.Errorf("legitimate POST took %v with %d idle connections open", d, len(conns))
	}

	// h2c idle connections get GOAWAY then close; allow for the
	// server's idle check period on top of the timeout.
	deadline := time.Now().Add(2*idle + 3*time.Second)
	for i, c := range conns {
		for stillOpen(c, 100*time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("idle connection %d of %d still open %v after the flood", i, len(conns), time.Since(t0))
			}
		}
	}
}
