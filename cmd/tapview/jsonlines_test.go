package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// jsonExchanges decodes the exchange lines of `tapview open -o json`
// output into T, failing the test on a line that is not JSON.
func jsonExchanges[T any](t *testing.T, out []byte) []T {
	t.Helper()
	var all []T
	for _, l := range bytes.Split(out, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var kind struct{ Type string }
		if err := json.Unmarshal(l, &kind); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		if kind.Type != "exchange" {
			continue
		}
		var e T
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		all = append(all, e)
	}
	return all
}
