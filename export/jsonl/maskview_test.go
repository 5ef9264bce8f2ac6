package jsonl

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/http2"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/decode/ws"
	"github.com/tapview/tapview/sources"
)

// collect keeps final exchanges.
type collect struct{ xs []*decode.Exchange }

func (c *collect) Flow(*decode.Flow) {}
func (c *collect) Exchange(e *decode.Exchange) {
	if e.State.Final() {
		c.xs = append(c.xs, e)
	}
}
func (c *collect) Note(sources.Status) {}

func gz(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// plantedExchanges carry secrets in headers, targets and (gzip and plain)
// bodies, and bodies a masker cannot decode, including one whose gzip
// trailer claims a decoded size of 0.
func plantedExchanges(t testing.TB) []*decode.Exchange {
	secret := `{"user":"ada@example.com","password":"hunter2","card":"4111 1111 1111 1111","token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"}`
	good := gz(t, secret)
	corrupt := append([]byte(nil), good...)
	corrupt[12] ^= 0xff
	zeroTrailer := append([]byte(nil), corrupt...)
	binary.LittleEndian.PutUint32(zeroTrailer[len(zeroTrailer)-4:], 0)
	var out []*decode.Exchange
	for i, b := range []struct {
		body    []byte
		enc     []string
		decoded int64
	}{
		{[]byte(secret), nil, int64(len(secret))},
		{good, []string{"gzip"}, int64(len(secret))},
		{corrupt, []string{"gzip"}, int64(len(secret))},
		{zeroTrailer, []string{"gzip"}, 0},
		{corrupt, []string{"gzip"}, -1},
	} {
		e := sample()
		e.ID = uint64(i + 1)
		e.Request.Target = "/login?api_key=sk_live_abcdefghijklmnop&next=/"
		e.Request.Headers = append(e.Request.Headers, decode.Header{Name: "Authorization", Value: "Bearer abc.def.ghi"})
		e.Request.Body, e.Request.BodySize, e.Request.DecodedSize, e.Request.ContentEncoding = b.body, int64(len(b.body)), b.decoded, b.enc
		e.Response.Body, e.Response.BodySize, e.Response.DecodedSize, e.Response.ContentEncoding = b.body, int64(len(b.body)), b.decoded, b.enc
		out = append(out, e)
	}
	return out
}

// corpusExchanges decodes the HTTP captures of the shared corpus.
func corpusExchanges(t *testing.T) []*decode.Exchange {
	names, err := filepath.Glob(filepath.Join(corpustest.Dir(t), "*.pcap*"))
	if err != nil {
		t.Fatal(err)
	}
	c := &collect{}
	for _, n := range names {
		base := filepath.Base(n)
		if !strings.HasPrefix(base, "http") && !strings.HasPrefix(base, "h2c") && !strings.HasPrefix(base, "grpc") && !strings.HasPrefix(base, "websocket") {
			continue
		}
		pkts := corpustest.Read(t, base)
		d := tcp.NewDecoder(c, tcp.Config{Parsers: []decode.Parser{http1.NewWithOptions(http1.Options{GzipTrailerSizes: true}), http2.New(), ws.New()}})
		for i := range pkts {
			d.Packet(&pkts[i])
		}
		d.Finish(time.Time{})
	}
	return c.xs
}

// TestMaskInputKeepsLines checks that masking without bodies prints the
// same lines as masking whole exchanges.
func TestMaskInputKeepsLines(t *testing.T) {
	if _, err := os.Stat(corpustest.Dir(t)); err != nil {
		t.Skip("no corpus")
	}
	m := mask.Default()
	xs := append(plantedExchanges(t), corpusExchanges(t)...)
	if len(xs) < 50 {
		t.Fatalf("only %d exchanges to compare", len(xs))
	}
	for _, e := range xs {
		want := AppendExchange(nil, m.Exchange(e))
		var sc maskScratch
		got := AppendExchange(nil, m.Exchange(maskInput(e, false, &sc)))
		if !bytes.Equal(got, want) {
			t.Errorf("exchange %d:\n got %s\nwant %s", e.ID, got, want)
		}
		if maskInput(e, true, &sc) != e {
			t.Errorf("exchange %d: bodies requested but the masker gets a copy", e.ID)
		}
	}
}
