package har

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tapview/tapview/decode"
)

// HAR 1.2 has no field for trailers: they go in "_trailers" (custom
// fields start with '_'), for the request and the response, and are left
// out when there are none.
func TestTrailersInCustomField(t *testing.T) {
	exs := sampleExchanges(t)
	_, doc := writeHAR(t, exs)
	if got := get(get(doc["log"], "entries", 0), "request", "_trailers"); got != nil {
		t.Errorf("request _trailers without trailers: %v", got)
	}
	exs[0].Request.Trailers = []decode.Header{{Name: "X-Req-Sum", Value: "1"}}
	exs[0].Response.Trailers = []decode.Header{{Name: "Grpc-Status", Value: "0"}}
	file, doc := writeHAR(t, exs)
	path := filepath.Join(t.TempDir(), "trailers.har")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	validateForTest(t, path) // custom fields keep the file valid HAR 1.2
	e := get(doc["log"], "entries", 0)
	if get(e, "request", "_trailers", 0, "name") != "X-Req-Sum" || get(e, "response", "_trailers", 0, "value") != "0" {
		t.Errorf("trailers: request %v, response %v", get(e, "request", "_trailers"), get(e, "response", "_trailers"))
	}
}
