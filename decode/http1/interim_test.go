package http1

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// TestInterimCap sends far more 100 Continue responses than an exchange
// keeps: the first MaxInterim stay, the rest are counted in Error, no
// publication carries more, and the next exchange on the connection is
// unaffected.
func TestInterimCap(t *testing.T) {
	const n = 2000
	c := newFakeConn(t)
	steps := []step{{c2s, "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 0, 1}}
	for i := 0; i < n; i++ {
		status := "100 Continue"
		if i == 1 {
			status = "103 Early Hints"
		}
		steps = append(steps, step{s2c, "HTTP/1.1 " + status + "\r\n\r\n", 0, 2})
	}
	steps = append(steps,
		step{c2s, "data", 0, 3},
		step{s2c, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 0, 4},
		step{c2s, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n", 0, 5},
		step{s2c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 6})
	xs := run(t, c, decode.FlowClosed, steps...)
	if len(xs) != 2 {
		t.Fatalf("%d exchanges, want 2", len(xs))
	}
	x := xs[0]
	if x.State != decode.Complete || x.Status() != 201 || string(x.Request.Body) != "data" {
		t.Fatalf("first exchange %s status %d body %q", x.State, x.Status(), x.Request.Body)
	}
	if len(x.Interim) != MaxInterim || x.Interim[0].Status != 100 || x.Interim[1].Status != 103 || x.Interim[MaxInterim-1].Status != 100 {
		t.Fatalf("kept %d interim responses, want the first %d", len(x.Interim), MaxInterim)
	}
	want := fmt.Sprintf("%d more interim responses not kept", n-MaxInterim)
	if !strings.Contains(x.Error, want) {
		t.Fatalf("error %q does not count the dropped ones (%q)", x.Error, want)
	}
	for _, p := range c.pubs {
		if len(p.shallow.Interim) > MaxInterim {
			t.Fatalf("a publication carries %d interim responses", len(p.shallow.Interim))
		}
	}
	y := xs[1]
	if y.State != decode.Complete || y.Error != "" || len(y.Interim) != 1 || y.Status() != 200 {
		t.Fatalf("second exchange %s %q interim=%d status=%d", y.State, y.Error, len(y.Interim), y.Status())
	}
}
