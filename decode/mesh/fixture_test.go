package mesh_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/dns"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/http2"
	"github.com/tapview/tapview/decode/tcp"
	dtls "github.com/tapview/tapview/decode/tls"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
)

// The sidecar capture: a pod at podIP whose app talks through an Envoy
// stand-in (httputil.ReverseProxy and a TCP relay on loopback). Every
// connection is real loopback traffic recorded by synth.Recording under
// the addresses a capture inside the pod would show: the app's outbound
// connections arrive at 127.0.0.1:15001 (iptables REDIRECT), the sidecar
// reaches the network from the pod address, inbound mTLS arrives at the
// pod's service port and is forwarded from 127.0.0.6. Client ports say
// which role a connection plays, so tests can check every label.
var (
	podIP       = netip.MustParseAddr("10.1.2.3")
	redirectOut = netip.MustParseAddrPort("127.0.0.1:15001")
	reviewsEP   = netip.MustParseAddrPort("10.1.5.7:8080")
	peerIP      = netip.MustParseAddr("10.1.9.9")
	podSvc      = netip.AddrPortFrom(podIP, 9080)
	passSrc     = netip.MustParseAddr("127.0.0.6")
	githubEP    = netip.MustParseAddrPort("140.82.112.6:443")
	exampleEP   = netip.MustParseAddrPort("93.184.215.14:80")
	kubeDNS     = netip.MustParseAddrPort("10.96.0.10:53")
	pastebinIP  = netip.MustParseAddr("203.0.113.7")
)

// Client port ranges per role.
const (
	portAppOut     = 40000 // app -> 15001 (HTTP)
	portAppTLS     = 41000 // app -> 15001 (TLS passed through)
	portAppBlocked = 42000 // app -> 15001 (TLS reset by the sidecar)
	portNetReviews = 50000 // sidecar -> reviews (mTLS)
	portNetGitHub  = 51000 // sidecar -> api.github.com (app's TLS)
	portNetExample = 52000 // sidecar -> example.org (plaintext passthrough)
	portPeer       = 45000 // peer sidecar -> pod:9080 (mTLS)
	portPassSrc    = 35000 // sidecar -> app from 127.0.0.6
	portDNS        = 33000
)

const (
	reviewsSNI     = "outbound_.8080_._.reviews.default.svc.cluster.local"
	productpageSNI = "outbound_.9080_._.productpage.default.svc.cluster.local"
)

// addrConn shows chosen addresses to the Recording instead of the real
// loopback ones; the bytes are the real connection's.
type addrConn struct {
	net.Conn
	local, remote *net.TCPAddr
}

func (c addrConn) LocalAddr() net.Addr  { return c.local }
func (c addrConn) RemoteAddr() net.Addr { return c.remote }

// lockedBuffer collects TLS key log lines from several connections.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

type recorder struct {
	t     *testing.T
	rec   *synth.Recording
	keys  lockedBuffer
	mu    sync.Mutex
	ports map[int]int
}

// wrap records c as a connection from local to remote.
func (r *recorder) wrap(c net.Conn, local, remote netip.AddrPort) net.Conn {
	rc, err := r.rec.Wrap(addrConn{Conn: c, local: net.TCPAddrFromAddrPort(local), remote: net.TCPAddrFromAddrPort(remote)})
	if err != nil {
		r.t.Fatalf("record: %v", err)
	}
	return rc
}

// port hands out the next client port of a role.
func (r *recorder) port(base int) uint16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ports[base]++
	return uint16(base + r.ports[base])
}

// dial connects to a real loopback listener and records the connection
// under the given addresses.
func (r *recorder) dial(ctx context.Context, real string, local, remote netip.AddrPort) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", real)
	if err != nil {
		return nil, err
	}
	return r.wrap(c, local, remote), nil
}

// capture is a recorded sidecar session.
type capture struct {
	pkts []sources.Packet
	keys []byte // NSS key log of every TLS connection
}

// recordSidecar runs the scenario and returns its packets, DNS included.
func recordSidecar(t *testing.T) capture {
	t.Helper()
	r := &recorder{t: t, rec: synth.NewRecording(synth.Options{}), ports: map[int]int{}}
	start := time.Now()
	dnsPkts := dnsAnswers(t, start, map[string]netip.Addr{
		"api.github.com": githubEP.Addr(),
		"example.org":    exampleEP.Addr(),
		"pastebin.com":   pastebinIP,
	})
	time.Sleep(2 * time.Millisecond)

	reviews := tlsServer(t, "reviews", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"reviews":[{"reviewer":"r1","text":"good"}],"path":"`+req.URL.Path+`"}`)
	})
	github := tlsServer(t, "github", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "Keep it logically awesome.")
	})
	example := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>Example Domain</body></html>")
	}))
	defer example.Close()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>productpage</html>")
	}))
	defer app.Close()

	// Outbound sidecar: mTLS to reviews, block_all 502 for pastebin.com,
	// plaintext passthrough for example.org.
	toReviews := &http.Transport{DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		c, err := r.dial(ctx, reviews.Listener.Addr().String(), netip.AddrPortFrom(podIP, r.port(portNetReviews)), reviewsEP)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(c, &tls.Config{ServerName: reviewsSNI, InsecureSkipVerify: true,
			NextProtos: []string{"istio-peer-exchange", "istio-http/1.1", "http/1.1"}, KeyLogWriter: &r.keys})
		return tc, tc.HandshakeContext(ctx)
	}}
	toExample := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return r.dial(ctx, example.Listener.Addr().String(), netip.AddrPortFrom(podIP, r.port(portNetExample)), exampleEP)
	}}
	reviewsURL, _ := url.Parse(reviews.URL)
	exampleURL, _ := url.Parse(example.URL)
	envoy := func(tr http.RoundTripper, to *url.URL) http.Handler {
		return &httputil.ReverseProxy{
			Rewrite: func(p *httputil.ProxyRequest) {
				p.SetURL(to)
				p.Out.Host = p.In.Host
			},
			Transport: tr,
			ModifyResponse: func(resp *http.Response) error {
				resp.Header.Set("Server", "envoy")
				resp.Header.Set("X-Envoy-Upstream-Service-Time", "3")
				return nil
			},
		}
	}
	outbound := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		host := req.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		switch host {
		case "reviews":
			envoy(toReviews, reviewsURL).ServeHTTP(w, req)
		case "example.org":
			envoy(toExample, exampleURL).ServeHTTP(w, req)
		default: // Istio's block_all route: a direct 502, no upstream
			w.Header().Set("Server", "envoy")
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer outbound.Close()
	relay := relayListener(t, func(ctx context.Context) (net.Conn, error) {
		return r.dial(ctx, github.Listener.Addr().String(), netip.AddrPortFrom(podIP, r.port(portNetGitHub)), githubEP)
	})
	blackhole := resetListener(t)

	// Inbound sidecar: terminates the peer's mTLS, forwards from 127.0.0.6.
	toApp := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return r.dial(ctx, app.Listener.Addr().String(), netip.AddrPortFrom(passSrc, r.port(portPassSrc)), podSvc)
	}}
	appURL, _ := url.Parse(app.URL)
	inbound := httptest.NewUnstartedServer(envoy(toApp, appURL))
	inbound.TLS = &tls.Config{NextProtos: []string{"http/1.1"}}
	inbound.StartTLS()
	defer inbound.Close()

	ctx := context.Background()
	appClient := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return r.dial(ctx, outbound.Listener.Addr().String(), netip.AddrPortFrom(podIP, r.port(portAppOut)), redirectOut)
	}}}
	for _, u := range []string{"http://reviews:8080/reviews/1", "http://reviews:8080/reviews/2", "http://reviews:8080/reviews/3",
		"http://pastebin.com/raw/x1", "http://example.org/"} {
		get(t, appClient, u)
	}
	appTLS := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, KeyLogWriter: &r.keys},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return r.dial(ctx, relay, netip.AddrPortFrom(podIP, r.port(portAppTLS)), redirectOut)
		}}}
	get(t, appTLS, "https://api.github.com/zen")
	c, err := r.dial(ctx, blackhole, netip.AddrPortFrom(podIP, r.port(portAppBlocked)), redirectOut)
	if err != nil {
		t.Fatalf("dial the black hole: %v", err)
	}
	if tls.Client(c, &tls.Config{ServerName: "exfil.attacker.io", InsecureSkipVerify: true}).HandshakeContext(ctx) == nil {
		t.Fatal("the black hole completed a TLS handshake")
	}
	c.Close()
	peer := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: productpageSNI, InsecureSkipVerify: true,
			NextProtos: []string{"istio-peer-exchange", "istio-http/1.1", "http/1.1"}, KeyLogWriter: &r.keys},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return r.dial(ctx, inbound.Listener.Addr().String(), netip.AddrPortFrom(peerIP, r.port(portPeer)), podSvc)
		}}}
	get(t, peer, "https://productpage:9080/productpage")
	get(t, peer, "https://productpage:9080/productpage")

	for _, tr := range []*http.Transport{appClient.Transport.(*http.Transport), appTLS.Transport.(*http.Transport),
		peer.Transport.(*http.Transport), toReviews, toExample, toApp} {
		tr.CloseIdleConnections()
	}
	time.Sleep(20 * time.Millisecond) // let servers see the FINs before they close
	pkts := append(r.rec.Packets(), dnsPkts...)
	slices.SortStableFunc(pkts, func(a, b sources.Packet) int { return a.Timestamp.Compare(b.Timestamp) })
	for i := range pkts {
		pkts[i].Ordinal = uint64(i + 1)
	}
	return capture{pkts: pkts, keys: bytes.Clone(r.keys.b.Bytes())}
}

func get(t *testing.T, c *http.Client, u string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// tlsServer is an HTTPS server speaking HTTP/1.1 only, like a workload
// behind a sidecar.
func tlsServer(t *testing.T, _ string, h http.HandlerFunc) *httptest.Server {
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{NextProtos: []string{"http/1.1"}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// relayListener passes bytes through to a connection made by dial, as
// Envoy's PassthroughCluster does for TLS it cannot read.
func relayListener(t *testing.T, dial func(context.Context) (net.Conn, error)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := dial(context.Background())
				if err != nil {
					return
				}
				defer up.Close()
				done := make(chan struct{})
				go func() { io.Copy(up, c); up.Close(); close(done) }()
				io.Copy(c, up)
				c.Close()
				<-done
			}()
		}
	}()
	return ln.Addr().String()
}

// resetListener resets every connection after its first bytes, as the
// BlackHoleCluster does for TCP it may not pass.
func resetListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Read the ClientHello first, as Envoy's TLS inspector does
			// before it finds no route; resetting at once could beat the
			// client's connect.
			c.Read(make([]byte, 4096))
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// dnsAnswers builds the pod's A queries to kube-dns and their answers.
func dnsAnswers(t *testing.T, at time.Time, names map[string]netip.Addr) []sources.Packet {
	t.Helper()
	keys := make([]string, 0, len(names))
	for n := range names {
		keys = append(keys, n)
	}
	sort.Strings(keys)
	var out []sources.Packet
	for i, n := range keys {
		u, err := synth.NewUDP(netip.AddrPortFrom(podIP, uint16(portDNS+i)), kubeDNS, synth.Options{})
		if err != nil {
			t.Fatal(err)
		}
		q := dnsMessage(t, uint16(100+i), n, netip.Addr{})
		a := dnsMessage(t, uint16(100+i), n, names[n])
		p1, err1 := u.Send(decode.ClientToServer, q, at.Add(time.Duration(i)*time.Microsecond))
		p2, err2 := u.Send(decode.ServerToClient, a, at.Add(time.Duration(i)*time.Microsecond+300*time.Nanosecond))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		out = append(out, p1, p2)
	}
	return out
}

func dnsMessage(t *testing.T, id uint16, name string, answer netip.Addr) []byte {
	t.Helper()
	hdr := dnsmessage.Header{ID: id, RecursionDesired: true}
	if answer.IsValid() {
		hdr.Response, hdr.RecursionAvailable = true, true
	}
	b := dnsmessage.NewBuilder(nil, hdr)
	b.EnableCompression()
	qn := dnsmessage.MustNewName(name + ".")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.StartQuestions())
	must(b.Question(dnsmessage.Question{Name: qn, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}))
	if answer.IsValid() {
		must(b.StartAnswers())
		must(b.AResource(dnsmessage.ResourceHeader{Name: qn, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: answer.As4()}))
	}
	msg, err := b.Finish()
	must(err)
	return msg
}

// decodeInto runs packets through the decoder the way cmd/tapview builds
// it (HTTP/1, HTTP/2, TLS with the given key log, DNS) into out.
func decodeInto(pkts []sources.Packet, keys []byte, out decode.Output) {
	kl := keylog.New()
	kl.AddText(keys)
	h1 := http1.New()
	d := tcp.NewDecoder(out, tcp.Config{
		Parsers:   []decode.Parser{h1, http2.New(), dtls.New(kl, h1, http2.New()), dns.New()},
		Datagrams: []decode.DatagramParser{dns.New()},
	})
	var last time.Time
	for i := range pkts {
		p := pkts[i]
		d.Packet(&p)
		last = p.Timestamp
	}
	d.Finish(last.Add(time.Second))
}

// collector keeps the latest version of every flow and exchange.
type collector struct {
	mu    sync.Mutex
	ex    map[uint64]*decode.Exchange
	order []uint64
	flows map[uint64]*decode.Flow
}

func newCollector() *collector {
	return &collector{ex: map[uint64]*decode.Exchange{}, flows: map[uint64]*decode.Flow{}}
}

func (c *collector) Flow(f *decode.Flow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flows[f.ID] = f
}

func (c *collector) Exchange(e *decode.Exchange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.ex[e.ID]; !ok {
		c.order = append(c.order, e.ID)
	}
	c.ex[e.ID] = e
}

func (c *collector) Note(sources.Status) {}

func (c *collector) exchanges() []*decode.Exchange {
	out := make([]*decode.Exchange, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.ex[id])
	}
	return out
}

// flowByClient finds the flow whose client is ap.
func (c *collector) flowByClient(ap netip.AddrPort) *decode.Flow {
	for _, f := range c.flows {
		if f.Client == ap {
			return f
		}
	}
	return nil
}
