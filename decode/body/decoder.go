package body

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"

	"github.com/tapview/tapview/decode"
)

// zstdMaxWindow is the largest zstd window accepted. RFC 8878 §3.1.1.1.2
// asks HTTP encoders to stay within 8 MiB, so larger windows are refused
// rather than allocated.
const zstdMaxWindow = 8 << 20

// Decoder undoes content codings like Decode, keeping its decompressors
// between calls so a connection with many small compressed bodies does not
// allocate a fresh inflater (tens of kilobytes) per body. The zero value
// is ready to use. A Decoder is not safe for concurrent use.
type Decoder struct {
	gz      *gzip.Reader
	zl      io.ReadCloser // implements zlib.Resetter
	fl      io.ReadCloser // implements flate.Resetter
	br      *brotli.Reader
	zs      *zstd.Decoder
	src     bytes.Reader
	gzTol   tolerantGzip
	gzBuf   *bufio.Reader
	names   [maxCodings]namedReader
	scratch []byte
	used    uint8 // kinds already taken by the chain being built
}

const (
	usedGzip uint8 = 1 << iota
	usedZlib
	usedFlate
	usedBrotli
	usedZstd
)

// Decode is the reusable form of the package-level Decode.
func (d *Decoder) Decode(codings []string, data []byte, max int64) ([]byte, error) {
	if max <= 0 {
		max = DefaultMax
	}
	if !NeedsDecoding(codings) {
		if int64(len(data)) > max {
			return data[:max], tooLarge(max)
		}
		return data, nil
	}
	r, err := d.chain(codings, data)
	defer d.release()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, initialCap(codings, data, max))
	return readCapped(r, out, max)
}

// DecodedSize is the reusable form of the package-level DecodedSize.
func (d *Decoder) DecodedSize(codings []string, data []byte, max int64) (int64, error) {
	if max <= 0 {
		max = DefaultMax
	}
	if !NeedsDecoding(codings) {
		if int64(len(data)) > max {
			return max, tooLarge(max)
		}
		return int64(len(data)), nil
	}
	r, err := d.chain(codings, data)
	defer d.release()
	if err != nil {
		return 0, err
	}
	if d.scratch == nil {
		d.scratch = make([]byte, 32<<10)
	}
	return countCapped(r, d.scratch, max)
}

// Close releases the decompressors' resources. The Decoder may be used
// again afterwards; it then allocates new ones.
func (d *Decoder) Close() {
	if d.zs != nil {
		d.zs.Close()
	}
	*d = Decoder{}
}

// release drops references to the last input so a pooled Decoder does not
// pin a body in memory.
func (d *Decoder) release() {
	d.src.Reset(nil)
	if d.zs != nil {
		_ = d.zs.Reset(nil)
	}
	for i := range d.names {
		d.names[i] = namedReader{}
	}
	d.gzTol = tolerantGzip{}
	if d.gzBuf != nil {
		d.gzBuf.Reset(nil)
	}
}

// chain stacks one reader per coding, innermost (last applied) first.
func (d *Decoder) chain(codings []string, data []byte) (io.Reader, error) {
	if len(codings) > maxCodings {
		return nil, fmt.Errorf("body: %d stacked codings, at most %d supported", len(codings), maxCodings)
	}
	d.used = 0
	d.src.Reset(data)
	var r io.Reader = &d.src
	inner := true // r is still the raw input, so data can be inspected directly
	for i := len(codings) - 1; i >= 0; i-- {
		c := codings[i]
		if isIdentity(c) {
			continue
		}
		next, err := d.layer(c, r, data, inner)
		if err != nil {
			return nil, &codingError{coding: lower(c), err: err}
		}
		d.names[i] = namedReader{r: next, coding: lower(c)}
		r = &d.names[i]
		inner = false
	}
	return r, nil
}

// layer returns a reader undoing one coding over r.
func (d *Decoder) layer(c string, r io.Reader, data []byte, inner bool) (io.Reader, error) {
	switch {
	case decode.EqualFoldASCII(c, "gzip"), decode.EqualFoldASCII(c, "x-gzip"):
		first := d.used&usedGzip == 0
		var src *bufio.Reader
		if first && d.gzBuf != nil {
			d.gzBuf.Reset(r)
			src = d.gzBuf
		} else {
			src = bufio.NewReaderSize(r, 4096)
			if first {
				d.gzBuf = src
			}
		}
		z, err := d.gzipReader(src)
		if err != nil {
			return nil, err
		}
		z.Multistream(false)
		if first && z == d.gz {
			d.used |= usedGzip
			d.gzTol = tolerantGzip{z: z, src: src}
			return &d.gzTol, nil
		}
		return &tolerantGzip{z: z, src: src}, nil
	case decode.EqualFoldASCII(c, "deflate"):
		var head []byte
		if inner {
			head = data
		} else {
			br := bufio.NewReader(r)
			head, _ = br.Peek(2)
			r = br
		}
		if isZlibHeader(head) {
			return d.zlibReader(r)
		}
		return d.flateReader(r), nil
	case decode.EqualFoldASCII(c, "br"):
		return d.brotliReader(r), nil
	case decode.EqualFoldASCII(c, "zstd"):
		return d.zstdReader(r)
	}
	return nil, fmt.Errorf("%q: %w", c, ErrUnknownCoding)
}

func (d *Decoder) gzipReader(r io.Reader) (*gzip.Reader, error) {
	if d.used&usedGzip == 0 && d.gz != nil {
		if err := d.gz.Reset(r); err != nil {
			return nil, err
		}
		return d.gz, nil
	}
	z, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	if d.gz == nil {
		d.gz = z
	}
	return z, nil
}

func (d *Decoder) zlibReader(r io.Reader) (io.Reader, error) {
	if d.used&usedZlib == 0 && d.zl != nil {
		d.used |= usedZlib
		if err := d.zl.(zlib.Resetter).Reset(r, nil); err != nil {
			return nil, err
		}
		return d.zl, nil
	}
	z, err := zlib.NewReader(r)
	if err != nil {
		return nil, err
	}
	if d.zl == nil {
		d.zl = z
		d.used |= usedZlib
	}
	return z, nil
}

func (d *Decoder) flateReader(r io.Reader) io.Reader {
	if d.used&usedFlate == 0 && d.fl != nil {
		d.used |= usedFlate
		// Reset of the package's own decompressor cannot fail without a
		// dictionary.
		_ = d.fl.(flate.Resetter).Reset(r, nil)
		return d.fl
	}
	f := flate.NewReader(r)
	if d.fl == nil {
		d.fl = f
		d.used |= usedFlate
	}
	return f
}

func (d *Decoder) brotliReader(r io.Reader) io.Reader {
	if d.used&usedBrotli == 0 && d.br != nil {
		d.used |= usedBrotli
		if err := d.br.Reset(r); err == nil {
			return d.br
		}
	}
	b := brotli.NewReader(r)
	if d.br == nil {
		d.br = b
		d.used |= usedBrotli
	}
	return b
}

func (d *Decoder) zstdReader(r io.Reader) (io.Reader, error) {
	// Hide any Len/Bytes methods: the zstd package would otherwise decode
	// small buffers in one piece, materialising the whole output.
	r = plainReader{r}
	if d.used&usedZstd == 0 && d.zs != nil {
		d.used |= usedZstd
		if err := d.zs.Reset(r); err != nil {
			return nil, err
		}
		return d.zs, nil
	}
	z, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(zstdMaxWindow),
		zstd.WithDecoderMaxMemory(4*zstdMaxWindow),
		zstd.WithDecodeBuffersBelow(0),
	)
	if err != nil {
		return nil, err
	}
	if d.zs == nil {
		d.zs = z
		d.used |= usedZstd
		return z, nil
	}
	return zstdOwned{z}, nil
}

// isZlibHeader reports whether b starts with a zlib (RFC 1950) header:
// deflate method, window at most 32 KiB, and a valid check value.
func isZlibHeader(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	cmf, flg := b[0], b[1]
	return cmf&0x0f == 8 && cmf>>4 <= 7 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}

// initialCap guesses the decoded size to avoid regrowing the output: the
// gzip trailer records it (mod 2^32) when gzip is the only coding, and
// deflate cannot expand more than ~1032:1, which bounds a lying trailer.
func initialCap(codings []string, data []byte, max int64) int64 {
	guess := int64(len(data))*4 + 64
	if len(codings) == 1 && (decode.EqualFoldASCII(codings[0], "gzip") || decode.EqualFoldASCII(codings[0], "x-gzip")) && len(data) >= 18 {
		isize := int64(binary.LittleEndian.Uint32(data[len(data)-4:]))
		if isize > 0 && isize <= int64(len(data))*1032 {
			guess = isize
		}
	}
	if guess > max {
		guess = max
	}
	return guess
}

// tolerantGzip reads concatenated gzip members and ends cleanly at
// trailing bytes that do not start another member, as browsers do, instead
// of failing a body whose content was complete.
type tolerantGzip struct {
	z   *gzip.Reader
	src *bufio.Reader
}

func (t *tolerantGzip) Read(p []byte) (int, error) {
	for {
		n, err := t.z.Read(p)
		if err != io.EOF {
			return n, err
		}
		head, _ := t.src.Peek(2)
		if len(head) < 2 || head[0] != 0x1f || head[1] != 0x8b {
			return n, io.EOF
		}
		if err := t.z.Reset(t.src); err != nil {
			return n, err
		}
		t.z.Multistream(false)
		if n > 0 {
			return n, nil
		}
	}
}

// namedReader tags errors with the coding whose decoder raised them.
type namedReader struct {
	r      io.Reader
	coding string
}

func (n *namedReader) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	if err != nil && err != io.EOF {
		var ce *codingError
		if !errors.As(err, &ce) {
			err = &codingError{coding: n.coding, err: err}
		}
	}
	return k, err
}

// codingError names the coding that failed.
type codingError struct {
	coding string
	err    error
}

func (e *codingError) Error() string { return "body: " + e.coding + ": " + e.err.Error() }
func (e *codingError) Unwrap() error { return e.err }

type plainReader struct{ r io.Reader }

func (p plainReader) Read(b []byte) (int, error) { return p.r.Read(b) }

// zstdOwned is a second zstd decoder in one chain; it is not kept, so it
// must not be pooled. Close happens when the chain is garbage.
type zstdOwned struct{ z *zstd.Decoder }

func (z zstdOwned) Read(p []byte) (int, error) {
	n, err := z.z.Read(p)
	if err != nil {
		z.z.Close()
	}
	return n, err
}
