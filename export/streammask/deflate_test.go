package streammask

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"testing"
)

// inflateMessage inflates a permessage-deflate message with a window.
func inflateMessage(t *testing.T, b, dict []byte) []byte {
	t.Helper()
	r := flate.NewReaderDict(io.MultiReader(bytes.NewReader(b), bytes.NewReader([]byte{0, 0, 0xff, 0xff})), dict)
	out, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

func TestStarDeflateIsExactAndValid(t *testing.T) {
	feasible := 0
	for _, tc := range []struct{ m, n int }{
		{1, 0}, {2, 0}, {2, 1}, {3, 5}, {5, 3}, {7, 40}, {20, 20}, {40, 300}, {64, 4000}, {100, 17}, {300, 1000}, {1000, 100000}, {2000, 999},
	} {
		for _, final := range []bool{false, true} {
			d, ok := starDeflate(tc.m, tc.n, final)
			if !ok {
				t.Logf("m=%d n=%d final=%v: not possible", tc.m, tc.n, final)
				continue
			}
			feasible++
			if len(d) != tc.m {
				t.Fatalf("m=%d n=%d: got %d bytes", tc.m, tc.n, len(d))
			}
			var out []byte
			if final {
				var err error
				out, err = io.ReadAll(flate.NewReader(bytes.NewReader(d)))
				if err != nil {
					t.Fatalf("m=%d n=%d final: %v", tc.m, tc.n, err)
				}
			} else {
				out = inflateMessage(t, d, []byte("an earlier message in the window"))
			}
			if !bytes.Equal(out, stars(tc.n)) {
				t.Fatalf("m=%d n=%d final=%v: inflates to %q", tc.m, tc.n, final, out)
			}
		}
	}
	if feasible < 18 {
		t.Errorf("only %d cases feasible", feasible)
	}
}

func TestGzipAndZlibStars(t *testing.T) {
	for _, tc := range []struct{ m, n int }{{40, 12}, {86, 70}, {200, 5000}} {
		g, ok := gzipStars(tc.m, tc.n)
		if !ok || len(g) != tc.m {
			t.Fatalf("gzip %v: ok=%v len=%d", tc, ok, len(g))
		}
		zr, err := gzip.NewReader(bytes.NewReader(g))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := io.ReadAll(zr); err != nil || !bytes.Equal(out, stars(tc.n)) {
			t.Fatalf("gzip %v: %q %v", tc, out, err)
		}
		z, ok := zlibStars(tc.m, tc.n)
		if !ok || len(z) != tc.m {
			t.Fatalf("zlib %v", tc)
		}
		lr, err := zlib.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		if out, err := io.ReadAll(lr); err != nil || !bytes.Equal(out, stars(tc.n)) {
			t.Fatalf("zlib %v: %q %v", tc, out, err)
		}
	}
}

// TestFillRecipeMakesTheSameFiller checks the contract fillRecipe rests
// on: made again from the original's length and first two bytes, a
// filler is byte for byte the one pass one checked.
func TestFillRecipeMakesTheSameFiller(t *testing.T) {
	plain := bytes.Repeat([]byte(`{"card":"4111111111111111","n":1234567},`), 40)
	var gz, zl, raw bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(plain)
	gw.Close()
	zw := zlib.NewWriter(&zl)
	zw.Write(plain)
	zw.Close()
	fw, _ := flate.NewWriter(&raw, flate.BestSpeed)
	fw.Write(plain)
	fw.Close()
	for _, tc := range []struct {
		name    string
		codings []string
		orig    []byte
	}{
		{"gzip", []string{"gzip"}, gz.Bytes()},
		{"zlib", []string{"deflate"}, zl.Bytes()},
		{"raw deflate", []string{"deflate"}, raw.Bytes()},
	} {
		f := func(orig []byte, n int) []byte { return bodyFiller(tc.codings, orig, n) }
		want := f(tc.orig, len(plain))
		if len(want) != len(tc.orig) {
			t.Fatalf("%s: no filler of %d bytes", tc.name, len(tc.orig))
		}
		r := &fillRecipe{filler: f, m: len(tc.orig), n: len(plain)}
		copy(r.head[:], tc.orig)
		if got := r.bytes(); !bytes.Equal(got, want) {
			t.Errorf("%s: the recipe made a different filler", tc.name)
		}
	}
}
