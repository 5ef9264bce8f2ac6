package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/bpf"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pcap "github.com/tapview/tapview/proto/pcap"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/agent/server"
	"github.com/tapview/tapview/sources/agent/tlsconf"
	"github.com/tapview/tapview/sources/internal/tlstest"
)

// genHandle is a capture that produces numbered packets on demand.
type genHandle struct {
	next   chan sources.Packet
	closed chan struct{}
	once   sync.Once
}

func (h *genHandle) ReadPacket() (sources.Packet, error) {
	select {
	case p := <-h.next:
		return p, nil
	case <-h.closed:
		return sources.Packet{}, io.EOF
	}
}

func (h *genHandle) Close() error { h.once.Do(func() { close(h.closed) }); return nil }

// realAgent serves tapview's agent server with generated captures on a
// loopback port, with the given TLS config.
func realAgent(t *testing.T, cfg *serverTLS) (addr string, handles chan *genHandle) {
	t.Helper()
	handles = make(chan *genHandle, 4)
	srv := server.New(server.Config{Open: func(string, uint32, []bpf.Instruction) (server.Handle, error) {
		h := &genHandle{next: make(chan sources.Packet), closed: make(chan struct{})}
		handles <- h
		return h, nil
	}})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if cfg != nil {
		tc, err := tlsconf.Server{Cert: cfg.pki.ServerCert, Key: cfg.pki.ServerKey, ClientCA: cfg.clientCA}.Config()
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	g := grpc.NewServer(opts...)
	srv.Register(g)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return lis.Addr().String(), handles
}

type serverTLS struct {
	pki      tlstest.PKI
	clientCA string
}

func TestMutualTLS(t *testing.T) {
	pki := tlstest.New(t, "pcap-agent.service.cf.internal")
	addr, handles := realAgent(t, &serverTLS{pki: pki, clientCA: pki.CA})

	clientCreds := func(c tlsconf.Client) credentials.TransportCredentials {
		tc, err := c.Config()
		if err != nil {
			t.Fatal(err)
		}
		return credentials.NewTLS(tc)
	}
	good := tlsconf.Client{CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey, ServerName: pki.ServerName}
	src, _ := New(Config{Addrs: []string{addr}, Transport: Transport{Creds: clientCreds(good)}})
	rec := newRecorder()
	stop, _ := runSource(t, src, rec)
	h := <-handles
	h.next <- sources.Packet{Timestamp: t0, Data: []byte("GET / HTTP/1.1\r\n"), OrigLen: 16}
	rec.waitUntil(t, "a packet over mTLS", func(p []sources.Packet, _ []sources.Status) bool { return len(p) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if p, n := rec.snapshot(); string(p[0].Data) != "GET / HTTP/1.1\r\n" || len(n) != 1 || n[0].Kind != "CAPTURE_STOPPED" {
		t.Fatalf("packets %v notes %v", p, n)
	}

	// Without a client certificate, or trusting another CA, the agent is
	// not reached and the user is told.
	other := tlstest.New(t, "pcap-agent.service.cf.internal")
	for name, c := range map[string]tlsconf.Client{
		"no client cert": {CA: pki.CA, ServerName: pki.ServerName},
		"wrong CA":       {CA: other.CA, Cert: pki.ClientCert, Key: pki.ClientKey, ServerName: pki.ServerName},
		"wrong name":     {CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey, ServerName: "someone-else"},
	} {
		src, _ := New(Config{Addrs: []string{addr}, Transport: Transport{Creds: clientCreds(c), SetupTimeout: 3 * time.Second}})
		rec := newRecorder()
		err := src.Run(context.Background(), rec)
		if err == nil {
			t.Errorf("%s: capture worked", name)
			continue
		}
		if _, n := rec.snapshot(); len(n) != 1 || n[0].Level != sources.Error {
			t.Errorf("%s: notes %v", name, n)
		}
	}
}

// fakeAPI is a scripted pcap.API.
type fakeAPI struct {
	pcap.UnimplementedAPIServer
	mu      sync.Mutex
	start   *pcap.StartCapture
	gotStop bool
}

func (f *fakeAPI) Capture(stream grpc.BidiStreamingServer[pcap.CaptureRequest, pcap.CaptureResponse]) error {
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.start = req.GetStart()
	f.mu.Unlock()
	_ = stream.Send(packetResp(t0, 42))
	_ = stream.Send(messageResp(pcap.MessageType_INSTANCE_UNAVAILABLE, "router/2 went away", "router/2"))
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.Send(messageResp(pcap.MessageType_CAPTURE_STOPPED, "all stopped", "pcap-api"))
		}
		if err != nil {
			return err
		}
		if req.GetStop() != nil {
			f.mu.Lock()
			f.gotStop = true
			f.mu.Unlock()
		}
	}
}

func TestAPISource(t *testing.T) {
	fa := &fakeAPI{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	pcap.RegisterAPIServer(g, fa)
	go func() { _ = g.Serve(lis) }()
	defer g.Stop()

	src, err := NewAPI(APIConfig{URL: "http://" + lis.Addr().String(), Token: "tok",
		Bosh:    &Bosh{Deployment: "cf", Groups: []string{"router", "uaa"}, Instances: []string{"0"}},
		Capture: Capture{Filter: "port 443"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop, _ := runSource(t, src, rec)
	rec.waitUntil(t, "packet and note", func(p []sources.Packet, n []sources.Status) bool { return len(p) == 1 && len(n) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	fa.mu.Lock()
	defer fa.mu.Unlock()
	b := fa.start.GetRequest().GetBosh()
	if b.GetToken() != "tok" || b.GetDeployment() != "cf" || strings.Join(b.GetGroups(), ",") != "router,uaa" ||
		strings.Join(b.GetInstances(), ",") != "0" || fa.start.GetOptions().GetFilter() != "port 443" ||
		fa.start.GetOptions().GetDevice() != "eth0" {
		t.Fatalf("start %v", fa.start)
	}
	if !fa.gotStop {
		t.Error("no stop request")
	}
	_, notes := rec.snapshot()
	if notes[0].Kind != "INSTANCE_UNAVAILABLE" || !strings.Contains(notes[0].Message, "router/2") ||
		notes[1].Kind != "CAPTURE_STOPPED" {
		t.Fatalf("notes %+v", notes)
	}
}

func TestNewAPIValidates(t *testing.T) {
	idx := []int32{0, 2}
	src, err := NewAPI(APIConfig{URL: "https://pcap.example.com", CF: &CF{AppID: "guid", Indices: idx}})
	if err != nil {
		t.Fatal(err)
	}
	ep := src.eps[0].(*apiEndpoint)
	if ep.target != "pcap.example.com:443" || ep.req.GetRequest().GetCf().GetAppId() != "guid" ||
		ep.req.GetRequest().GetCf().AppType != nil {
		t.Fatalf("endpoint %+v", ep)
	}
	for _, bad := range []APIConfig{
		{URL: "https://x", Bosh: &Bosh{Deployment: "d"}, CF: &CF{AppID: "a"}},
		{URL: "https://x"},
		{URL: "ftp://x", Bosh: &Bosh{Deployment: "d"}},
		{URL: "https://x", Bosh: &Bosh{}},
		{URL: "https://x", CF: &CF{}},
		{URL: "http://", Bosh: &Bosh{Deployment: "d"}},
	} {
		if _, err := NewAPI(bad); err == nil {
			t.Errorf("NewAPI(%+v) accepted", bad)
		}
	}
	for in, want := range map[string]string{"http://h": "h:80", "https://h:8443/x": "h:8443", "https://[::1]": "[::1]:443"} {
		got, _, err := ParseAPIURL(in)
		if err != nil || got != want {
			t.Errorf("ParseAPIURL(%q) = %q, %v", in, got, err)
		}
	}
}
