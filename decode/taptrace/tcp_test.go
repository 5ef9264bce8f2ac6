package taptrace_test

import (
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/taptrace"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources/taptrace/tracetest"
)

// Socket traces go through the real TCP decoder and HTTP/1 parser, so a
// tapped connection decodes like a captured one.
func TestSocketTraceThroughTCPDecoder(t *testing.T) {
	out := newOutput()
	td := tcp.NewDecoder(out, tcp.Config{Parsers: []decode.Parser{http1.New()}})
	d := taptrace.NewDecoder(out, taptrace.Opener(td.OpenStream), counter(1<<40), taptrace.Options{})
	d.Trace(trace(tracetest.SocketBuffered(1), 1))
	for i, seg := range tracetest.SocketStreamed(5, 2) {
		d.Trace(trace(seg, 2+i))
	}
	d.Flush()
	td.Finish(tracetest.Base().Add(time.Hour))
	ex := out.all()
	if len(ex) != 2 {
		t.Fatalf("%d exchanges, want 2", len(ex))
	}
	for i, e := range ex {
		if e.Proto != "http/1.1" || e.Method() != "GET" || e.Status() != 200 || e.State != decode.Complete ||
			string(e.Response.Body) != "hello" || e.Host() != "sock.example" || e.Source != "sink/envoy-1" {
			t.Errorf("exchange %d: %s %s %s %d %s body %q host %q source %q", i, e.Proto, e.Method(), e.Path(), e.Status(), e.State, e.Response.Body, e.Host(), e.Source)
		}
	}
	if ex[0].Path() != "/sock/1" || ex[1].Path() != "/sock/2" {
		t.Errorf("paths %q %q", ex[0].Path(), ex[1].Path())
	}
	if len(out.flows) != 2 {
		t.Errorf("%d flows", len(out.flows))
	}
	for _, f := range out.flows {
		if f.State != decode.FlowClosed || f.Proto != "http/1.1" {
			t.Errorf("flow %+v", f)
		}
	}
}
