package filter

import (
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

func TestAccessor(t *testing.T) {
	t0 := time.Unix(100, 0)
	e := &decode.Exchange{
		Proto: "grpc", Namespace: "shop", State: decode.Complete,
		Request:  &decode.Message{Method: "POST", Target: "/a?b=1", Host: "h", First: t0},
		Response: &decode.Message{Status: 200, Last: t0.Add(1500 * time.Microsecond)},
		GRPC:     &decode.GRPCInfo{Service: "s", Method: "m", Status: -1},
	}
	for name, want := range map[string]string{
		"status": "200", "namespace": "shop", "path": "/a", "query": "b=1", "latency": "1.5ms", "grpc_status": "", "proto": "grpc",
	} {
		f, err := Accessor(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := f(e); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for _, bad := range []string{"req_headers", "nosuch", nsInternal} {
		if _, err := Accessor(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	// Every declared variable but the header maps has an accessor.
	for _, v := range Variables() {
		if _, err := Accessor(v.Name); (err != nil) != (v.Type == "map(string, string)") {
			t.Errorf("%s (%s): %v", v.Name, v.Type, err)
		}
	}
}
