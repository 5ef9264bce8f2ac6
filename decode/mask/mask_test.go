package mask

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// secrets are planted in every place a secret can hide; each must be
// gone from masked output and present in unmasked output. Keys name the
// secret for failure messages.
var secrets = map[string]string{
	"bearer":   "tok_live_9f8e7d6c5b4a3210",
	"jwt":      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
	"aws":      "IOSFODNN7EXAMPLE", // after the kept AKIA prefix
	"card":     "4111111111111111",
	"card2":    "5500 0000 0000 0004",
	"email":    "alice.smith",
	"password": "hunter2-Pa55",
	"cookie":   "sess-8c1f2e77",
	"apikey":   "ak-51HxyZq",
	"ssn":      "078-05-1120",
	"cvv":      "7391",
	"secret":   "cs_0a9b8c7d",
	"basic":    "dXNlcjpwYXNzd29yZA",
	"urlpass":  "db-pa55w0rd",
}

// jsonBody nests secrets in objects and arrays.
func jsonBody() string {
	return fmt.Sprintf(`{"user":{"name":"bob","password":%q,"contact":"mail %s@example.com"},`+
		`"cards":[{"card":%s,"cvv":%q},{"number":%q}],"auth":{"access_token":%q,"scopes":["a","b"]},`+
		`"client_secret":%q,"ssn":%q,"note":"db postgres://app:%s@db/x","aws":"AKIA%s"}`,
		secrets["password"], secrets["email"], secrets["card"], secrets["cvv"], secrets["card2"],
		secrets["jwt"], secrets["secret"], secrets["ssn"], secrets["urlpass"], secrets["aws"])
}

func formBody() string {
	return "user=bob&password=" + secrets["password"] + "&card=" + secrets["card"] + "&cvv=" + secrets["cvv"] +
		"&email=" + secrets["email"] + "%40example.com&api_key=" + secrets["apikey"]
}

func multipartBody() string {
	return "--XyZ\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nbob\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n" + secrets["password"] + "\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"ssn\"\r\n\r\n" + secrets["ssn"] + "\r\n--XyZ--\r\n"
}

func encode(t testing.TB, coding, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&b)
	case "deflate":
		fw, err := flate.NewWriter(&b, flate.DefaultCompression)
		if err != nil {
			t.Fatal(err)
		}
		w = fw
	case "br":
		w = brotli.NewWriter(&b)
	case "zstd":
		zw, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	default:
		t.Fatalf("coding %s", coding)
	}
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// plantedExchange is an HTTP exchange carrying every secret in headers,
// query, trailers, an encoded body, and parts.
func plantedExchange(t testing.TB, reqBody, coding string) *decode.Exchange {
	req := &decode.Message{
		Method: "POST",
		Target: "/api/login?user=bob&password=" + secrets["password"] + "&token=" + secrets["bearer"] +
			"&email=" + secrets["email"] + "%40example.com&next=/home",
		Host: "api.example.com", Proto: "HTTP/1.1",
		Headers: []decode.Header{
			{Name: "Host", Value: "api.example.com"},
			{Name: "Authorization", Value: "Bearer " + secrets["bearer"]},
			{Name: "Proxy-Authorization", Value: "Basic " + secrets["basic"]},
			{Name: "Cookie", Value: "session=" + secrets["cookie"] + "; theme=dark"},
			{Name: "X-Api-Key", Value: secrets["apikey"]},
			{Name: "X-Client-Secret", Value: secrets["secret"]},
			{Name: "X-Forwarded-Jwt", Value: secrets["jwt"]},
			{Name: "From", Value: secrets["email"] + "@example.com"},
			{Name: "Referer", Value: "https://app.example.com/cb?access_token=" + secrets["bearer"]},
			{Name: "Content-Type", Value: "application/json"},
		},
		Trailers: []decode.Header{{Name: "X-Auth-Token", Value: secrets["bearer"]}},
		Body:     []byte(reqBody), BodySize: int64(len(reqBody)), DecodedSize: int64(len(reqBody)),
	}
	respText := jsonBody()
	resp := &decode.Message{
		Status: 200, Proto: "HTTP/1.1",
		Headers: []decode.Header{
			{Name: "Set-Cookie", Value: "id=" + secrets["cookie"] + "; Path=/; HttpOnly"},
			{Name: "Content-Type", Value: "application/json"},
		},
		Body: []byte(respText), BodySize: int64(len(respText)), DecodedSize: int64(len(respText)),
	}
	if coding != "" {
		resp.Body = encode(t, coding, respText)
		resp.BodySize = int64(len(resp.Body))
		resp.ContentEncoding = []string{coding}
		resp.Headers = append(resp.Headers, decode.Header{Name: "Content-Encoding", Value: coding})
	}
	return &decode.Exchange{
		ID: 1, Proto: "http/1.1", State: decode.Complete,
		Request: req, Response: resp,
		Interim: []*decode.Message{{Status: 100, Headers: []decode.Header{{Name: "X-Token", Value: secrets["apikey"]}}}},
		Error:   "upstream said: password=" + secrets["password"],
	}
}

// dump renders everything a view or export could show of e, with bodies
// decoded as views decode them.
func dump(t testing.TB, e *decode.Exchange) string {
	var b strings.Builder
	msgs := append([]*decode.Message{e.Request, e.Response}, e.Interim...)
	for _, m := range msgs {
		if m == nil {
			continue
		}
		fmt.Fprintf(&b, "%s %s %s %d\n", m.Method, m.Host, m.Target, m.Status)
		for _, h := range append(append([]decode.Header(nil), m.Headers...), m.Trailers...) {
			fmt.Fprintf(&b, "%s: %s\n", h.Name, h.Value)
		}
		data := m.Body
		if body.NeedsDecoding(m.ContentEncoding) {
			d, err := body.Decode(m.ContentEncoding, m.Body, 1<<24)
			if err != nil {
				t.Errorf("decoding %v body: %v", m.ContentEncoding, err) // Errorf: dump runs in goroutines too
			}
			data = d
		}
		b.Write(data)
		b.WriteByte('\n')
		for _, p := range m.Parts {
			b.Write(p.Data)
			b.WriteByte('\n')
		}
	}
	if e.GRPC != nil {
		b.WriteString(e.GRPC.Message + "\n")
	}
	b.WriteString(e.Error)
	return b.String()
}

func assertNone(t *testing.T, where, out string) {
	t.Helper()
	for name, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%s: secret %s (%q) still visible", where, name, s)
		}
	}
}

func assertAll(t *testing.T, where, out string, names ...string) {
	t.Helper()
	for _, name := range names {
		if !strings.Contains(out, secrets[name]) {
			t.Errorf("%s: unmasked output lacks %s (%q)", where, name, secrets[name])
		}
	}
}

// allNames is every secret; the planted exchange carries all of them.
func allNames() []string {
	var out []string
	for n := range secrets {
		out = append(out, n)
	}
	return out
}

func TestExchangeMasksEverywhere(t *testing.T) {
	m := Default()
	bodies := map[string]string{"json": jsonBody(), "form": formBody(), "multipart": multipartBody()}
	for _, coding := range []string{"", "gzip", "deflate", "br", "zstd"} {
		for kind, reqBody := range bodies {
			where := kind + "/" + coding
			if coding == "" {
				where = kind + "/identity"
			}
			t.Run(where, func(t *testing.T) {
				e := plantedExchange(t, reqBody, coding)
				before := dump(t, e)
				assertAll(t, "input", before, allNames()...)

				masked := m.Exchange(e)
				assertNone(t, "masked", dump(t, masked))
				if dump(t, e) != before {
					t.Fatal("Exchange modified its input")
				}
				var off *Masker
				if got := off.Exchange(e); got != e {
					t.Fatal("nil masker must return the exchange as is")
				}
				assertAll(t, "unmasked", dump(t, off.Exchange(e)), allNames()...)

				if !masked.Request.Masked || !masked.Response.Masked || !masked.Interim[0].Masked {
					t.Error("masked messages must be marked")
				}
				if coding != "" && len(masked.Response.ContentEncoding) != 0 {
					t.Errorf("re-rendered body keeps ContentEncoding %v", masked.Response.ContentEncoding)
				}
				if e.Response.ContentEncoding == nil && coding != "" {
					t.Error("input ContentEncoding was cleared")
				}
			})
		}
	}
}

func TestStructureStaysReadable(t *testing.T) {
	m := Default()
	e := m.Exchange(plantedExchange(t, jsonBody(), "gzip"))
	want := map[string]string{
		"Authorization":       "Bearer " + Display,
		"Proxy-Authorization": "Basic " + Display,
		"Cookie":              "session=" + Display + "; theme=" + Display,
		"From":                Display + "@example.com",
		"Content-Type":        "application/json",
		"Host":                "api.example.com",
	}
	for _, h := range e.Request.Headers {
		if w, ok := want[h.Name]; ok && h.Value != w {
			t.Errorf("%s: %q, want %q", h.Name, h.Value, w)
		}
	}
	if got := e.Response.HeaderValue("Set-Cookie"); got != "id="+Display+"; Path=/; HttpOnly" {
		t.Errorf("Set-Cookie: %q", got)
	}
	if got := e.Response.HeaderValue("Content-Encoding"); got != "gzip" {
		t.Errorf("Content-Encoding header must stay as on the wire, got %q", got)
	}
	wantTarget := "/api/login?user=bob&password=" + Display + "&token=" + Display + "&email=" + Display + "%40example.com&next=/home"
	if e.Request.Target != wantTarget {
		t.Errorf("target %q\nwant   %q", e.Request.Target, wantTarget)
	}
	// JSON keeps its shape: same keys at every level, only values change.
	for _, b := range [][]byte{e.Request.Body, e.Response.Body} {
		if !json.Valid(b) {
			t.Fatalf("masked JSON is not JSON: %s", b)
		}
	}
	var orig, got any
	if err := json.Unmarshal([]byte(jsonBody()), &orig); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(e.Response.Body, &got); err != nil {
		t.Fatal(err)
	}
	if a, b := shape(orig), shape(got); a != b {
		t.Errorf("JSON shape changed:\n%s\n%s", a, b)
	}
	if !strings.Contains(string(e.Response.Body), `"name":"bob"`) {
		t.Error("non-secret JSON values must stay")
	}
}

// shape renders the keys and nesting of a JSON value, not its scalars.
func shape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		var b strings.Builder
		b.WriteString("{")
		for _, k := range sortedKeys(x) {
			b.WriteString(k + ":" + shape(x[k]) + ",")
		}
		return b.String() + "}"
	case []any:
		var b strings.Builder
		b.WriteString("[")
		for _, e := range x {
			b.WriteString(shape(e) + ",")
		}
		return b.String() + "]"
	}
	return "_"
}

func sortedKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

func TestPartsAndGRPC(t *testing.T) {
	m := Default()
	proto := append([]byte{0x0a, byte(len(secrets["jwt"]))}, secrets["jwt"]...)
	proto = append(proto, 0x12, 0x10)
	proto = append(proto, secrets["card"]...)
	ws := `{"type":"auth","password":"` + secrets["password"] + `"}`
	e := &decode.Exchange{
		Proto: "grpc",
		Request: &decode.Message{Method: "POST", Target: "/svc.Auth/Login", Parts: []decode.Part{
			{Kind: "grpc", Data: proto, Size: int64(len(proto))},
			{Kind: "text", Data: []byte(ws), FromClient: true},
			{Kind: "binary", Data: []byte{1, 2, 3}},
		}},
		GRPC: &decode.GRPCInfo{Service: "svc.Auth", Method: "Login", Status: 16, Message: "bad token=" + secrets["bearer"]},
		DNS:  &decode.DNSInfo{Name: "alice.smith@example.com"},
	}
	before := dump(t, e)
	got := m.Exchange(e)
	assertNone(t, "parts", dump(t, got))
	if dump(t, e) != before {
		t.Fatal("input modified")
	}
	for i, p := range got.Request.Parts {
		if len(p.Data) != len(e.Request.Parts[i].Data) {
			t.Errorf("part %d changed length %d -> %d", i, len(e.Request.Parts[i].Data), len(p.Data))
		}
	}
	if &got.Request.Parts[2].Data[0] != &e.Request.Parts[2].Data[0] {
		t.Error("an unchanged part should share its bytes")
	}
	if got.DNS != e.DNS {
		t.Error("DNS facts must be left alone")
	}
	if got.Request.Parts[0].Data[0] != 0x0a || got.Request.Parts[0].Data[1] != byte(len(secrets["jwt"])) {
		t.Error("protobuf framing must survive masking")
	}
}

func TestNothingSecretIsFree(t *testing.T) {
	m := Default()
	e := &decode.Exchange{
		Proto: "http/1.1",
		Request: &decode.Message{Method: "GET", Target: "/api/pets?limit=10&max_tokens=5", Host: "x",
			Headers: []decode.Header{{Name: "Accept", Value: "application/json"}, {Name: "User-Agent", Value: "curl/8.4"}}},
		Response: &decode.Message{Status: 200, Body: []byte(`{"pets":[{"id":1,"name":"rex","ts":1700000000000}]}`),
			Headers: []decode.Header{{Name: "Content-Type", Value: "application/json"}}},
	}
	if got := m.Exchange(e); got != e {
		t.Fatal("an exchange without secrets should come back as is")
	}
	if raceEnabled {
		return
	}
	m.Exchange(e) // warm the pool
	if n := testing.AllocsPerRun(100, func() { m.Exchange(e) }); n > 0 {
		t.Errorf("masking an exchange without secrets allocates %.0f times", n)
	}
}

func TestUndecodableBodyIsWithheld(t *testing.T) {
	m := Default()
	e := &decode.Exchange{Response: &decode.Message{
		Status: 200, Body: []byte("password=" + secrets["password"]), ContentEncoding: []string{"gzip"},
	}}
	got := m.Exchange(e)
	if got.Response.Body != nil || !strings.Contains(got.Response.DecodeError, "could not decode") {
		t.Fatalf("undecodable body: body %q, error %q", got.Response.Body, got.Response.DecodeError)
	}
	if e.Response.Body == nil {
		t.Fatal("input modified")
	}
}

func TestBinaryBodyKeepsLength(t *testing.T) {
	m := Default()
	raw := append([]byte{0xff, 0xfe, 0x00}, "card="+secrets["card"]+"\x00\x01"...)
	e := &decode.Exchange{Request: &decode.Message{Body: raw}}
	got := m.Exchange(e)
	if len(got.Request.Body) != len(raw) || bytes.Contains(got.Request.Body, []byte(secrets["card"])) {
		t.Fatalf("binary body: %q", got.Request.Body)
	}
}

func TestHTTP2PseudoHeaders(t *testing.T) {
	m := Default()
	e := &decode.Exchange{Proto: "h2", Request: &decode.Message{
		Method: "GET", Target: "/cb?code=1&access_token=" + secrets["bearer"], Scheme: "https",
		Headers: []decode.Header{
			{Name: ":method", Value: "GET"},
			{Name: ":path", Value: "/cb?code=1&access_token=" + secrets["bearer"]},
			{Name: "authorization", Value: "Bearer " + secrets["jwt"]},
		},
	}}
	got := m.Exchange(e)
	assertNone(t, "h2", dump(t, got))
	if v := got.Request.Headers[1].Value; v != "/cb?code=1&access_token="+Display {
		t.Errorf(":path = %q", v)
	}
	if v := got.Request.Headers[2].Value; v != "Bearer "+Display {
		t.Errorf("authorization = %q", v)
	}
}

// TestConcurrentUse runs one Masker from several goroutines (the UI and
// an export at once); results must match sequential masking.
func TestConcurrentUse(t *testing.T) {
	m := Default()
	inputs := []*decode.Exchange{
		plantedExchange(t, jsonBody(), "gzip"), plantedExchange(t, formBody(), ""),
		plantedExchange(t, multipartBody(), "br"), cleanExchange(),
	}
	want := make([]string, len(inputs))
	for i, e := range inputs {
		want[i] = dump(t, m.Exchange(e))
	}
	done := make(chan string, 4*len(inputs)*20)
	for g := range 4 {
		go func() {
			for r := range 20 {
				i := (g + r) % len(inputs)
				if got := dump(t, m.Exchange(inputs[i])); got != want[i] {
					done <- fmt.Sprintf("goroutine %d: exchange %d differs", g, i)
					continue
				}
				done <- ""
			}
		}()
	}
	for range 4 * 20 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
