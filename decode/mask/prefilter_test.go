package mask

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tapview/tapview/bench/tapdecode"
	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/pipeline"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// slowTwin returns a masker with the same rules as m and the prefilters
// off: every scanner runs on every value, as before they existed.
func slowTwin(m *Masker) *Masker {
	s := &Masker{headers: m.headers, params: m.params, fields: m.fields, patterns: m.patterns,
		names: m.names, maxBody: m.maxBody, slow: true}
	return s
}

// maskers are the rule sets the differential tests compare: the
// built-in rules, the example rules file (literal and regex patterns,
// disabled rules), and every built-in pattern disabled but one at a time
// would be many; disabling all patterns leaves the structural scanners
// alone.
func maskers(t testing.TB) map[string]*Masker {
	out := map[string]*Masker{"default": Default()}
	f, err := os.Open("testdata/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadRules(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if out["rules.yaml"], err = New(WithRules(r)); err != nil {
		t.Fatal(err)
	}
	var pats []string
	for _, n := range BuiltinNames() {
		if strings.HasPrefix(n, "pattern:") {
			pats = append(pats, n)
		}
	}
	if out["no-patterns"], err = New(WithRules(Rules{Disable: pats})); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameMasking checks that fast and slow give the same result for in as
// raw bytes, as display text and, with headers set, as the value of a
// few headers.
func sameMasking(t testing.TB, name string, fast, slow *Masker, in []byte, headers bool) {
	t.Helper()
	a, b := bytes.Clone(in), bytes.Clone(in)
	na, nb := fast.MaskInPlace(a), slow.MaskInPlace(b)
	if na != nb || !bytes.Equal(a, b) {
		t.Fatalf("%s: MaskInPlace differs on %q:\nfast %d %q\nslow %d %q", name, in, na, a, nb, b)
	}
	if x, y := fast.Text(string(in)), slow.Text(string(in)); x != y {
		t.Fatalf("%s: Text differs on %q:\nfast %q\nslow %q", name, in, x, y)
	}
	if !headers {
		return
	}
	for _, h := range []string{"X-Trace", "Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "Content-Type"} {
		if x, y := fast.Header(h, string(in)), slow.Header(h, string(in)); x != y {
			t.Fatalf("%s: Header(%s) differs on %q:\nfast %q\nslow %q", name, h, in, x, y)
		}
	}
}

// sameExchange checks that fast and slow mask an exchange alike.
func sameExchange(t testing.TB, name string, fast, slow *Masker, e *decode.Exchange) {
	t.Helper()
	x, y := fast.Exchange(e), slow.Exchange(e)
	if !reflect.DeepEqual(x, y) {
		t.Fatalf("%s: Exchange %d differs:\nfast %+v\nslow %+v", name, e.ID, x, y)
	}
	if (x == e) != (y == e) {
		t.Fatalf("%s: Exchange %d: one copied, the other did not", name, e.ID)
	}
}

// fragments are the pieces the generated inputs are made of: every
// secret shape, near misses, the bytes the prefilters look for, and
// lengths around their minimums.
func fragments() []string {
	fr := []string{
		"", " ", "\r\n", "\n\n", "=", "==", ":", `"`, `\"`, "@", "%40", "%3A%2F%2F", "%3a%2f%2f", "//", `\/\/`, "/", "_", "-", ".",
		"A", "S", "J", "P", "b", "B", "{", "}", "[", "]", ",", "&", ";", "%", "'", "\\", "\t", "0", "9",
		"Bearer ", "bearer", "Basic ", "eyJ", "eyJhbGciOi", ".eyJzdWIiOi.", "c2ln", "AKIA", "ASIA", "IOSFODNN7EXAMPLE",
		"4111111111111111", "4111 1111 1111 1111", "5500-0000-0000-0004", "411111111111", "1700000000000", "12345678901234",
		"alice.smith", "@example.com", "@localhost", "https://", "user:pa55@", "redis://:s3cret@cache",
		"password", "token", "api_key", "apiKey", "p\\u0061ssword", "pass%77ord", "cvv", "ssn", "card", "sig", "X-Amz-Signature",
		"Content-Disposition: form-data; name=\"password\"\r\n\r\n", "name*=UTF-8''pass%77ord", "--b",
		"Authorization: ", "Cookie: a=b; c=d", "Set-Cookie: id=x; Path=/", "X-Api-Key: ",
		"-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "PRIVATE KEY",
		"AIza", "ghp_", "github_pat_", "glpat-", "xoxb-", "hooks.slack.com/services/", "sk_live_", "whsec_", "npm_",
		"pypi-AgEIcHlwaS5vcmc", "sk-proj-", "sk-ant-", "SG.", "correct-horse-battery", "DE89370400440532013000", "emp-id:123456",
		"otp", "date_of_birth", "X-Session",
	}
	// The shortest value each finder masks: a prefilter asking for one
	// byte more would skip them.
	fr = append(fr, "eyJa.bcde.", "bearer abcdefgh", "AKIAIOSFODNN7EXAMPLE", "4222222222222", "a@b.cd", "a%40b.cd",
		"//a:b@", "%3a%2f%2fa%3ab%40", "-----BEGIN PRIVATE KEY-----x", "a=b", `"a":1`, "a:b", `{"password":"x"}`, "password=x", "Cookie: a=b", "correct-horse-battery",
		"xoxb-"+fake("a1", 10), "AIza"+fake("a1", 35), "SG."+fake("a1", 66), "ghp_"+fake("a1", 36), "npm_"+fake("a1", 36),
		"hooks.slack.com/services/"+fake("a1", 20), "glpat-"+fake("a1", 20), "sk_live_"+fake("a1", 16), "whsec_"+fake("a1", 16),
		"pypi-AgEIcHlwaS5vcmc"+fake("a1", 40), "sk-ant-"+fake("a1", 32), "DE89370400440532013000", "emp-id:123456")
	for _, s := range secrets {
		fr = append(fr, s)
	}
	fr = append(fr, tokenSecrets...)
	// Token bodies of every length around the shapes' minimums.
	for _, n := range []int{8, 9, 10, 15, 16, 19, 20, 32, 35, 36, 40, 66} {
		fr = append(fr, fake("a1B2c3D4e5", n-1), fake("a1B2c3D4e5", n), fake("a1B2c3D4e5", n+1))
	}
	return fr
}

// generated returns n inputs glued from fragments, seeded.
func generated(n int) [][]byte {
	r := rand.New(rand.NewPCG(16, 17))
	fr := fragments()
	out := make([][]byte, 0, n)
	for range n {
		var b []byte
		for k := r.IntN(8) + 1; k > 0; k-- {
			b = append(b, fr[r.IntN(len(fr))]...)
		}
		out = append(out, b)
	}
	return out
}

// TestPrefilterSameResult proves the prefilters change nothing: on the
// test inputs, on generated combinations of secret shapes and near
// misses, and on every exchange and packet payload of the corpus, a
// masker with prefilters masks exactly what one without them masks.
func TestPrefilterSameResult(t *testing.T) {
	inputs := [][]byte{[]byte(rawHTTP()), []byte(jsonBody()), []byte(formBody()), []byte(multipartBody()),
		[]byte(plantedLines()), []byte(tokenLines())}
	for _, f := range fragments() {
		inputs = append(inputs, []byte(f))
	}
	n := 20000
	if testing.Short() || raceEnabled {
		n = 2000
	}
	inputs = append(inputs, generated(n)...)
	for name, m := range maskers(t) {
		slow := slowTwin(m)
		for _, in := range inputs {
			sameMasking(t, name, m, slow, in, true)
		}
		for _, coding := range []string{"", "gzip"} {
			e := plantedExchange(t, jsonBody(), coding)
			sameExchange(t, name, m, slow, e)
		}
	}
}

// TestPrefilterSameResultCorpus decodes every capture of the shared
// corpus and compares fast and slow masking of each exchange, each
// header line as raw text and each packet payload.
func TestPrefilterSameResultCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus")
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if len(files) == 0 {
		t.Skipf("no corpus at %s", dir)
	}
	ms := maskers(t)
	if testing.Short() || raceEnabled {
		// Under -race (CI) the built-in rules only, so the test stays in
		// seconds; the rule variants run without -race.
		ms = map[string]*Masker{"default": ms["default"]}
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			xs := &collect{}
			src, err := pcapfile.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			payloads := &payloadTap{Source: src}
			d := tapdecode.NewDecoder(xs)
			if err := pipeline.Run(context.Background(), []pipeline.Input{{Source: payloads}}, d, pipeline.Options{Notes: xs}); err != nil {
				t.Fatal(err)
			}
			for name, m := range ms {
				slow := slowTwin(m)
				for _, e := range xs.xs {
					sameExchange(t, name, m, slow, e)
					for _, msg := range []*decode.Message{e.Request, e.Response} {
						if msg == nil {
							continue
						}
						var raw []byte
						for _, h := range msg.Headers {
							raw = append(append(append(append(raw, h.Name...), ": "...), h.Value...), "\r\n"...)
						}
						sameMasking(t, name, m, slow, raw, false)
						sameMasking(t, name, m, slow, []byte(msg.Target), true)
						sameMasking(t, name, m, slow, msg.Body[:min(len(msg.Body), 64<<10)], false)
						for _, h := range msg.Headers {
							if x, y := m.Header(h.Name, h.Value), slow.Header(h.Name, h.Value); x != y {
								t.Fatalf("%s: Header(%s, %q): fast %q, slow %q", name, h.Name, h.Value, x, y)
							}
						}
					}
				}
				step := 1
				if testing.Short() || raceEnabled {
					step = 4 // a quarter of the frames keeps -race in seconds
				}
				for i := 0; i < len(payloads.data); i += step {
					sameMasking(t, name, m, slow, payloads.data[i], false)
				}
			}
			t.Logf("%d exchanges, %d frames", len(xs.xs), len(payloads.data))
		})
	}
}

// collect keeps the final exchanges of a decode.
type collect struct{ xs []*decode.Exchange }

func (c *collect) Flow(*decode.Flow) {}
func (c *collect) Exchange(e *decode.Exchange) {
	if e.State.Final() {
		c.xs = append(c.xs, e)
	}
}
func (c *collect) Note(sources.Status) {}

// payloadTap keeps a copy of every frame a source emits (headers
// included: the scanners see the bytes as pcap export would, plus some).
type payloadTap struct {
	sources.Source
	data [][]byte
}

func (p *payloadTap) Run(ctx context.Context, emit sources.Emitter) error {
	return p.Source.Run(ctx, &tapEmit{Emitter: emit, p: p})
}

type tapEmit struct {
	sources.Emitter
	p *payloadTap
}

func (e *tapEmit) Packet(pk sources.Packet) {
	e.p.data = append(e.p.data, bytes.Clone(pk.Data))
	e.Emitter.Packet(pk)
}

// FuzzPrefilterSameResult compares masking with and without prefilters
// on arbitrary input, alone and glued to a fragment.
func FuzzPrefilterSameResult(f *testing.F) {
	for _, s := range []string{rawHTTP(), jsonBody(), formBody(), multipartBody(), plantedLines(), tokenLines()} {
		f.Add([]byte(s), uint8(0))
	}
	for i, b := range generated(64) {
		f.Add(b, uint8(i))
	}
	ms := maskers(f)
	fr := fragments()
	f.Fuzz(func(t *testing.T, in []byte, k uint8) {
		for name, m := range ms {
			slow := slowTwin(m)
			sameMasking(t, name, m, slow, in, true)
			glued := append(bytes.Clone(in), fr[int(k)%len(fr)]...)
			sameMasking(t, name, m, slow, glued, true)
		}
	})
}
