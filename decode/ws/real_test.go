package ws

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/export/synth"
)

// TestRealClientServer records x/net/websocket's client talking to its
// server on loopback (upgrade, text, binary, a 64-bit-length message, a
// ping answered by the server, a close handshake) and decodes the
// recording through the HTTP/1 parser and the handoff.
func TestRealClientServer(t *testing.T) {
	srv := httptest.NewServer(websocket.Handler(func(ws *websocket.Conn) {
		defer ws.Close() // answers the client's close frame with ours
		for {
			var msg []byte
			if err := websocket.Message.Receive(ws, &msg); err != nil {
				return
			}
			websocket.Message.Send(ws, "echo: "+string(msg))
		}
	}))
	defer srv.Close()

	rec := synth.NewRecording(synth.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := rec.DialContext(ctx, "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := websocket.NewConfig("ws://"+srv.Listener.Addr().String()+"/chat", "http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.NewClient(cfg, raw)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("0123456789abcdef", 5000) // 80000 bytes
	bin := []byte{0, 1, 2, 3, 0xff}
	roundTrip := func(send any) {
		t.Helper()
		if err := websocket.Message.Send(ws, send); err != nil {
			t.Fatal(err)
		}
		var got []byte
		if err := websocket.Message.Receive(ws, &got); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip("hello")
	roundTrip(bin)
	roundTrip(big)
	// A ping: the server answers with a pong, read (and recorded) on the
	// way to the next echo.
	ws.PayloadType = websocket.PingFrame
	if _, err := ws.Write([]byte("are you there")); err != nil {
		t.Fatal(err)
	}
	ws.PayloadType = websocket.TextFrame
	roundTrip("last")
	// Close handshake: send our close, read the server's, then hang up.
	if err := ws.WriteClose(1000); err != nil {
		t.Fatal(err)
	}
	var rest []byte
	if err := websocket.Message.Receive(ws, &rest); !errors.Is(err, io.EOF) {
		t.Fatalf("after close: %v", err)
	}
	raw.Close()

	col := newCollector(t)
	d := newDecoder(col, decode.Limits{})
	for _, p := range rec.Packets() {
		d.Packet(&p)
	}
	d.Finish(time.Time{})

	xs := col.byProto("ws")
	if len(xs) != 1 {
		t.Fatalf("%d ws exchanges", len(xs))
	}
	x := xs[0]
	type fr struct {
		kind   string
		client bool
		data   string
	}
	want := []fr{
		{"text", true, "hello"}, {"text", false, "echo: hello"},
		{"binary", true, string(bin)}, {"text", false, "echo: " + string(bin)},
		{"text", true, big}, {"text", false, "echo: " + big},
		// The client sends "last" before it reads the pong.
		{"ping", true, "are you there"}, {"text", true, "last"},
		{"pong", false, "are you there"}, {"text", false, "echo: last"},
		{"close", true, "1000 (normal closure)"}, {"close", false, "1000 (normal closure)"},
	}
	if len(x.Response.Parts) != len(want) {
		t.Fatalf("%d frames, want %d", len(x.Response.Parts), len(want))
	}
	for i, p := range x.Response.Parts {
		w := want[i]
		if p.Kind != w.kind || p.FromClient != w.client || !bytes.Equal(p.Data, []byte(w.data)) || p.Size != int64(len(p.Data)) && p.Kind != "close" {
			t.Errorf("frame %d: %s client=%v %d bytes %.30q, want %s client=%v %.30q", i, p.Kind, p.FromClient, p.Size, p.Data, w.kind, w.client, w.data)
		}
	}
	if x.State != decode.Complete || x.Error != "" {
		t.Errorf("state %s error %q", x.State, x.Error)
	}
	for _, h := range col.byProto("http/1.1") {
		if h.FlowID == x.FlowID && (h.Request.Target != "/chat" || !h.State.Final()) {
			t.Errorf("upgrade exchange: %s %s %s", h.Request.Method, h.Request.Target, h.State)
		}
	}
}
