package body

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// encode applies one coding with the real encoders, so tests check
// interoperability rather than a round trip through our own code.
func encode(t testing.TB, coding string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "zlib":
		w = zlib.NewWriter(&buf)
	case "rawdeflate":
		w, err = flate.NewWriter(&buf, flate.DefaultCompression)
	case "br":
		w = brotli.NewWriter(&buf)
	case "zstd":
		w, err = zstd.NewWriter(&buf)
	default:
		t.Fatalf("no encoder for %q", coding)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sample() []byte {
	return []byte(strings.Repeat(`{"id":12345,"name":"tapview","tags":["a","b","c"]},`, 200))
}

func TestDecodeEachCoding(t *testing.T) {
	plain := sample()
	cases := []struct {
		header  string
		encoder string
	}{
		{"gzip", "gzip"},
		{"x-gzip", "gzip"},
		{"GZIP", "gzip"},
		{"deflate", "zlib"},       // RFC 9110 deflate: zlib wrapper
		{"deflate", "rawdeflate"}, // what some servers send; browsers accept it
		{"br", "br"},
		{"zstd", "zstd"},
	}
	var reused Decoder
	defer reused.Close()
	for _, c := range cases {
		enc := encode(t, c.encoder, plain)
		got, err := Decode([]string{c.header}, enc, 1<<20)
		if err != nil {
			t.Fatalf("%s/%s: %v", c.header, c.encoder, err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("%s/%s: decoded %d bytes, want %d", c.header, c.encoder, len(got), len(plain))
		}
		n, err := DecodedSize([]string{c.header}, enc, 1<<20)
		if err != nil || n != int64(len(plain)) {
			t.Fatalf("%s/%s: DecodedSize = %d, %v; want %d", c.header, c.encoder, n, err, len(plain))
		}
		// Twice through one Decoder exercises the Reset paths.
		for i := 0; i < 2; i++ {
			got, err := reused.Decode([]string{c.header}, enc, 1<<20)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("reused %s/%s round %d: %d bytes, %v", c.header, c.encoder, i, len(got), err)
			}
		}
	}
}

func TestDecodeStackedOrder(t *testing.T) {
	plain := sample()
	// Content-Encoding: gzip, br means gzip was applied first, then br.
	enc := encode(t, "br", encode(t, "gzip", plain))
	got, err := Decode([]string{"gzip", "br"}, enc, 1<<20)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("gzip,br: %d bytes, %v", len(got), err)
	}
	// The reverse order must fail: the outer layer is br, not gzip.
	if _, err := Decode([]string{"br", "gzip"}, enc, 1<<20); err == nil {
		t.Fatal("br,gzip on a gzip-then-br body: no error")
	}
	// Same coding twice and identity in between; deflate below another
	// layer takes the buffered zlib sniffing path.
	enc2 := encode(t, "gzip", encode(t, "zlib", encode(t, "gzip", plain)))
	var d Decoder
	for i := 0; i < 2; i++ {
		got, err = d.Decode([]string{"gzip", "identity", "deflate", "gzip"}, enc2, 1<<20)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("gzip,identity,deflate,gzip round %d: %d bytes, %v", i, len(got), err)
		}
	}
	enc3 := encode(t, "zstd", encode(t, "zstd", plain))
	got, err = d.Decode([]string{"zstd", "zstd"}, enc3, 1<<20)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("zstd,zstd: %d bytes, %v", len(got), err)
	}
}

func TestDecodeIdentityAndEmpty(t *testing.T) {
	data := []byte("hello")
	for _, c := range [][]string{nil, {}, {"identity"}, {"Identity", "identity"}} {
		got, err := Decode(c, data, 10)
		if err != nil || string(got) != "hello" {
			t.Fatalf("%q: %q, %v", c, got, err)
		}
	}
	got, err := Decode(nil, data, 3)
	if !errors.Is(err, ErrTooLarge) || string(got) != "hel" {
		t.Fatalf("identity over cap: %q, %v", got, err)
	}
	if NeedsDecoding([]string{"identity"}) || !NeedsDecoding([]string{"identity", "gzip"}) {
		t.Fatal("NeedsDecoding wrong")
	}
}

func TestDecodeUnknownCoding(t *testing.T) {
	_, err := Decode([]string{"compress"}, []byte{0x1f, 0x9d, 0x90}, 100)
	if !errors.Is(err, ErrUnknownCoding) || !strings.Contains(err.Error(), `"compress"`) {
		t.Fatalf("err = %v; want ErrUnknownCoding naming compress", err)
	}
	_, err = DecodedSize([]string{"gzip", "snappy"}, []byte("x"), 100)
	if !errors.Is(err, ErrUnknownCoding) || !strings.Contains(err.Error(), "snappy") {
		t.Fatalf("err = %v; want ErrUnknownCoding naming snappy", err)
	}
}

func TestDecodeTooManyCodings(t *testing.T) {
	c := make([]string, 100)
	for i := range c {
		c[i] = "gzip"
	}
	if _, err := Decode(c, []byte("x"), 100); err == nil {
		t.Fatal("100 stacked codings accepted")
	}
}

func TestDecodeTruncated(t *testing.T) {
	plain := sample()
	for _, coding := range []string{"gzip", "zlib", "br", "zstd"} {
		enc := encode(t, coding, plain)
		header := coding
		if coding == "zlib" {
			header = "deflate"
		}
		cut := enc[:len(enc)*2/3]
		got, err := Decode([]string{header}, cut, 1<<20)
		if err == nil {
			t.Fatalf("%s: truncated input decoded without error", coding)
		}
		if !strings.Contains(err.Error(), header) {
			t.Fatalf("%s: error %q does not name the coding", coding, err)
		}
		if !bytes.HasPrefix(plain, got) {
			t.Fatalf("%s: partial output is not a prefix of the original", coding)
		}
		if coding == "gzip" && len(got) == 0 {
			t.Fatalf("gzip: no partial output from 2/3 of the stream")
		}
	}
}

func TestDecodeGzipMembersAndTrailingGarbage(t *testing.T) {
	a, b := []byte("first member "), []byte("second member")
	enc := append(encode(t, "gzip", a), encode(t, "gzip", b)...)
	got, err := Decode([]string{"gzip"}, enc, 1<<20)
	if err != nil || string(got) != "first member second member" {
		t.Fatalf("two members: %q, %v", got, err)
	}
	withJunk := append(encode(t, "gzip", a), "\r\n\x00junk"...)
	got, err = Decode([]string{"gzip"}, withJunk, 1<<20)
	if err != nil || string(got) != string(a) {
		t.Fatalf("trailing garbage: %q, %v", got, err)
	}
	// A bad checksum is still an error.
	bad := encode(t, "gzip", a)
	bad[len(bad)-6] ^= 0xff
	if _, err := Decode([]string{"gzip"}, bad, 1<<20); err == nil {
		t.Fatal("corrupt CRC accepted")
	}
}

func TestDecodeCapExact(t *testing.T) {
	plain := sample()
	enc := encode(t, "gzip", plain)
	got, err := Decode([]string{"gzip"}, enc, int64(len(plain)))
	if err != nil || len(got) != len(plain) {
		t.Fatalf("cap == size: %d, %v", len(got), err)
	}
	got, err = Decode([]string{"gzip"}, enc, int64(len(plain)-1))
	if !errors.Is(err, ErrTooLarge) || len(got) != len(plain)-1 || !bytes.Equal(got, plain[:len(plain)-1]) {
		t.Fatalf("cap == size-1: %d, %v", len(got), err)
	}
	n, err := DecodedSize([]string{"gzip"}, enc, int64(len(plain)-1))
	if !errors.Is(err, ErrTooLarge) || n != int64(len(plain)-1) {
		t.Fatalf("DecodedSize cap == size-1: %d, %v", n, err)
	}
	if !strings.Contains(err.Error(), "capped at") {
		t.Fatalf("ErrTooLarge message does not name the cap: %v", err)
	}
}

func TestCodings(t *testing.T) {
	cases := map[string][]string{
		"":                        nil,
		"gzip":                    {"gzip"},
		" GZip , br ":             {"gzip", "br"},
		"gzip,,identity":          {"gzip", "identity"},
		"deflate;q=1, x-gzip\t":   {"deflate", "x-gzip"},
		" , ":                     nil,
		"chunked":                 {"chunked"},
		"Gzip, Chunked":           {"gzip", "chunked"},
		"zstd ; level=3 ,  br  ;": {"zstd", "br"},
	}
	for in, want := range cases {
		got := Codings(in)
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("Codings(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Codings("gzip") }); n > 1 {
		t.Errorf("Codings(lower-case) allocs = %v, want <= 1", n)
	}
}

func FuzzDecode(f *testing.F) {
	plain := []byte(strings.Repeat("fuzz me please ", 20))
	f.Add(uint8(0), encode(f, "gzip", plain))
	f.Add(uint8(1), encode(f, "zlib", plain))
	f.Add(uint8(1), encode(f, "rawdeflate", plain))
	f.Add(uint8(2), encode(f, "br", plain))
	f.Add(uint8(3), encode(f, "zstd", plain))
	f.Add(uint8(4), encode(f, "br", encode(f, "gzip", plain)))
	f.Add(uint8(5), []byte{})
	names := [][]string{{"gzip"}, {"deflate"}, {"br"}, {"zstd"}, {"gzip", "br"}, {"identity"}, {"deflate", "zstd"}, {"x-gzip", "gzip"}}
	var d Decoder
	f.Fuzz(func(t *testing.T, sel uint8, data []byte) {
		codings := names[int(sel)%len(names)]
		const max = 1 << 16
		out, err := d.Decode(codings, data, max)
		if len(out) > max {
			t.Fatalf("output %d over cap %d", len(out), max)
		}
		n, err2 := d.DecodedSize(codings, data, max)
		if n > max {
			t.Fatalf("size %d over cap", n)
		}
		if (err == nil) != (err2 == nil) || (err == nil && n != int64(len(out))) {
			t.Fatalf("Decode gave %d, %v; DecodedSize gave %d, %v", len(out), err, n, err2)
		}
		if errors.Is(err, ErrTooLarge) != errors.Is(err2, ErrTooLarge) {
			t.Fatalf("ErrTooLarge disagrees: %v vs %v", err, err2)
		}
	})
}

// heapInUse reads the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func BenchmarkDecodedSizeGzipJSON(b *testing.B) {
	enc := encode(b, "gzip", sample())
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for i := 0; i < b.N; i++ {
		if _, err := d.DecodedSize([]string{"gzip"}, enc, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

func TestGzipTrailerSize(t *testing.T) {
	plain := sample()
	enc := encode(t, "gzip", plain)
	if n, ok := GzipTrailerSize(enc); !ok || n != int64(len(plain)) {
		t.Fatalf("GzipTrailerSize = %d, %v; want %d", n, ok, len(plain))
	}
	for _, bad := range [][]byte{nil, []byte("not gzip at all, really not"), enc[:10], encode(t, "zlib", plain)} {
		if _, ok := GzipTrailerSize(bad); ok {
			t.Fatalf("accepted %q", bad)
		}
	}
	lying := bytes.Clone(enc)
	lying[len(lying)-1] = 0x7f // claims ~2 GB from a few hundred bytes
	if _, ok := GzipTrailerSize(lying); ok {
		t.Fatal("accepted an impossible trailer")
	}
}
