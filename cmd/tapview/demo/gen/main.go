// Command gen regenerates tapview's embedded demo capture. It starts real
// Go servers on 127.0.0.1 (an HTTP/1.1 petstore web front and API, an h2c
// JSON API, a gRPC server with the health and reflection services, and a
// small DNS server), drives real Go clients against them through
// synth.Recording, and writes what went over the wire as pcapng. Packet
// timestamps are shifted so the capture starts at 2026-01-15T10:00:00Z;
// relative timings and loopback ports are the real ones.
//
// Run it with `go generate ./cmd/tapview/demo` (or `go run ./gen` in that
// directory).
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/synth"
)

// Preferred server ports; a busy port falls back to any free one.
const (
	webPort  = 8080
	apiPort  = 8081
	grpcPort = 50051
	dnsPort  = 53 // needs privileges; 5353 would be taken for mDNS
)

func main() {
	out := flag.String("o", "demo.pcapng", "file to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func listenTCP(port int) (net.Listener, error) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err == nil {
		return l, nil
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

func listenUDP(port int) (net.PacketConn, error) {
	pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err == nil {
		return pc, nil
	}
	return net.ListenPacket("udp", "127.0.0.1:0")
}

func portOf(a net.Addr) int {
	_, p, _ := net.SplitHostPort(a.String())
	var n int
	fmt.Sscan(p, &n)
	return n
}

func run(out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := synth.NewRecording(synth.Options{Source: "lo"})
	// Clients use the demo's host names; every connection really goes
	// to 127.0.0.1 on the requested port.
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		return rec.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}

	dnsPC, err := listenUDP(dnsPort)
	if err != nil {
		return fmt.Errorf("dns listen: %w", err)
	}
	defer dnsPC.Close()
	go serveDNS(dnsPC)

	webL, err := listenTCP(webPort)
	if err != nil {
		return fmt.Errorf("web listen: %w", err)
	}
	web := &http.Server{Handler: webHandler()}
	go web.Serve(webL)

	apiL, err := listenTCP(apiPort)
	if err != nil {
		return fmt.Errorf("h2c listen: %w", err)
	}
	api := &http.Server{Handler: h2c.NewHandler(apiV2Handler(), &http2.Server{})}
	go api.Serve(apiL)

	grpcL, err := listenTCP(grpcPort)
	if err != nil {
		return fmt.Errorf("grpc listen: %w", err)
	}
	gs, hs := newGRPCServer()
	go gs.Serve(grpcL)

	// 1. DNS lookups with Go's resolver.
	if err := resolve(ctx, rec.DialContext, dnsPC.LocalAddr().String()); err != nil {
		return err
	}
	time.Sleep(30 * time.Millisecond)

	// 2. HTTP/1.1: a browser session and a curl call.
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	browserTr := &http.Transport{DialContext: dial}
	curlTr := &http.Transport{DialContext: dial}
	base := fmt.Sprintf("http://petstore.demo.internal:%d", portOf(webL.Addr()))
	if err := browse(ctx, &http.Client{Transport: browserTr, Jar: jar}, &http.Client{Transport: curlTr}, base); err != nil {
		return err
	}
	browserTr.CloseIdleConnections()
	curlTr.CloseIdleConnections()
	time.Sleep(30 * time.Millisecond)

	// 3. HTTP/2 over cleartext (prior knowledge).
	h2Tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return dial(ctx, network, addr)
	}}
	if err := callAPIv2(ctx, &http.Client{Transport: h2Tr}, fmt.Sprintf("http://api.petstore.demo.internal:%d", portOf(apiL.Addr()))); err != nil {
		return err
	}
	h2Tr.CloseIdleConnections()
	time.Sleep(30 * time.Millisecond)

	// 4. gRPC health, reflection and a Watch stream.
	cc, err := grpc.NewClient(fmt.Sprintf("passthrough:///petstore.demo.internal:%d", portOf(grpcL.Addr())),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, "tcp", addr) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUserAgent("grpc-health-probe/0.4.37"))
	if err != nil {
		return fmt.Errorf("grpc client: %w", err)
	}
	if err := callGRPC(ctx, cc, hs); err != nil {
		cc.Close()
		return err
	}
	if err := cc.Close(); err != nil {
		return fmt.Errorf("grpc close: %w", err)
	}

	gs.GracefulStop()
	if err := web.Shutdown(ctx); err != nil {
		return fmt.Errorf("web shutdown: %w", err)
	}
	if err := api.Shutdown(ctx); err != nil {
		return fmt.Errorf("h2c shutdown: %w", err)
	}
	return write(out, rec)
}

// write stores the recording, shifted to the demo's fixed start time, as
// pcapng; it writes a temporary file first so a failed run never leaves
// a damaged demo behind.
func write(out string, rec *synth.Recording) error {
	pkts := rec.Packets()
	synth.ShiftTo(pkts, time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC))
	tmp, err := os.CreateTemp(filepath.Dir(out), ".demo-*.pcapng")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	w, err := pcapw.NewPcapng(tmp, pcapw.NgOptions{
		Comment:     "tapview demo: real Go clients and servers on 127.0.0.1, recorded as synthetic packets (regenerate with go generate ./cmd/tapview/demo)",
		Application: "tapview demo generator",
	})
	if err != nil {
		return err
	}
	for _, p := range pkts {
		if err := w.WritePacket(p, ""); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	st, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d packets, %d bytes\n", out, len(pkts), st.Size())
	return nil
}
