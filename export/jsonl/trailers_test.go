package jsonl

import (
	"encoding/json"
	"testing"

	"github.com/tapview/tapview/decode"
)

// Request trailers (chunked requests, gRPC client streams) are decoded and
// must reach the JSON as resp_trailers does; absent, the field is left out.
func TestRequestTrailers(t *testing.T) {
	e := sample()
	var m map[string]any
	if err := json.Unmarshal(AppendExchange(nil, e), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["req_trailers"]; ok {
		t.Error("req_trailers present without trailers")
	}
	e.Request.Trailers = []decode.Header{{Name: "X-Checksum", Value: "ab12"}}
	if err := json.Unmarshal(AppendExchange(nil, e), &m); err != nil {
		t.Fatal(err)
	}
	tr, _ := m["req_trailers"].([]any)
	if len(tr) != 1 || tr[0].([]any)[0] != "X-Checksum" || tr[0].([]any)[1] != "ab12" {
		t.Errorf("req_trailers = %#v", m["req_trailers"])
	}
}
