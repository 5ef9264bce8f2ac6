package body

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// zeroReader yields n zero bytes without holding them.
type zeroReader struct{ n int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

// bomb compresses size zero bytes through a pipe, so the plain stream is
// never in memory; only the compressed form (about size/1000) is returned.
func bomb(t testing.TB, size int64, newWriter func(io.Writer) io.WriteCloser) []byte {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		w := newWriter(pw)
		_, err := io.Copy(w, &zeroReader{n: size})
		if err == nil {
			err = w.Close()
		}
		pw.CloseWithError(err)
	}()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, pr); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

func checkBomb(t *testing.T, coding string, enc []byte, plainSize int64) {
	t.Helper()
	const max = 8 << 20
	before := totalAlloc()
	out, err := Decode([]string{coding}, enc, max)
	allocated := totalAlloc() - before
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%s bomb (%d -> %d bytes): err = %v, want ErrTooLarge", coding, len(enc), plainSize, err)
	}
	if len(out) != max {
		t.Fatalf("%s bomb: %d bytes out, want the %d-byte prefix", coding, len(out), max)
	}
	for _, b := range out {
		if b != 0 {
			t.Fatalf("%s bomb: prefix is not the zeros that were compressed", coding)
		}
	}
	if allocated > 40<<20 {
		t.Fatalf("%s bomb: Decode allocated %d MB for an %d MB cap", coding, allocated>>20, max>>20)
	}
	before = totalAlloc()
	n, err := DecodedSize([]string{coding}, enc, max)
	allocated = totalAlloc() - before
	if !errors.Is(err, ErrTooLarge) || n != max {
		t.Fatalf("%s bomb: DecodedSize = %d, %v", coding, n, err)
	}
	if allocated > 20<<20 {
		t.Fatalf("%s bomb: DecodedSize allocated %d MB", coding, allocated>>20)
	}
	t.Logf("%s: %d compressed bytes for %d plain; Decode stopped at %d", coding, len(enc), plainSize, max)
}

func TestGzipBomb1GB(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses 1 GB")
	}
	const size = 1 << 30
	enc := bomb(t, size, func(w io.Writer) io.WriteCloser {
		z, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		return z
	})
	if len(enc) > 20<<20 {
		t.Fatalf("bomb did not compress: %d bytes", len(enc))
	}
	checkBomb(t, "gzip", enc, size)
}

func TestBrotliAndZstdBombs(t *testing.T) {
	const size = 256 << 20
	br := bomb(t, size, func(w io.Writer) io.WriteCloser { return brotli.NewWriterLevel(w, 1) })
	checkBomb(t, "br", br, size)
	zs := bomb(t, size, func(w io.Writer) io.WriteCloser {
		z, _ := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		return z
	})
	checkBomb(t, "zstd", zs, size)
}

func TestZstdHugeWindowRefused(t *testing.T) {
	// A frame asking for a 1 GB window must be refused, not allocated.
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, zstd.WithWindowSize(1<<29), zstd.WithSingleSegment(false), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, &zeroReader{n: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	before := totalAlloc()
	_, err = Decode([]string{"zstd"}, buf.Bytes(), 1<<30)
	if allocated := totalAlloc() - before; allocated > 64<<20 {
		t.Fatalf("allocated %d MB for a huge-window frame", allocated>>20)
	}
	if err == nil {
		t.Fatal("a frame declaring a 512 MB window decoded without error")
	}
	t.Logf("refused: %v", err)
}
