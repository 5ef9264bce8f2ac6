package watch_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/tapview/tapview/sources/sink/watch"
)

// TestWatchHandshakeTimeout: a connection to the --serve port that never
// completes the HTTP/2 handshake is closed within seconds (grpc-go's
// default would keep it 120 s), so idle connections cannot hold the
// watch port.
func TestWatchHandshakeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hub := watch.NewHub(watch.HubOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Serve(ctx, ln, nil, "tok") }()
	defer func() { cancel(); <-done }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(start.Add(9 * time.Second))
	_, err = io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a silent connection is still open after %v", time.Since(start))
	}
	if d := time.Since(start); d < 4*time.Second {
		t.Errorf("closed after %v, before the 5 s handshake timeout", d)
	}
}
