package ui

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// wsStore holds one WebSocket exchange whose frames are all in the
// Response message (as decode/ws publishes them), with FromClient
// telling the direction.
func wsStore() *fakeStore {
	s := newFakeStore()
	e := &decode.Exchange{ID: 1, FlowID: 1, Proto: "ws", Version: 1, State: decode.Complete, Start: at(0), End: at(900),
		Client: netip.MustParseAddrPort("10.0.0.5:55233"), Server: netip.MustParseAddrPort("10.0.0.9:80"),
		Request: &decode.Message{First: at(0), Last: at(0)},
		Response: &decode.Message{First: at(1), Last: at(900), Parts: []decode.Part{
			{Time: at(1), Kind: "text", Data: []byte("connected,"), Size: 10},
			{Time: at(2), Kind: "text", Data: []byte("echo,test message"), Size: 17, FromClient: true},
			{Time: at(3), Kind: "text", Data: []byte(`{"echo":"test message"}`), Size: 23, Compressed: true},
			{Time: at(4), Kind: "ping", Size: 0, FromClient: true},
			{Time: at(900), Kind: "close", Data: []byte{0x03, 0xe8, 'b', 'y', 'e'}, Size: 5, FromClient: true},
		}}}
	s.add(e)
	return s
}

// TestWebSocketDetail: the first tab is one conversation of both
// directions in order (no stray status line, no empty request body), the
// second counts frames per direction and says how it closed.
func TestWebSocketDetail(t *testing.T) {
	goldenSizes(t, "ws_messages", func() Config { return baseConfig(wsStore()) }, "enter")
	goldenSizes(t, "ws_summary", func() Config { return baseConfig(wsStore()) }, "enter", "tab")
	d := newDriver(t, baseConfig(wsStore()), 120, 40)
	d.keys("enter")
	scr := d.screen()
	for _, want := range []string{"Messages", "Summary", "frame 1/5", "server → client", "frame 2/5", "client → server", "echo,test message"} {
		if !strings.Contains(scr, want) {
			t.Errorf("Messages tab lacks %q:\n%s", want, scr)
		}
	}
	if strings.Index(scr, "connected,") > strings.Index(scr, "echo,test message") {
		t.Errorf("frames are not in capture order:\n%s", scr)
	}
	for _, l := range strings.Split(scr, "\n") {
		if strings.TrimSpace(l) == "0" || strings.Contains(l, "Request  Response") {
			t.Errorf("stray status line or request/response tabs on a WebSocket exchange: %q", l)
		}
	}
	d.keys("tab")
	scr = d.screen()
	for _, want := range []string{"client → server", "3 frames", "2 control", "server → client", "2 frames", "1 compressed", "client sent close 1000 bye"} {
		if !strings.Contains(scr, want) {
			t.Errorf("Summary tab lacks %q:\n%s", want, scr)
		}
	}
}
