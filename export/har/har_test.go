package har

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func hs(kv ...string) []decode.Header {
	var out []decode.Header
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, decode.Header{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func sampleExchanges(t *testing.T) []*decode.Exchange {
	zipped := gz(t, `{"pets":["rex"]}`)
	return []*decode.Exchange{{
		ID: 1, FlowID: 7, Proto: "http/1.1", State: decode.Complete,
		Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:80"),
		Request: &decode.Message{First: t0, Last: t0.Add(time.Millisecond), Method: "POST", Target: "/api/pets?limit=5&q=a%20b&token=••••••••",
			Host: "pets.example", Proto: "HTTP/1.1",
			Headers: hs("Host", "pets.example", "Cookie", "a=1; session=••••••••", "Content-Type", "application/x-www-form-urlencoded"),
			Body:    []byte("name=rex&kind=dog"), BodySize: 17, DecodedSize: 17},
		Response: &decode.Message{First: t0.Add(4 * time.Millisecond), Last: t0.Add(6 * time.Millisecond), Status: 201, Reason: "Created", Proto: "HTTP/1.1",
			Headers: hs("Content-Type", "application/json", "Content-Encoding", "gzip", "Set-Cookie", "sid=••••••••; Path=/; Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly; Secure",
				"Location", "/api/pets/1"),
			Body: zipped, BodySize: int64(len(zipped)), ContentEncoding: []string{"gzip"}, DecodedSize: 16},
	}, {
		ID: 2, FlowID: 8, Proto: "grpc", State: decode.Complete, StreamID: 1,
		Server: netip.MustParseAddrPort("[::1]:50051"),
		Request: &decode.Message{First: t0, Last: t0, Method: "POST", Target: "/greet.GreetService/Greet", Host: "localhost:50051", Scheme: "http", Proto: "HTTP/2",
			Headers: hs(":method", "POST", ":path", "/greet.GreetService/Greet", "content-type", "application/grpc"),
			Body:    []byte{0, 0, 0, 0, 2, 8, 1}, BodySize: 7},
		Response: &decode.Message{First: t0.Add(time.Millisecond), Last: t0.Add(2 * time.Millisecond), Status: 200, Proto: "HTTP/2",
			Headers: hs(":status", "200", "content-type", "application/grpc"), Trailers: hs("grpc-status", "5", "grpc-message", "not found"),
			Body: []byte{0, 0, 0, 0, 0}, BodySize: 5},
		GRPC: &decode.GRPCInfo{Service: "greet.GreetService", Method: "Greet", Status: 5, Message: "not found"},
	}, {
		ID: 3, FlowID: 9, Proto: "http/1.1", State: decode.Orphan, Error: "no response before the connection ended",
		Request: &decode.Message{First: t0, Last: t0, Method: "GET", Target: "/slow", Host: "h", Proto: "HTTP/1.1", Headers: hs("Host", "h")},
	}, {
		ID: 4, Proto: "dns", State: decode.Complete, DNS: &decode.DNSInfo{Name: "example.com", Type: "A"},
	}}
}

// writeHAR writes exchanges and decodes the file generically.
func writeHAR(t *testing.T, exs []*decode.Exchange) ([]byte, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Options{Name: "tapview", Version: "test", Comment: "masked"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exs {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Entries() != 3 || w.Skipped() != 1 {
		t.Fatalf("entries %d skipped %d, want 3 and 1 (DNS)", w.Entries(), w.Skipped())
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.Bytes())
	}
	return buf.Bytes(), doc
}

func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

func TestEntriesCarryWhatHARReadersNeed(t *testing.T) {
	_, doc := writeHAR(t, sampleExchanges(t))
	log := doc["log"]
	if get(log, "version") != "1.2" || get(log, "creator", "name") != "tapview" || get(log, "comment") != "masked" {
		t.Fatalf("log header: %v", log)
	}
	if _, ok := log.(map[string]any)["pages"]; ok {
		t.Error("pages should be omitted")
	}
	e := get(log, "entries", 0)
	for path, want := range map[string]any{
		"startedDateTime": "2024-05-01T12:00:00.000Z", "time": 6.0, "serverIPAddress": "10.0.0.2", "connection": "7",
	} {
		if got := get(e, path); got != want {
			t.Errorf("entry %s = %v, want %v", path, got, want)
		}
	}
	if got := get(e, "timings"); get(got, "send") != 1.0 || get(got, "wait") != 3.0 || get(got, "receive") != 2.0 || get(got, "dns") != -1.0 {
		t.Errorf("timings %v", got)
	}
	req := get(e, "request")
	if get(req, "url") != "http://pets.example/api/pets?limit=5&q=a%20b&token=%E2%80%A2%E2%80%A2%E2%80%A2%E2%80%A2%E2%80%A2%E2%80%A2%E2%80%A2%E2%80%A2" {
		t.Errorf("url %v", get(req, "url"))
	}
	if q := get(req, "queryString"); len(q.([]any)) != 3 || get(q, 1, "value") != "a b" || get(q, 2, "value") != "••••••••" {
		t.Errorf("queryString %v", q)
	}
	if c := get(req, "cookies"); len(c.([]any)) != 2 || get(c, 1, "name") != "session" {
		t.Errorf("cookies %v", c)
	}
	if pd := get(req, "postData"); get(pd, "text") != "name=rex&kind=dog" || get(pd, "params", 1, "value") != "dog" {
		t.Errorf("postData %v", pd)
	}
	resp := get(e, "response")
	if get(resp, "status") != 201.0 || get(resp, "statusText") != "Created" || get(resp, "redirectURL") != "/api/pets/1" {
		t.Errorf("response %v", resp)
	}
	ct := get(resp, "content")
	if get(ct, "text") != `{"pets":["rex"]}` || get(ct, "size") != 16.0 || get(ct, "mimeType") != "application/json" {
		t.Errorf("content %v: gzip body should be shown decoded", ct)
	}
	ck := get(resp, "cookies", 0)
	if get(ck, "name") != "sid" || get(ck, "path") != "/" || get(ck, "httpOnly") != true || get(ck, "secure") != true || get(ck, "expires") != "2015-10-21T07:28:00.000Z" {
		t.Errorf("set-cookie %v", ck)
	}
	if get(req, "headersSize").(float64) <= 0 || get(req, "bodySize") != 17.0 {
		t.Errorf("sizes %v %v", get(req, "headersSize"), get(req, "bodySize"))
	}

	g := get(log, "entries", 1)
	if get(g, "_grpcStatus") != 5.0 || get(g, "_grpcMessage") != "not found" || get(g, "request", "httpVersion") != "HTTP/2" ||
		get(g, "request", "headersSize") != -1.0 || get(g, "serverIPAddress") != "::1" {
		t.Errorf("grpc entry %v", g)
	}
	if gc := get(g, "response", "content"); get(gc, "encoding") != "base64" || get(gc, "text") != base64.StdEncoding.EncodeToString([]byte{0, 0, 0, 0, 0}) {
		t.Errorf("grpc content %v", gc)
	}
	if gp := get(g, "request", "postData"); get(gp, "_encoding") != "base64" {
		t.Errorf("grpc postData %v", gp)
	}

	o := get(log, "entries", 2)
	if get(o, "response", "status") != 0.0 || get(o, "timings", "wait") != -1.0 || get(o, "comment") == nil {
		t.Errorf("orphan entry %v", o)
	}
}

// TestSchema validates against the HAR 1.2 JSON schema with the npm
// validator that scripts/test-deps.sh installs.
func TestSchema(t *testing.T) {
	file, _ := writeHAR(t, sampleExchanges(t))
	path := filepath.Join(t.TempDir(), "x.har")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	validateForTest(t, path)
}

// validateForTest runs scripts/har-validate/validate.js on path, skipping
// when the validator is not installed.
func validateForTest(t *testing.T, path string) {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(here), "..", "..", "scripts", "har-validate")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "har-validator")); err != nil {
		t.Skip("HAR schema validator not installed: run scripts/test-deps.sh (npm ci in scripts/har-validate)")
	}
	out, err := exec.Command("node", filepath.Join(dir, "validate.js"), path).CombinedOutput()
	if err != nil {
		t.Fatalf("HAR schema validation failed: %v\n%s", err, out)
	}
}
