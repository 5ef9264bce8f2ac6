package packets

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
	"time"

	xhttp2 "golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/http2"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
)

// h2Conversation returns the client and server bytes of one h2c (prior
// knowledge) request carrying planted secrets in HPACK-coded headers.
func h2Conversation(t testing.TB) (client, server []byte) {
	t.Helper()
	var cb, sb bytes.Buffer
	cb.WriteString(xhttp2.ClientPreface)
	cf, sf := xhttp2.NewFramer(&cb, nil), xhttp2.NewFramer(&sb, nil)
	must(t, cf.WriteSettings())
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: "api.example.com"}, {Name: ":path", Value: "/v1/items?api_key=" + plantAPIKey},
		{Name: "authorization", Value: "Bearer " + plantJWT},
		{Name: "x-contact", Value: plantEmail},
	} {
		must(t, enc.WriteField(f))
	}
	must(t, cf.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}))
	must(t, sf.WriteSettings())
	must(t, sf.WriteSettingsAck())
	hb.Reset()
	enc = hpack.NewEncoder(&hb)
	for _, f := range []hpack.HeaderField{
		{Name: ":status", Value: "200"}, {Name: "content-type", Value: "text/plain"},
		{Name: "set-cookie", Value: "session=" + plantCookie + "; Path=/"},
	} {
		must(t, enc.WriteField(f))
	}
	must(t, sf.WriteHeaders(xhttp2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true}))
	must(t, sf.WriteData(1, true, []byte("card "+plantCard+"\n")))
	return cb.Bytes(), sb.Bytes()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// exchangesOf decodes packets and returns the final exchanges.
func exchangesOf(t *testing.T, pkts []sources.Packet) []*decode.Exchange {
	t.Helper()
	var out exOutput
	d := tcp.NewDecoder(&out, tcp.Config{Parsers: []decode.Parser{http1.New(), http2.New()}})
	var last time.Time
	for i := range pkts {
		p := pkts[i]
		p.Data = bytes.Clone(p.Data)
		d.Packet(&p)
		last = p.Timestamp
	}
	d.Finish(last)
	return out.ex
}

type exOutput struct{ ex []*decode.Exchange }

func (o *exOutput) Flow(*decode.Flow) {}
func (o *exOutput) Exchange(e *decode.Exchange) {
	if e.State.Final() {
		o.ex = append(o.ex, e)
	}
}
func (o *exOutput) Note(sources.Status) {}

func TestHTTP2HuffmanCodedSecretsDecodeAsAsterisks(t *testing.T) {
	req, resp := h2Conversation(t)
	if !bytes.Contains(req, hpack.AppendHuffmanString(nil, "Bearer "+plantJWT)) {
		t.Fatal("the test's HPACK encoder did not Huffman-code the authorization value")
	}
	for _, mss := range []int{1448, 13} {
		in := number(connPackets(t, "10.1.0.1:50000", "10.1.0.2:8080", mss, t0, req, resp))
		plan := NewPlan(true, mask.Default())
		pass1(t, in, plan, CollectOptions{})
		file, _ := pass2(t, in, plan, nil, Options{})
		out := readBack(t, file)
		checksumsOK(t, out)
		raw := append(file, payloads(out)...)
		for _, s := range []string{"Bearer " + plantJWT, "/v1/items?api_key=" + plantAPIKey, plantEmail, "session=" + plantCookie + "; Path=/"} {
			if code := hpack.AppendHuffmanString(nil, s); bytes.Contains(raw, code) {
				t.Errorf("mss %d: Huffman code of %.20q… survived", mss, s)
			}
		}
		if got := leaked(raw, planted); len(got) > 0 {
			t.Errorf("mss %d: secrets survived: %v", mss, got)
		}
		// The masked capture still decodes: same exchange, values as
		// asterisks, HPACK state intact for the response.
		exs := exchangesOf(t, out)
		if len(exs) != 1 || exs[0].Status() != 200 || exs[0].Request == nil {
			t.Fatalf("mss %d: masked capture decodes to %d exchanges", mss, len(exs))
		}
		// The scheme stays; the token is filler of the same coded
		// length (mostly '*').
		auth := exs[0].Request.HeaderValue("authorization")
		if tok, ok := strings.CutPrefix(auth, "Bearer "); !ok || strings.Count(tok, "*") < len(tok)-2 {
			t.Errorf("mss %d: authorization decodes as %q, want Bearer and asterisks", mss, auth)
		}
		if ck := exs[0].Response.HeaderValue("set-cookie"); strings.Contains(ck, plantCookie) || ck == "" {
			t.Errorf("mss %d: set-cookie decodes as %q", mss, ck)
		}
		if got := exs[0].Request.HeaderValue(":authority"); got != "api.example.com" {
			t.Errorf("mss %d: :authority %q: masking touched a clean header", mss, got)
		}
	}
}

func TestCompressedBodyWithSecretIsWipedAndSaidSo(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"items":[1,2,3],"password":"` + plantPassword + `","note":"` + strings.Repeat("padding ", 200) + `"}`))
	zw.Close()
	resp := append([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: "+itoa(gz.Len())+"\r\n\r\n"), gz.Bytes()...)
	in := number(connPackets(t, "10.0.0.1:40001", "10.0.0.2:80", 100, t0, []byte("GET /x HTTP/1.1\r\nHost: h\r\n\r\n"), resp))
	for _, follow := range []bool{true, false} {
		plan := NewPlan(true, mask.Default())
		if follow {
			pass1(t, in, plan, CollectOptions{})
			if st := plan.Stats(); st.StreamWiped != 1 || st.WipedBodies != 0 {
				t.Fatalf("stats %+v, want one unit wiped by the stream walk", st)
			}
			if c := SectionComment("tapview", plan, 0, false); !strings.Contains(c, "1 units are overwritten whole") {
				t.Errorf("section comment %q does not say a body was wiped", c)
			}
		} else {
			pass1Decoder(t, in, plan, CollectOptions{})
			if plan.Stats().WipedBodies != 1 {
				t.Fatalf("stats %+v, want one wiped body", plan.Stats())
			}
			if c := SectionComment("tapview", plan, 0, false); !strings.Contains(c, "1 content-encoded bodies that held secrets are overwritten") {
				t.Errorf("section comment %q does not say a body was wiped", c)
			}
		}
		file, res := pass2(t, in, plan, nil, Options{})
		out := readBack(t, file)
		checksumsOK(t, out)
		text := payloads(out)
		// Nothing of the compressed body longer than a piece is left.
		for i := 0; i+pieceLen <= gz.Len(); i += 4 {
			if strings.Contains(text, string(gz.Bytes()[i:i+pieceLen])) {
				t.Fatalf("follow %v: compressed bytes at %d survived", follow, i)
			}
		}
		if !strings.Contains(text, "Content-Encoding: gzip\r\n") {
			t.Error("headers of the wiped response were damaged")
		}
		if follow {
			// The body is gzip still, of '*', and its first packet says so.
			if res.Comments == 0 || !bytes.Contains(file, []byte("overwritten whole: compressed and held a secret")) {
				t.Error("no packet comment says the body was overwritten")
			}
			body := []byte(text[strings.Index(text, "\r\n\r\n")+4:])
			body = body[bytes.Index(body, []byte("\r\n\r\n"))+4:]
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if plain, err := io.ReadAll(zr); err != nil || strings.Trim(string(plain), "*") != "" {
				t.Errorf("wiped body inflates to %.40q, %v", plain, err)
			}
		}
	}
}
