//go:build linux

package agent_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/agent"
	"github.com/tapview/tapview/sources/agent/server"
	"github.com/tapview/tapview/sources/agent/tlsconf"
	"github.com/tapview/tapview/sources/internal/tlstest"
	"github.com/tapview/tapview/sources/live"
	"github.com/tapview/tapview/sources/live/netns"
	"github.com/tapview/tapview/sources/live/netns/netnstest"
)

const agentPort = 9494

// nodeNS is one "node": a namespace with an HTTP server and an agent
// capturing on its eth0, reachable from the client namespace.
type nodeNS struct {
	ns   *netnstest.NS
	ip   string
	srv  *server.Server
	addr string // agent host:port
}

// startNode builds node i: veth eth0 (10.91.i.2) linked to the client
// namespace, an HTTP server on :8080 and a tapview agent with mTLS on
// :9494 whose captures are opened inside the namespace.
func startNode(t *testing.T, i int, client *netnstest.NS, pki tlstest.PKI) *nodeNS {
	t.Helper()
	n := &nodeNS{ns: netnstest.New(t), ip: fmt.Sprintf("10.91.%d.2", i)}
	netnstest.Link(t, n.ns, "eth0", n.ip+"/24", client, fmt.Sprintf("tvc%d", i), fmt.Sprintf("10.91.%d.1/24", i))
	n.addr = net.JoinHostPort(n.ip, fmt.Sprint(agentPort))

	var httpLis, agentLis net.Listener
	n.ns.Do(t, func() error {
		var err error
		if httpLis, err = net.Listen("tcp", n.ip+":8080"); err != nil {
			return err
		}
		agentLis, err = net.Listen("tcp", n.addr)
		return err
	})
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello from %s, you asked for %s", n.ip, r.URL.Path)
	})}
	go func() { _ = hs.Serve(httpLis) }()
	t.Cleanup(func() { hs.Close() })

	nsPath := n.ns.Path()
	n.srv = server.New(server.Config{
		ExcludeTCPPorts: []uint16{agentPort},
		Origin:          fmt.Sprintf("node-%d", i),
		Open: func(device string, snaplen uint32, prog []bpf.Instruction) (server.Handle, error) {
			var h *live.Handle
			err := netns.Do(nsPath, func() error {
				var err error
				h, err = live.Open(device, snaplen, prog)
				return err
			})
			if err != nil {
				return nil, err
			}
			return h, nil
		},
	})
	tc, err := tlsconf.Server{Cert: pki.ServerCert, Key: pki.ServerKey, ClientCA: pki.CA}.Config()
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(append(server.GRPCOptions(), grpc.Creds(credentials.NewTLS(tc)))...)
	n.srv.Register(g)
	go func() { _ = g.Serve(agentLis) }()
	t.Cleanup(g.Stop)
	return n
}

// dialIn returns a dialer whose sockets live in ns.
func dialIn(ns *netnstest.NS) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := netns.Do(ns.Path(), func() error {
			var err error
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// collector is an Emitter and a decode.Output.
type collector struct {
	mu        sync.Mutex
	packets   []sources.Packet
	notes     []sources.Status
	exchanges map[uint64]*decode.Exchange
}

func (c *collector) Packet(p sources.Packet) {
	c.mu.Lock()
	c.packets = append(c.packets, p)
	c.mu.Unlock()
}
func (c *collector) Status(s sources.Status) {
	c.mu.Lock()
	c.notes = append(c.notes, s)
	c.mu.Unlock()
}
func (c *collector) Flow(*decode.Flow)   {}
func (c *collector) Note(sources.Status) {}
func (c *collector) Exchange(e *decode.Exchange) {
	if c.exchanges == nil {
		c.exchanges = map[uint64]*decode.Exchange{}
	}
	c.exchanges[e.ID] = e
}

func (c *collector) has(s string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.packets {
		if strings.Contains(string(p.Data), s) {
			return true
		}
	}
	return false
}

// tcpPorts returns the ports of an IPv4/TCP Ethernet frame.
func tcpPorts(d []byte) (uint16, uint16, bool) {
	if len(d) < 34 || binary.BigEndian.Uint16(d[12:]) != 0x0800 || d[23] != 6 {
		return 0, 0, false
	}
	ihl := int(d[14]&0xf) * 4
	if len(d) < 14+ihl+4 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(d[14+ihl:]), binary.BigEndian.Uint16(d[16+ihl:]), true
}

// TestEndToEndOneAgent: the HTTP client and server both run in the
// agent's namespace, the agent captures on its loopback.
func TestEndToEndOneAgent(t *testing.T) { endToEnd(t, 1, "lo") }

// TestEndToEndTwoAgentsMerged: two nodes, HTTP clients in the client
// namespace, each agent captures on the eth0 that also carries its own
// gRPC stream (which it must leave out).
func TestEndToEndTwoAgentsMerged(t *testing.T) { endToEnd(t, 2, "eth0") }

// endToEnd runs nodes agents in their own namespaces, captures real HTTP
// through `connect agent` over mutual TLS, and decodes the merged capture
// into HTTP exchanges.
func endToEnd(t *testing.T, nodes int, device string) {
	client := netnstest.New(t)
	var ips []net.IP
	for i := 1; i <= nodes; i++ {
		ips = append(ips, net.ParseIP(fmt.Sprintf("10.91.%d.2", i)))
	}
	pki := tlstest.New(t, "pcap-agent.service.cf.internal", ips...)
	var ns []*nodeNS
	var addrs []string
	for i := 1; i <= nodes; i++ {
		n := startNode(t, i, client, pki)
		ns = append(ns, n)
		addrs = append(addrs, n.addr)
	}

	tc, err := tlsconf.Client{CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey}.Config()
	if err != nil {
		t.Fatal(err)
	}
	src, err := agent.New(agent.Config{
		Addrs:   addrs,
		Capture: agent.Capture{Device: device, Filter: "tcp"},
		Transport: agent.Transport{
			Creds:       credentials.NewTLS(tc),
			DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return dialIn(client)(ctx, "tcp", addr) })},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- src.Run(ctx, col) }()
	for _, n := range ns {
		deadline := time.Now().Add(15 * time.Second)
		for n.srv.Running() != 1 {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("agent %s did not start capturing: %v", n.addr, <-errc)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	for i, n := range ns {
		from := client
		if device == "lo" {
			from = n.ns // client and server side by side on the node
		}
		httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dialIn(from), DisableKeepAlives: true}}
		resp, err := httpc.Get(fmt.Sprintf("http://%s:8080/node%d", n.ip, i+1))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "hello from "+n.ip) {
			t.Fatalf("HTTP answer %q", body)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for i, n := range ns {
		want := []string{fmt.Sprintf("GET /node%d HTTP/1.1", i+1), "hello from " + n.ip}
		for _, w := range want {
			for !col.has(w) {
				if time.Now().After(deadline) {
					t.Fatalf("captured packets never contained %q", w)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for _, n := range ns {
		deadline := time.Now().Add(5 * time.Second)
		for n.srv.Running() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("agent %s still capturing after the client stopped", n.addr)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	stopped := map[string]bool{}
	for _, s := range col.notes {
		if s.Kind == "CAPTURE_STOPPED" {
			stopped[s.Source] = true
		} else {
			t.Errorf("unexpected note %+v", s)
		}
	}
	for _, a := range addrs {
		if !stopped[a] {
			t.Errorf("no CAPTURE_STOPPED from %s", a)
		}
	}
	requests := 0
	for _, p := range col.packets {
		if strings.Contains(string(p.Data), "GET /node") {
			requests++
		}
		if sp, dp, ok := tcpPorts(p.Data); ok && (sp == agentPort || dp == agentPort) {
			t.Fatalf("agent captured its own gRPC connection (%d -> %d)", sp, dp)
		}
		if !strings.HasPrefix(p.Source, "10.91.") {
			t.Fatalf("packet source %q", p.Source)
		}
	}

	if requests != nodes {
		t.Errorf("%d request segments captured for %d requests (loopback frames twice?)", requests, nodes)
	}

	// Decode the merged capture into HTTP exchanges.
	dec := tcp.NewDecoder(col, tcp.Config{Parsers: []decode.Parser{http1.New()}})
	var last time.Time
	for i := range col.packets {
		dec.Packet(&col.packets[i])
		last = col.packets[i].Timestamp
	}
	dec.Finish(last)
	got := map[string]*decode.Exchange{}
	for _, e := range col.exchanges {
		got[e.Path()] = e
	}
	for i, n := range ns {
		path := fmt.Sprintf("/node%d", i+1)
		e := got[path]
		if e == nil {
			t.Fatalf("no exchange for %s among %d", path, len(col.exchanges))
		}
		if e.Method() != "GET" || e.Status() != 200 || e.State != decode.Complete || e.Source != n.addr ||
			!strings.Contains(string(e.Response.Body), "hello from "+n.ip) {
			t.Errorf("exchange %s: %s %d %s source %s body %q", path, e.Method(), e.Status(), e.State, e.Source, e.Response.Body)
		}
	}
}
