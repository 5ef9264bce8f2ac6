package pcapfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compressed captures (`.pcap.gz`, `.pcapng.gz`, `.pcap.zst`, as tshark
// reads them) are decompressed while they are read, whatever their name
// and on stdin too: the format is told by its magic bytes. tapview never
// seeks in a capture (every re-read, by export or the UI's bytes view, is
// a sequential pass that picks packets by ordinal, and exchanges come
// back from the spill store), so a second pass simply decompresses again
// and no temporary copy of the decompressed capture is written. Packets of
// a compressed capture carry Offset -1, like stdin: an offset in the
// decompressed stream names no byte of the file.

// Compression magic numbers.
var (
	magicGzip = []byte{0x1f, 0x8b}
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// zstdMaxWindow bounds the window a zstd stream may ask for, so a hostile
// header cannot make the reader allocate gigabytes. zstd's own levels use
// at most 8 MiB; `--long` up to 128 MiB.
const zstdMaxWindow = 128 << 20

// decompressor is a reader that undoes one compression, and how to free
// it.
type decompressor struct {
	io.Reader
	kind  string // "gzip" or "zstd"
	close func()
}

// sniffCompression looks at the next bytes of in and, when they are a
// gzip or zstd header, returns a reader of the decompressed bytes; nil
// for anything else (in is then read as it is).
func sniffCompression(in *input) (*decompressor, error) {
	head, _ := in.peek(4)
	switch {
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(in.br)
		if err != nil {
			return nil, fmt.Errorf("reading the gzip header: %w", err)
		}
		return &decompressor{Reader: &damageReader{r: zr, kind: "gzip"}, kind: "gzip", close: func() { _ = zr.Close() }}, nil
	case bytes.HasPrefix(head, magicZstd):
		zr, err := zstd.NewReader(in.br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, fmt.Errorf("reading the zstd header: %w", err)
		}
		return &decompressor{Reader: &damageReader{r: zr, kind: "zstd"}, kind: "zstd", close: zr.Close}, nil
	}
	return nil, nil
}

// damageReader turns a decompression failure (corrupt data, bad
// checksum) into damage at the current decompressed offset: Run then
// reports it as a warning and keeps every packet read before it. A
// stream that simply ends early is io.ErrUnexpectedEOF, which the record
// readers already report as a file cut short.
type damageReader struct {
	r    io.Reader
	kind string
	n    int64
}

func (d *damageReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		err = &damageError{kind: kindCorrupt, msg: fmt.Sprintf(
			"the %s compression is damaged after %d decompressed bytes (%v); the packets before it were read, "+
				"the rest cannot be (`%s -t FILE` checks a file)", d.kind, d.n, err, d.kind)}
	}
	return n, err
}
