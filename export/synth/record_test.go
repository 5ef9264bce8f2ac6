package synth_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/synth"
)

// teeListener keeps, per client address, the bytes the server really read
// and wrote, to compare with what the recording reassembles to.
type teeListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[netip.AddrPort]*teeConn
}

type teeConn struct {
	net.Conn
	closeOnce sync.Once
	closed    chan struct{}
	mu        sync.Mutex
	in, out   bytes.Buffer
}

func (c *teeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.in.Write(b[:n])
	c.mu.Unlock()
	return n, err
}

func (c *teeConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	c.out.Write(b[:n])
	c.mu.Unlock()
	return n, err
}

func (c *teeConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (l *teeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &teeConn{Conn: c, closed: make(chan struct{})}
	l.mu.Lock()
	l.conns[c.RemoteAddr().(*net.TCPAddr).AddrPort()] = tc
	l.mu.Unlock()
	return tc, nil
}

// compareStreams checks that every recorded connection reassembles to
// exactly the bytes the server read and wrote on it. With unreadTail, the
// server may have written more than the client read before it closed
// (gRPC's GOAWAY at shutdown): a client-side recorder cannot see those.
func compareStreams(t *testing.T, s streams, l *teeListener, server netip.AddrPort, unreadTail bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) == 0 {
		t.Fatal("server saw no connection")
	}
	for client, tc := range l.conns {
		// Shutdown does not wait for hijacked (h2c) connections.
		select {
		case <-tc.closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("server never closed %v", client)
		}
		tc.mu.Lock()
		up, down := s.data[flowKey{client, server}], s.data[flowKey{server, client}]
		if up == nil || down == nil {
			t.Fatalf("connection %v not recorded", client)
		}
		if !bytes.Equal(up.Bytes(), tc.in.Bytes()) {
			t.Errorf("%v: recorded %d client bytes, server read %d", client, up.Len(), tc.in.Len())
		}
		if unreadTail && bytes.HasPrefix(tc.out.Bytes(), down.Bytes()) && down.Len() > 0 {
			t.Logf("%v: server wrote %d bytes, client read %d", client, tc.out.Len(), down.Len())
		} else if !bytes.Equal(down.Bytes(), tc.out.Bytes()) {
			t.Errorf("%v: recorded %d server bytes, server wrote %d", client, down.Len(), tc.out.Len())
		}
		tc.mu.Unlock()
	}
}

func listen(t *testing.T, network, addr string) *teeListener {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	return &teeListener{Listener: l, conns: map[netip.AddrPort]*teeConn{}}
}

func serverAddr(l net.Listener) netip.AddrPort { return l.Addr().(*net.TCPAddr).AddrPort() }

func petHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /small", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(bytes.Repeat([]byte("pets are great\n"), 7000)) // 105 kB
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, `{"received":%d}`, n)
	})
	return mux
}

func writeFile(t *testing.T, name string, write func(io.Writer) error) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRecordHTTP1(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			l := listen(t, "tcp", addr)
			srv := &http.Server{Handler: petHandler()}
			go srv.Serve(l)
			rec := synth.NewRecording(synth.Options{Source: "lo"})
			tr := &http.Transport{DialContext: rec.DialContext}
			client := &http.Client{Transport: tr}
			base := "http://" + l.Addr().String()
			get := func(path string) {
				resp, err := client.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			get("/small")
			resp, err := client.Post(base+"/upload", "application/octet-stream", bytes.NewReader(bytes.Repeat([]byte{'x'}, 20000)))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			get("/big")
			tr.CloseIdleConnections()
			if err := srv.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}

			pkts := rec.Packets()
			for i, p := range pkts {
				if p.Ordinal != uint64(i+1) || p.Source != "lo" {
					t.Fatalf("packet %d: ordinal %d source %q", i, p.Ordinal, p.Source)
				}
			}
			s := checkPackets(t, pkts, synth.DefaultMSS)
			compareStreams(t, s, l, serverAddr(l), false)
			if len(l.conns) != 1 {
				t.Errorf("keep-alive used %d connections", len(l.conns))
			}
			for k, f := range s.flags {
				if f[0] != "S" && f[0] != "S." || !strings.HasPrefix(strings.Join(f, " "), f[0]) || !containsFin(f) {
					t.Errorf("%v: flags %v lack a handshake or FIN", k, f)
				}
			}

			file := writeFile(t, "http.pcap", rec.WritePcap)
			fh, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			r, err := pcapgo.NewReader(fh)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				_, ci, err := r.ReadPacketData()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if !ci.Timestamp.Equal(pkts[n].Timestamp) {
					t.Fatalf("pcap packet %d at %v, recorded %v", n, ci.Timestamp, pkts[n].Timestamp)
				}
				n++
			}
			if n != len(pkts) {
				t.Fatalf("pcap holds %d packets, recorded %d", n, len(pkts))
			}
			tsharkClean(t, file, len(pkts))
			port := fmt.Sprint(serverAddr(l).Port())
			out := tshark(t, file, "-d", "tcp.port=="+port+",http", "-Y", "http.request", "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri")
			if want := "GET\t/small\nPOST\t/upload\nGET\t/big\n"; out != want {
				t.Errorf("tshark requests:\n%s\nwant\n%s", out, want)
			}
		})
	}
}

func containsFin(f []string) bool {
	for _, s := range f {
		if strings.HasPrefix(s, "F") {
			return true
		}
	}
	return false
}

func TestRecordConcurrent(t *testing.T) {
	l := listen(t, "tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: petHandler()}
	go srv.Serve(l)
	rec := synth.NewRecording(synth.Options{})
	tr := &http.Transport{DialContext: rec.DialContext, DisableKeepAlives: true}
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, err := client.Get("http://" + l.Addr().String() + "/big")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := checkPackets(t, rec.Packets(), synth.DefaultMSS)
	compareStreams(t, s, l, serverAddr(l), false)
	if len(l.conns) != 8 {
		t.Errorf("%d connections, want 8", len(l.conns))
	}
}

func TestRecordH2C(t *testing.T) {
	l := listen(t, "tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: h2c.NewHandler(petHandler(), &http2.Server{})}
	go srv.Serve(l)
	rec := synth.NewRecording(synth.Options{})
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return rec.DialContext(ctx, network, addr)
	}}
	client := &http.Client{Transport: tr}
	for _, p := range []string{"/small", "/big", "/small"} {
		resp, err := client.Get("http://" + l.Addr().String() + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s used %s", p, resp.Proto)
		}
	}
	tr.CloseIdleConnections()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	pkts := rec.Packets()
	s := checkPackets(t, pkts, synth.DefaultMSS)
	compareStreams(t, s, l, serverAddr(l), false)
	file := writeFile(t, "h2c.pcapng", func(w io.Writer) error { return rec.WritePcapng(w, pcapw.NgOptions{}) })
	tsharkClean(t, file, len(pkts))
	port := fmt.Sprint(serverAddr(l).Port())
	out := tshark(t, file, "-d", "tcp.port=="+port+",http2", "-Y", "http2.type == 1 && http2.headers.path", "-T", "fields", "-e", "http2.headers.path")
	if want := "/small\n/big\n/small\n"; out != want {
		t.Errorf("tshark HTTP/2 request paths:\n%s\nwant\n%s", out, want)
	}
}

func TestRecordGRPC(t *testing.T) {
	l := listen(t, "tcp", "127.0.0.1:0")
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go gs.Serve(l)
	rec := synth.NewRecording(synth.Options{})
	cc, err := grpc.NewClient("passthrough:///"+l.Addr().String(), grpc.WithContextDialer(rec.DialGRPC), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check: %v %v", resp, err)
	}
	cc.Close()
	gs.GracefulStop()
	pkts := rec.Packets()
	s := checkPackets(t, pkts, synth.DefaultMSS)
	compareStreams(t, s, l, serverAddr(l), true)
	file := writeFile(t, "grpc.pcapng", func(w io.Writer) error { return rec.WritePcapng(w, pcapw.NgOptions{}) })
	port := fmt.Sprint(serverAddr(l).Port())
	// HEADERS and DATA may travel in separate segments, so the call's
	// path and its messages are looked up separately.
	dec := "tcp.port==" + port + ",http2"
	out := tshark(t, file, "-d", dec, "-Y", "http2.headers.path", "-T", "fields", "-e", "http2.headers.path")
	if out != "/grpc.health.v1.Health/Check\n" {
		t.Errorf("tshark request paths %q, want the health Check", out)
	}
	out = tshark(t, file, "-d", dec, "-Y", "grpc", "-T", "fields", "-e", "grpc.message_length")
	if out != "0\n2\n" {
		t.Errorf("tshark gRPC message lengths %q, want an empty request and a 2-byte response", out)
	}
}

func TestRecordTLSKeyLog(t *testing.T) {
	srv := httptest.NewTLSServer(petHandler())
	defer srv.Close()
	var keyLog bytes.Buffer
	tlsConf := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	tlsConf.KeyLogWriter = &keyLog
	rec := synth.NewRecording(synth.Options{})
	tr := &http.Transport{DialContext: rec.DialContext, TLSClientConfig: tlsConf}
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL + "/small")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()

	withKeys := writeFile(t, "tls.pcapng", func(w io.Writer) error {
		nw, err := pcapw.NewPcapng(w, pcapw.NgOptions{})
		if err != nil {
			return err
		}
		if err := nw.WriteTLSKeyLog(keyLog.Bytes()); err != nil {
			return err
		}
		return rec.Export(nw)
	})
	without := writeFile(t, "plain.pcapng", func(w io.Writer) error { return rec.WritePcapng(w, pcapw.NgOptions{}) })
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	args := []string{"-d", fmt.Sprintf("tcp.port==%d,tls", port), "-Y", "http.request", "-T", "fields", "-e", "http.request.uri"}
	if out := tshark(t, withKeys, args...); out != "/small\n" {
		t.Errorf("with the key log block, tshark decrypts %q, want /small", out)
	}
	if out := tshark(t, without, args...); out != "" {
		t.Errorf("without keys tshark still finds %q", out)
	}
}

func TestRecordUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer pc.Close()
	go func() {
		b := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			pc.WriteTo(bytes.ToUpper(b[:n]), from)
		}
	}()
	rec := synth.NewRecording(synth.Options{})
	c, err := rec.DialContext(context.Background(), "udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(net.PacketConn); !ok {
		t.Error("recorded UDP conn is not a net.PacketConn: Go's resolver would frame DNS as over TCP")
	}
	c.Write([]byte("ping"))
	b := make([]byte, 100)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(b)
	if err != nil || string(b[:n]) != "PING" {
		t.Fatalf("echo: %q %v", b[:n], err)
	}
	c.Close()
	pkts := rec.Packets()
	s := checkPackets(t, pkts, 0)
	local := c.LocalAddr().(*net.UDPAddr).AddrPort()
	server := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	if len(pkts) != 2 || string(s.dgram[flowKey{local, server}][0]) != "ping" || string(s.dgram[flowKey{server, local}][0]) != "PING" {
		t.Errorf("recorded %d packets: %q", len(pkts), s.dgram)
	}
}

func TestWrapRejectsUnix(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Skip(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := synth.NewRecording(synth.Options{}).Wrap(c); err == nil {
		t.Error("Wrap accepted a unix socket")
	}
}
