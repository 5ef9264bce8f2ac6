//go:build linux

package live

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/tapview/tapview/sources/live/filter"
	"github.com/tapview/tapview/sources/live/netns/netnstest"
)

// TestCaptureInNamespace captures real UDP traffic on a veth inside a test
// namespace and checks the kernel filter, snaplen, original lengths and
// that Close unblocks a reader.
func TestCaptureInNamespace(t *testing.T) {
	a, b := netnstest.New(t), netnstest.New(t)
	netnstest.Link(t, a, "tva", "10.77.0.1/24", b, "tvb", "10.77.0.2/24")

	prog, err := filter.Compile("udp dst port 5555", filter.Options{SnapLen: 100})
	if err != nil {
		t.Fatal(err)
	}
	var h *Handle
	a.Do(t, func() error {
		var err error
		h, err = Open("tva", 100, prog)
		return err
	})
	defer h.Close()

	var conn net.Conn
	b.Do(t, func() error {
		var err error
		conn, err = net.Dial("udp", "10.77.0.1:5555")
		return err
	})
	defer conn.Close()
	var other net.Conn
	b.Do(t, func() error {
		var err error
		other, err = net.Dial("udp", "10.77.0.1:6666")
		return err
	})
	defer other.Close()

	payload := bytes.Repeat([]byte("tapview!"), 100)
	go func() {
		for i := 0; i < 20; i++ {
			_, _ = other.Write(payload)
			_, _ = conn.Write(payload)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	timer := time.AfterFunc(10*time.Second, func() { h.Close() })
	defer timer.Stop()
	start := time.Now()
	for got := 0; got < 10; got++ {
		p, err := h.ReadPacket()
		if err != nil {
			t.Fatalf("after %d packets: %v", got, err)
		}
		if len(p.Data) != 100 {
			t.Fatalf("captured %d bytes, want snaplen 100", len(p.Data))
		}
		if want := 14 + 20 + 8 + len(payload); p.OrigLen != want {
			t.Errorf("original length %d, want %d", p.OrigLen, want)
		}
		if binary.BigEndian.Uint16(p.Data[12:]) != 0x0800 {
			t.Fatalf("not IPv4: % x", p.Data[:20])
		}
		if port := binary.BigEndian.Uint16(p.Data[36:]); port != 5555 {
			t.Fatalf("filter let through a packet to port %d", port)
		}
		if !bytes.HasPrefix(payload, p.Data[42:]) {
			t.Fatalf("payload differs: %q", p.Data[42:])
		}
		if p.Timestamp.Before(start.Add(-time.Second)) || p.Timestamp.After(time.Now().Add(time.Second)) {
			t.Errorf("timestamp %v not near now", p.Timestamp)
		}
	}
	if _, err := h.Dropped(); err != nil {
		t.Errorf("Dropped: %v", err)
	}

	// A reader blocked on a quiet interface returns once the handle closes.
	errc := make(chan error, 1)
	go func() {
		for {
			if _, err := h.ReadPacket(); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	h.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadPacket still blocked 5s after Close")
	}
}

func TestOpenUnknownDevice(t *testing.T) {
	if _, err := Open("tapview-no-such-if0", 0, nil); err == nil {
		t.Fatal("opened a device that does not exist")
	}
}

func TestInsertVLAN(t *testing.T) {
	frame := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00, 0x45}
	got := insertVLAN(frame, 42)
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0, 42, 0x08, 0x00, 0x45}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x", got)
	}
}

// TestLoopbackSeenOnce: on lo each frame passes the packet tap twice (out
// and in); the capture must show it once.
func TestLoopbackSeenOnce(t *testing.T) {
	ns := netnstest.New(t)
	var h *Handle
	var conn *net.UDPConn
	ns.Do(t, func() error {
		var err error
		if h, err = Open("lo", 0, nil); err != nil {
			return err
		}
		sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7777})
		if err != nil {
			return err
		}
		t.Cleanup(func() { sink.Close() })
		conn, err = net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7777})
		return err
	})
	defer h.Close()
	defer conn.Close()
	for i := 0; i < 3; i++ {
		if _, err := conn.Write([]byte{byte('a' + i)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[byte]int{}
	timer := time.AfterFunc(2*time.Second, func() { h.Close() })
	defer timer.Stop()
	for {
		p, err := h.ReadPacket()
		if err != nil {
			break
		}
		if len(p.Data) == 43 && p.Data[23] == 17 {
			seen[p.Data[42]]++
		}
	}
	for i := 0; i < 3; i++ {
		if n := seen[byte('a'+i)]; n != 1 {
			t.Errorf("datagram %c captured %d times, want once", 'a'+i, n)
		}
	}
}
