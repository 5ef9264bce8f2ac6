package spill

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// On-disk layout, see doc.go: every segment file starts with segMagic,
// followed by records framed as
//
//	uint32 LE payload length | uint32 LE CRC-32C of (length bytes, payload) | payload
//
// The checksum covers the length too, so a torn or overwritten header is
// reported instead of sending the reader to a wrong offset.
const (
	segMagic     = "tvspill1"
	segHeaderLen = int64(len(segMagic))
	frameHeader  = 8
	// maxRecord bounds one encoded exchange. Bodies are capped by the
	// decoder long before this; the bound keeps a corrupt length from
	// asking for gigabytes and keeps offsets inside a Ref's 36 bits.
	maxRecord = 1 << 30
	// firstRead is how much Get reads in its first pread: enough for a
	// typical exchange with a few KB of body, so most Gets take one
	// system call.
	firstRead = 8 << 10
)

// ErrCorrupt is wrapped by Get when a record's bytes do not pass the frame
// checks: a torn write, a damaged file or a Ref that does not point at a
// record.
var ErrCorrupt = errors.New("corrupt spill record")

func castagnoli() *crc32.Table {
	// MakeTable returns a table cached by the crc32 package for
	// Castagnoli, so calling it per record costs nothing and the
	// package keeps no state of its own.
	return crc32.MakeTable(crc32.Castagnoli)
}

// beginFrame appends room for a frame header to b; finishFrame fills it in
// once the payload has been appended after it.
func beginFrame(b []byte) []byte {
	return append(b, make([]byte, frameHeader)...)
}

// finishFrame fills in the header of the frame that starts at b[start].
func finishFrame(b []byte, start int) error {
	n := len(b) - start - frameHeader
	if n > maxRecord {
		return fmt.Errorf("spill: encoded exchange is %d bytes, over the %d byte record limit", n, maxRecord)
	}
	h := b[start : start+frameHeader]
	binary.LittleEndian.PutUint32(h[0:4], uint32(n))
	binary.LittleEndian.PutUint32(h[4:8], frameCRC(h[0:4], b[start+frameHeader:]))
	return nil
}

func frameCRC(length, payload []byte) uint32 {
	t := castagnoli()
	return crc32.Update(crc32.Update(0, t, length), t, payload)
}

// parseFrame checks the frame at the start of b and returns its payload
// (a subslice of b) and the whole frame's size. It never reads past b.
func parseFrame(b []byte) (payload []byte, size int, err error) {
	if len(b) < frameHeader {
		return nil, 0, fmt.Errorf("spill: %w: %d bytes where a frame header needs %d", ErrCorrupt, len(b), frameHeader)
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	if n > maxRecord {
		return nil, 0, fmt.Errorf("spill: %w: record length %d over the limit", ErrCorrupt, n)
	}
	if uint64(len(b)-frameHeader) < uint64(n) {
		return nil, 0, fmt.Errorf("spill: %w: record length %d but only %d bytes follow", ErrCorrupt, n, len(b)-frameHeader)
	}
	payload = b[frameHeader : frameHeader+int(n)]
	if got, want := frameCRC(b[0:4], payload), binary.LittleEndian.Uint32(b[4:8]); got != want {
		return nil, 0, fmt.Errorf("spill: %w: checksum %08x, header says %08x", ErrCorrupt, got, want)
	}
	return payload, frameHeader + int(n), nil
}

// readFrame reads the record at off from r, which holds valid data up to
// end (the flushed size of the segment, so a length pointing past what was
// written is caught before any allocation). buf is reused when large
// enough; the returned payload may alias it.
func readFrame(r io.ReaderAt, off, end int64, buf []byte) (payload, grown []byte, err error) {
	avail := end - off
	if off < 0 || avail < frameHeader {
		return nil, buf, fmt.Errorf("spill: %w: offset %d has no frame before the end at %d", ErrCorrupt, off, end)
	}
	want := min(avail, firstRead)
	buf = grow(buf, int(want))
	if _, err := r.ReadAt(buf, off); err != nil {
		return nil, buf, fmt.Errorf("spill: read record header at %d: %w", off, err)
	}
	n := int64(binary.LittleEndian.Uint32(buf[0:4]))
	if n > maxRecord || frameHeader+n > avail {
		return nil, buf, fmt.Errorf("spill: %w: record length %d at offset %d runs past the written end %d", ErrCorrupt, n, off, end)
	}
	if total := frameHeader + n; total > want {
		buf = grow(buf, int(total))
		if _, err := r.ReadAt(buf[want:], off+want); err != nil {
			return nil, buf, fmt.Errorf("spill: read record body at %d: %w", off+want, err)
		}
	}
	payload, _, err = parseFrame(buf)
	return payload, buf, err
}

// grow returns b resized to n bytes, keeping its backing array when it is
// large enough. The contents are not preserved beyond what fits.
func grow(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	nb := make([]byte, n)
	copy(nb, b)
	return nb
}
