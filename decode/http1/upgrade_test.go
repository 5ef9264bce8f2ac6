package http1

import (
	"testing"

	"github.com/tapview/tapview/decode"
)

func TestUpgradeH2C(t *testing.T) {
	const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	const settings = "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	req := "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
	resp := "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
	for _, order := range []string{"preface-after-101", "preface-before-101", "preface-with-request"} {
		t.Run(order, func(t *testing.T) {
			c := newFakeConn(t)
			rec := &recorder{}
			c.handoffs = map[string]*recorder{"h2": rec}
			var steps []step
			switch order {
			case "preface-after-101":
				steps = []step{{c2s, req, 0, 1}, {s2c, resp + settings, 0, 2}, {c2s, preface, 0, 3}}
			case "preface-before-101":
				steps = []step{{c2s, req, 0, 1}, {c2s, preface, 0, 2}, {s2c, resp + settings, 0, 3}}
			case "preface-with-request":
				steps = []step{{c2s, req + preface, 0, 1}, {s2c, resp, 0, 2}, {s2c, settings, 0, 3}}
			}
			steps = append(steps, step{c2s, "more-h2", 0, 4}, step{s2c, "GET / HTTP/1.1\r\n\r\n", 0, 5})
			x := one(t, run(t, c, decode.FlowClosed, steps...))
			if x.State != decode.Complete || x.Status() != 101 {
				t.Fatalf("%s %d", x.State, x.Status())
			}
			if got := rec.data[c2s].String(); got != preface+"more-h2" {
				t.Fatalf("h2 got client bytes %q", got)
			}
			if got := rec.data[s2c].String(); got != settings+"GET / HTTP/1.1\r\n\r\n" {
				t.Fatalf("h2 got server bytes %q", got)
			}
			if !rec.ended {
				t.Fatal("End not forwarded")
			}
		})
	}
}

func TestUpgradeWithoutHandler(t *testing.T) {
	c := newFakeConn(t)
	xs := run(t, c, decode.FlowClosed,
		step{c2s, "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0, 1},
		step{s2c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello", 0, 2},
		step{c2s, "\x81\x85abcdGET / HTTP/1.1\r\n\r\n", 0, 3})
	x := one(t, xs)
	if x.State != decode.Complete || x.Status() != 101 || len(c.asked) != 1 || c.asked[0] != "ws" {
		t.Fatalf("%s %d asked %v", x.State, x.Status(), c.asked)
	}
}

func TestConnectTunnel(t *testing.T) {
	c := newFakeConn(t)
	xs := run(t, c, decode.FlowClosed,
		step{c2s, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x00\x05hello", 0, 1},
		step{s2c, "HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x03", 0, 2},
		step{c2s, "GET /inside HTTP/1.1\r\n\r\n", 0, 3},
		step{s2c, "HTTP/1.1 200 OK\r\n\r\n", 0, 4})
	x := one(t, xs)
	if x.State != decode.Complete || x.Method() != "CONNECT" || x.Host() != "example.com:443" {
		t.Fatalf("%s %s %s", x.State, x.Method(), x.Host())
	}
	// A refused CONNECT leaves the connection in HTTP/1.
	xs = run(t, newFakeConn(t), decode.FlowClosed,
		step{c2s, "CONNECT example.com:443 HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\nHost: n\r\n\r\n", 0, 1},
		step{s2c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 2})
	if len(xs) != 2 || xs[0].Status() != 407 || xs[1].Path() != "/next" || xs[1].State != decode.Complete {
		t.Fatalf("refused CONNECT: %s", summary(xs))
	}
}

// A CONNECT request with Content-Length still has no content (RFC 9110
// §9.3.6): the bytes after its head are the tunnel's, not a body.
func TestConnectIgnoresContentLength(t *testing.T) {
	x := one(t, run(t, newFakeConn(t), decode.FlowClosed,
		step{c2s, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nContent-Length: 5\r\n\r\n\x16\x03\x01\x00\x05hello", 0, 1},
		step{s2c, "HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x03", 0, 2}))
	if x.State != decode.Complete || x.Method() != "CONNECT" || x.Status() != 200 {
		t.Fatalf("%s %s %d", x.State, x.Method(), x.Status())
	}
	if n := x.Request.BodySize; n != 0 || len(x.Request.Body) != 0 {
		t.Fatalf("CONNECT request body of %d bytes (%q)", n, x.Request.Body)
	}
}

func TestGapWhileHeldForUpgrade(t *testing.T) {
	c := newFakeConn(t)
	rec := &recorder{}
	c.handoffs = map[string]*recorder{"ws": rec}
	x := one(t, run(t, c, decode.FlowClosed,
		step{c2s, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x80", 0, 1},
		step{c2s, "", 10, 2},
		step{c2s, "\x81\x80abcd", 0, 3},
		step{s2c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00", 0, 4}))
	if x.State != decode.Complete || x.Status() != 101 {
		t.Fatalf("%s %d", x.State, x.Status())
	}
	if rec.data[s2c].String() != "\x81\x00" {
		t.Fatalf("server bytes after 101: %q", rec.data[s2c].String())
	}
}
