package server

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
)

// TestHandshakeTimeout: a connection to the agent that never sends the
// HTTP/2 preface (a slowloris, or a scanner) is closed after
// HandshakeTimeout instead of grpc-go's 120 s, while one that trickles
// the preface a byte at a time fares no better.
func TestHandshakeTimeout(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(GRPCOptions()...)
	New(Config{}).Register(g)
	go g.Serve(lis)
	defer g.Stop()

	silent, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	trickle, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer trickle.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		preface := "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
		for i := 0; i < len(preface); i++ {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			if _, err := trickle.Write([]byte{preface[i]}); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	for name, c := range map[string]net.Conn{"silent": silent, "trickle": trickle} {
		c.SetReadDeadline(start.Add(HandshakeTimeout + 3*time.Second))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s connection still open %v after it was made", name, time.Since(start))
		}
		if d := time.Since(start); d < HandshakeTimeout-time.Second {
			t.Errorf("%s connection closed after %v, before the handshake timeout", name, d)
		}
	}
}
