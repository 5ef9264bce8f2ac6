//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The sidecar is a small Envoy stand-in with Istio's behaviour where a
// capture can see it:
//
//   - outbound (15001, reached through iptables REDIRECT): the original
//     destination from SO_ORIGINAL_DST; HTTP routed by Host to a mesh
//     service (mTLS with Istio's SNI "outbound_.PORT_._.FQDN" and ALPN
//     istio-peer-exchange/istio, to the endpoint, over pooled
//     connections), passed through to the original destination when
//     allowed (ALLOW_ANY-style list, pooled per destination), or answered
//     with Istio's block_all 502 itself; TLS routed by SNI: relayed to the
//     original destination when allowed, else reset after the
//     ClientHello (BlackHoleCluster).
//   - inbound (15006): mTLS from peer sidecars or plaintext (permissive
//     mode), forwarded to the app at the original destination from
//     127.0.0.6, pooled.
//
// Every request it handles is written to the ground-truth log: which
// downstream connection brought it, which upstream connection carried
// it (local address, also for a connect that failed), the status and the
// verdict.
type sidecar struct {
	podIP    netip.Addr
	podNS    string
	domain   string
	services []*meshService
	allow    []string
	cert     tls.Certificate
	keys     io.Writer
	truth    jsonLog
	name     string

	passthrough *http.Transport
	inbound     *http.Transport
	reqID       atomic.Int64
}

type meshService struct {
	name, ns  string
	clusterIP netip.AddrPort
	endpoint  netip.AddrPort
	transport *http.Transport
}

func (m *meshService) fqdn(domain string) string { return m.name + "." + m.ns + ".svc." + domain }

// truthRecord is one line of the ground truth.
type truthRecord struct {
	Sidecar  string `json:"sidecar"`
	Dir      string `json:"dir"`  // outbound or inbound
	Kind     string `json:"kind"` // http or tcp
	Down     string `json:"down"` // the downstream connection's client, as the sidecar saw it
	Orig     string `json:"orig"` // SO_ORIGINAL_DST
	MTLS     bool   `json:"mtls,omitempty"`
	Seq      int    `json:"seq,omitempty"` // request number on the downstream connection
	Method   string `json:"method,omitempty"`
	Host     string `json:"host,omitempty"`
	Path     string `json:"path,omitempty"`
	Status   int    `json:"status,omitempty"`
	SNI      string `json:"sni,omitempty"` // the app's SNI (tcp) or the mesh SNI sent upstream
	Route    string `json:"route"`         // mesh, passthrough, blocked
	Verdict  string `json:"verdict"`       // passed, blocked-502, blocked-reset, failed
	UpLocal  string `json:"up_local,omitempty"`
	UpRemote string `json:"up_remote,omitempty"`
	Start    string `json:"start"`
	End      string `json:"end"`
}

func runSidecar(args []string) {
	fs := flag.NewFlagSet("sidecar", flag.ExitOnError)
	name := fs.String("name", "sidecar", "name in the ground truth")
	pod := fs.String("pod-ip", "", "the pod's address")
	podNS := fs.String("pod-ns", "default", "the pod's namespace")
	domain := fs.String("domain", "cluster.local", "cluster domain")
	allow := fs.String("allow", "", "comma-separated hosts passed through (a leading dot: the suffix)")
	truth := fs.String("truth", "", "ground-truth JSON lines")
	keys := fs.String("keys", "", "TLS key log (NSS format) of the sidecar's mTLS")
	outPort := fs.Int("outbound", 15001, "outbound listener port")
	inPort := fs.Int("inbound", 15006, "inbound listener port")
	var svcs multiFlag
	fs.Var(&svcs, "svc", "mesh service NAME.NS=CLUSTERIP:PORT@ENDPOINT:PORT (repeatable)")
	fs.Parse(args)

	s := &sidecar{podIP: netip.MustParseAddr(*pod), podNS: *podNS, domain: *domain, keys: openLog(*keys),
		truth: jsonLog{openLog(*truth)}, name: *name}
	s.cert = selfCert("spiffe." + *name)
	for _, a := range strings.Split(*allow, ",") {
		if a = strings.TrimSpace(a); a != "" {
			s.allow = append(s.allow, strings.ToLower(a))
		}
	}
	for _, v := range svcs {
		nameNS, rest, ok1 := strings.Cut(v, "=")
		cip, ep, ok2 := strings.Cut(rest, "@")
		n, ns, ok3 := strings.Cut(nameNS, ".")
		if !ok1 || !ok2 || !ok3 {
			fatalf("bad -svc %q", v)
		}
		m := &meshService{name: n, ns: ns, clusterIP: netip.MustParseAddrPort(cip), endpoint: netip.MustParseAddrPort(ep)}
		m.transport = s.meshTransport(m)
		s.services = append(s.services, m)
	}
	s.passthrough = pooled(func(ctx context.Context, _, addr string) (net.Conn, error) {
		return dialTCP(ctx, addr, netip.Addr{})
	}, nil)
	s.inbound = pooled(func(ctx context.Context, _, addr string) (net.Conn, error) {
		return dialTCP(ctx, addr, netip.MustParseAddr("127.0.0.6"))
	}, nil)

	out, err := net.Listen("tcp4", ":"+strconv.Itoa(*outPort))
	if err != nil {
		fatalf("listen outbound: %v", err)
	}
	in, err := net.Listen("tcp4", ":"+strconv.Itoa(*inPort))
	if err != nil {
		fatalf("listen inbound: %v", err)
	}
	go s.accept(in, s.serveInbound)
	s.accept(out, s.serveOutbound)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// pooled is an Envoy-like HTTP/1.1 connection pool: idle connections are
// reused, a busy pool opens another, nothing is added to requests.
func pooled(dial func(ctx context.Context, network, addr string) (net.Conn, error),
	dialTLS func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		DialContext:         dial,
		DialTLSContext:      dialTLS,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     time.Hour,
		DisableCompression:  true,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
}

// meshTransport opens mTLS connections to a service's endpoint the way
// an Istio sidecar does.
func (s *sidecar) meshTransport(m *meshService) *http.Transport {
	sni := fmt.Sprintf("outbound_.%d_._.%s", m.clusterIP.Port(), m.fqdn(s.domain))
	return pooled(nil, func(ctx context.Context, _, _ string) (net.Conn, error) {
		c, err := dialTCP(ctx, m.endpoint.String(), netip.Addr{})
		if err != nil {
			return nil, err
		}
		tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true,
			NextProtos: []string{"istio-peer-exchange", "istio"}, Certificates: []tls.Certificate{s.cert},
			KeyLogWriter: s.keys, MinVersion: tls.VersionTLS13})
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	})
}

func (s *sidecar) accept(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			fatalf("accept: %v", err)
		}
		go serve(c)
	}
}

// serveOutbound handles a connection the app made to anywhere, which
// iptables redirected here.
func (s *sidecar) serveOutbound(c net.Conn) {
	defer c.Close()
	orig, err := originalDst(c)
	if err != nil {
		fatalf("SO_ORIGINAL_DST: %v", err)
	}
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil {
		return
	}
	if first[0] == 0x16 { // TLS: route by SNI, TCP proxy
		s.outboundTLS(c, br, orig)
		return
	}
	s.serveHTTP(c, br, "outbound", orig, false)
}

// serveInbound handles a connection for the pod from outside: mTLS from a
// peer sidecar, or plaintext from a caller outside the mesh.
func (s *sidecar) serveInbound(c net.Conn) {
	defer c.Close()
	orig, err := originalDst(c)
	if err != nil {
		fatalf("SO_ORIGINAL_DST: %v", err)
	}
	br := bufio.NewReader(c)
	first, err := br.Peek(1)
	if err != nil {
		return
	}
	if first[0] != 0x16 {
		s.serveHTTP(c, br, "inbound", orig, false)
		return
	}
	tc := tls.Server(&peekConn{Conn: c, r: br}, &tls.Config{Certificates: []tls.Certificate{s.cert},
		ClientAuth: tls.RequireAnyClientCert, NextProtos: []string{"istio-peer-exchange", "istio", "http/1.1"},
		KeyLogWriter: s.keys, MinVersion: tls.VersionTLS13})
	if err := tc.Handshake(); err != nil {
		return
	}
	s.serveHTTP(tc, bufio.NewReader(tc), "inbound", orig, true)
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// serveHTTP reads HTTP/1.1 requests from a downstream connection and
// answers each, keep-alive, in order.
func (s *sidecar) serveHTTP(c net.Conn, br *bufio.Reader, dir string, orig netip.AddrPort, mtls bool) {
	down := addrPort(c.RemoteAddr())
	for seq := 1; ; seq++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		start := time.Now()
		rec := truthRecord{Sidecar: s.name, Dir: dir, Kind: "http", Down: down.String(), Orig: orig.String(), MTLS: mtls,
			Seq: seq, Method: req.Method, Host: req.Host, Path: req.URL.RequestURI(), Start: start.UTC().Format(time.RFC3339Nano)}
		resp := s.forward(req, body, dir, orig, &rec)
		resp.Close = req.Close
		rec.Status = resp.StatusCode
		// One write per response, as Envoy's codec does.
		bw := bufio.NewWriterSize(c, 16<<10)
		werr := resp.Write(bw)
		if werr == nil {
			werr = bw.Flush()
		}
		rec.End = time.Now().UTC().Format(time.RFC3339Nano)
		s.truth.write(rec)
		if werr != nil || req.Close {
			return
		}
	}
}

// forward routes one request and returns what goes back downstream.
func (s *sidecar) forward(req *http.Request, body []byte, dir string, orig netip.AddrPort, rec *truthRecord) *http.Response {
	var rt *http.Transport
	var target string
	switch {
	case dir == "inbound":
		rt, target = s.inbound, orig.String()
		rec.Route = "inbound"
	default:
		host := hostOf(req.Host)
		if m := s.service(host, orig); m != nil {
			rt, target = m.transport, m.endpoint.String()
			rec.Route = "mesh"
			rec.SNI = fmt.Sprintf("outbound_.%d_._.%s", m.clusterIP.Port(), m.fqdn(s.domain))
		} else if s.allowed(host) {
			rt, target = s.passthrough, orig.String()
			rec.Route = "passthrough"
		} else {
			// Istio's block_all route (REGISTRY_ONLY): a direct 502.
			rec.Route, rec.Verdict = "blocked", "blocked-502"
			return direct(http.StatusBadGateway, "")
		}
	}
	note := &dialNote{}
	var used netip.AddrPort
	ctx := context.WithValue(context.Background(), noteKey{}, note)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		used = addrPort(i.Conn.LocalAddr())
	}})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	scheme := "http"
	if rt.DialTLSContext != nil {
		scheme = "https"
	}
	out, err := http.NewRequestWithContext(ctx, req.Method, scheme+"://"+target+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		fatalf("request: %v", err)
	}
	out.Host = req.Host
	for k, vs := range req.Header {
		out.Header[k] = vs
	}
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Header.Set("X-Forwarded-Proto", "http")
	out.Header.Set("X-Request-Id", strconv.FormatInt(s.reqID.Add(1), 10))
	t0 := time.Now()
	up, err := rt.RoundTrip(out)
	if used.IsValid() {
		rec.UpLocal = used.String()
	} else if l := note.get(); l.IsValid() {
		rec.UpLocal = s.local(l).String()
	}
	rec.UpRemote = target
	if err != nil {
		rec.Verdict = "failed"
		reason := "connection termination"
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			reason = "connection failure"
		}
		return direct(http.StatusServiceUnavailable, "upstream connect error or disconnect/reset before headers. reset reason: "+reason)
	}
	defer up.Body.Close()
	b, err := io.ReadAll(up.Body)
	if err != nil {
		rec.Verdict = "failed"
		return direct(http.StatusServiceUnavailable, "upstream reset")
	}
	rec.Verdict = "passed"
	h := up.Header.Clone()
	for _, k := range hopHeaders {
		h.Del(k)
	}
	h.Set("Server", "envoy")
	h.Set("X-Envoy-Upstream-Service-Time", strconv.FormatInt(time.Since(t0).Milliseconds(), 10))
	return &http.Response{StatusCode: up.StatusCode, ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b))}
}

// direct is a response Envoy makes itself: "server: envoy" and no
// x-envoy-upstream-service-time.
func direct(status int, body string) *http.Response {
	h := http.Header{}
	h.Set("Server", "envoy")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if body != "" {
		h.Set("Content-Type", "text/plain")
	}
	return &http.Response{StatusCode: status, ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}

// local is the address a connection bound to any address had: the pod's
// (its only non-loopback address, where every route leads).
func (s *sidecar) local(a netip.AddrPort) netip.AddrPort {
	if a.Addr().IsUnspecified() {
		return netip.AddrPortFrom(s.podIP, a.Port())
	}
	return a
}

func hostOf(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// service finds the mesh service a request is for, by the names Istio
// puts in a service's virtual host: the FQDN, NAME.NS, NAME.NS.svc, NAME
// within the pod's namespace, and the cluster IP.
func (s *sidecar) service(host string, orig netip.AddrPort) *meshService {
	for _, m := range s.services {
		fq := m.fqdn(s.domain)
		switch host {
		case fq, m.name + "." + m.ns, m.name + "." + m.ns + ".svc", m.clusterIP.Addr().String():
			return m
		case m.name:
			if m.ns == s.podNS {
				return m
			}
		}
	}
	return nil
}

func (s *sidecar) allowed(host string) bool {
	for _, a := range s.allow {
		if host == a || (strings.HasPrefix(a, ".") && strings.HasSuffix(host, a)) {
			return true
		}
	}
	return false
}

// outboundTLS handles TLS the app sends: read the ClientHello for its
// SNI, then relay to the original destination when allowed, else reset
// (Istio's BlackHoleCluster for TCP).
func (s *sidecar) outboundTLS(c net.Conn, br *bufio.Reader, orig netip.AddrPort) {
	var hello bytes.Buffer
	var sni string
	_ = tls.Server(readOnly{r: io.TeeReader(br, &hello), Conn: c}, &tls.Config{
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			sni = h.ServerName
			return nil, errHelloRead
		}}).Handshake()
	start := time.Now()
	rec := truthRecord{Sidecar: s.name, Dir: "outbound", Kind: "tcp", Down: addrPort(c.RemoteAddr()).String(), Orig: orig.String(),
		SNI: sni, Start: start.UTC().Format(time.RFC3339Nano)}
	if !s.allowed(strings.ToLower(sni)) {
		rec.Route, rec.Verdict = "blocked", "blocked-reset"
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		rec.End = time.Now().UTC().Format(time.RFC3339Nano)
		s.truth.write(rec)
		return
	}
	rec.Route = "passthrough"
	note := &dialNote{}
	up, err := dialTCP(context.WithValue(context.Background(), noteKey{}, note), orig.String(), netip.Addr{})
	rec.UpLocal, rec.UpRemote = s.local(note.get()).String(), orig.String()
	if err == nil {
		rec.UpLocal = addrPort(up.LocalAddr()).String()
	}
	if err != nil {
		rec.Verdict = "failed"
		c.Close()
		rec.End = time.Now().UTC().Format(time.RFC3339Nano)
		s.truth.write(rec)
		return
	}
	rec.Verdict = "passed"
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(up, io.MultiReader(&hello, br))
		up.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(c, up)
	c.(*net.TCPConn).CloseWrite()
	wg.Wait()
	up.Close()
	rec.End = time.Now().UTC().Format(time.RFC3339Nano)
	s.truth.write(rec)
}
