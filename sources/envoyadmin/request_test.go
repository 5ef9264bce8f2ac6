package envoyadmin_test

import (
	"strings"
	"testing"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tapview/tapview/sources/envoyadmin"
)

// The request envelope is written by hand (to keep admin/v3 out of the
// binary); Envoy's own message type must read it strictly, whole, and
// valid.
func TestTapRequestIsAdminTapRequest(t *testing.T) {
	body, err := envoyadmin.TapRequest(envoyadmin.Config{ConfigID: "tapview", Streaming: true, MaxBytes: 1024,
		Match: `{"http_request_headers_match": {"headers": [{"name": ":path", "string_match": {"prefix": "/api"}}]}}`})
	if err != nil {
		t.Fatal(err)
	}
	var req adminv3.TapRequest
	if err := protojson.Unmarshal(body, &req); err != nil {
		t.Fatalf("not an envoy.admin.v3.TapRequest: %v\n%s", err, body)
	}
	if err := req.ValidateAll(); err != nil {
		t.Errorf("invalid TapRequest: %v", err)
	}
	out := req.GetTapConfig().GetOutputConfig()
	if req.GetConfigId() != "tapview" || !out.GetStreaming() || out.GetMaxBufferedRxBytes().GetValue() != 1024 ||
		out.GetSinks()[0].GetStreamingAdmin() == nil ||
		req.GetTapConfig().GetMatch().GetHttpRequestHeadersMatch().GetHeaders()[0].GetStringMatch().GetPrefix() != "/api" {
		t.Errorf("request lost fields: %s", body)
	}

	// A predicate Envoy would refuse (a header matcher without a name) is
	// caught here, before anything is sent.
	_, err = envoyadmin.TapRequest(envoyadmin.Config{ConfigID: "tapview", Match: `{"http_request_headers_match": {"headers": [{"exact_match": "x"}]}}`})
	if err == nil || !strings.Contains(err.Error(), "would be refused") {
		t.Errorf("nameless header matcher: err = %v, want a refusal", err)
	}
}
