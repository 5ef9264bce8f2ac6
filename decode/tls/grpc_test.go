package tls

import (
	"bytes"
	"context"
	stdtls "crypto/tls"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tapview/tapview/export/synth"
)

// TestGRPCOverTLS records grpc-go calls over TLS 1.3 (ALPN h2) and checks
// that they decode as gRPC exchanges inside TLS.
func TestGRPCOverTLS(t *testing.T) {
	certs := newTestCerts(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(&stdtls.Config{Certificates: []stdtls.Certificate{certs.ecdsa}})))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go gs.Serve(l)
	defer gs.Stop()

	var keyLog bytes.Buffer
	rec := synth.NewRecording(synth.Options{})
	creds := credentials.NewTLS(&stdtls.Config{RootCAs: certs.pool, ServerName: serverName, KeyLogWriter: &keyLog})
	cc, err := grpc.NewClient("passthrough:///"+l.Addr().String(), grpc.WithContextDialer(rec.DialGRPC), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := healthpb.NewHealthClient(cc)
	for i := 0; i < 2; i++ {
		if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	cc.Close()
	time.Sleep(50 * time.Millisecond) // let the recording see the close

	out := decodePackets(t, rec.Packets(), keylogFrom(keyLog.Bytes()))
	f := out.tcpFlows()[0]
	if f.Proto != "tls" || f.TLS == nil || !f.TLS.Decrypted || f.TLS.ALPNChosen != "h2" || f.TLS.Version != "TLS 1.3" {
		t.Fatalf("flow %q TLS %+v error %q", f.Proto, f.TLS, f.Error)
	}
	ex := out.exchanges()
	if len(ex) != 2 {
		t.Fatalf("%d exchanges, want 2", len(ex))
	}
	for _, e := range ex {
		if e.GRPC == nil || e.GRPC.Service != "grpc.health.v1.Health" || e.GRPC.Method != "Check" || e.GRPC.Status != 0 || !e.TLS || e.SNI != serverName {
			t.Errorf("exchange %s %s grpc %+v TLS %v SNI %q state %s", e.Proto, e.Path(), e.GRPC, e.TLS, e.SNI, e.State)
		}
	}
}
