package soak

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	tapsvc "github.com/envoyproxy/go-control-plane/envoy/service/tap/v3"
	"google.golang.org/protobuf/proto"
)

// A patched template is a valid StreamTapsRequest carrying the trace's
// number in its x-request-id and trace_id, and the send time.
func TestTemplatesPatch(t *testing.T) {
	p, err := NewTemplates(64, 7)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	paths := map[string]bool{}
	for k := range 64 {
		b := p.Trace(k, uint64(1000+k), now)
		var req tapsvc.StreamTapsRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Fatalf("template %d: %v", k, err)
		}
		if req.GetTraceId() != traceIDTop|uint64(1000+k) {
			t.Errorf("template %d: trace_id %x", k, req.GetTraceId())
		}
		h := req.GetTrace().GetHttpBufferedTrace()
		var reqID, auth string
		for _, hv := range h.GetRequest().GetHeaders() {
			switch hv.GetKey() {
			case "x-request-id":
				reqID = hv.GetValue()
			case "authorization":
				auth = hv.GetValue()
			case ":path":
				paths[hv.GetValue()] = true
			}
		}
		if want := fmt.Sprintf("%020d", 1000+k); reqID != want {
			t.Errorf("template %d: x-request-id %q, want %q", k, reqID, want)
		}
		if !strings.HasPrefix(auth, "Bearer eyJ") {
			t.Errorf("template %d: authorization %q", k, auth)
		}
		if got := h.GetRequest().GetHeadersReceivedTime().AsTime(); got.Unix() != now.Unix() {
			t.Errorf("template %d: request time %v", k, got)
		}
		reqT, respT := h.GetRequest().GetHeadersReceivedTime().AsTime(), h.GetResponse().GetHeadersReceivedTime().AsTime()
		if lat := respT.Sub(reqT); lat < time.Millisecond || lat > 250*time.Millisecond || respT.Unix() != now.Unix() {
			t.Errorf("template %d: request %v, response %v", k, reqT, respT)
		}
		body := h.GetResponse().GetBody().GetAsBytes()
		if len(body) > 0 && (len(body) < 1000 || len(body) > 4200 || !bytes.HasPrefix(body, []byte(`{"id":"ord_`))) {
			t.Errorf("template %d: response body of %d bytes", k, len(body))
		}
	}
	if len(paths) < 32 {
		t.Errorf("only %d distinct paths", len(paths))
	}
}
