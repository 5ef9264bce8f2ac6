// Package body undoes HTTP content codings (gzip, deflate, br, zstd) for
// views and size statistics. Output is always capped: captured traffic is
// untrusted, and a few kilobytes of compressed input can expand to
// gigabytes, so every function here stops at a caller-given bound and
// reports ErrTooLarge instead of exhausting memory.
package body

import (
	"errors"
	"fmt"
	"io"

	"github.com/tapview/tapview/decode"
)

// DefaultMax is the output cap used when a caller passes max <= 0, so a
// forgotten limit still cannot turn into an unbounded allocation.
const DefaultMax = 16 << 20

// maxCodings bounds how many codings one body may stack; a header listing
// hundreds would otherwise allocate hundreds of decompressors.
const maxCodings = 8

// ErrTooLarge reports that decoding stopped at the output cap. The output
// returned alongside it is the decoded prefix.
var ErrTooLarge = errors.New("decoded body too large")

// ErrUnknownCoding reports a content coding this package cannot undo
// (for example "compress"); the wrapping error names it.
var ErrUnknownCoding = errors.New("unknown content coding")

// Decode undoes the content codings of data and returns at most max bytes.
// codings are listed in the order they were applied, as in the
// Content-Encoding header, so they are undone last to first. "identity" is
// skipped and names are matched case-insensitively. With nothing to undo
// the result may alias data.
//
// On a decompression bomb the result is the first max bytes and an error
// wrapping ErrTooLarge; on truncated or corrupt input it is what decoded
// before the problem plus an error.
func Decode(codings []string, data []byte, max int64) ([]byte, error) {
	var d Decoder
	defer d.Close()
	return d.Decode(codings, data, max)
}

// DecodedSize reports how many bytes Decode would produce, without keeping
// them; at most max is counted (then the error wraps ErrTooLarge). It lets
// list views show decoded sizes without holding decoded bodies.
func DecodedSize(codings []string, data []byte, max int64) (int64, error) {
	var d Decoder
	defer d.Close()
	return d.DecodedSize(codings, data, max)
}

// NeedsDecoding reports whether codings contain anything besides
// identity, so callers can skip decoding (and treat the transferred size
// as the decoded size) without allocating.
func NeedsDecoding(codings []string) bool {
	for _, c := range codings {
		if !isIdentity(c) {
			return true
		}
	}
	return false
}

// Codings splits a Content-Encoding (or Transfer-Encoding) header value
// into lower-case coding names, in header order, dropping empty items and
// parameters. It allocates only when a name needs lower-casing.
func Codings(value string) []string {
	var out []string
	for len(value) > 0 {
		item := value
		if i := indexByte(value, ','); i >= 0 {
			item, value = value[:i], value[i+1:]
		} else {
			value = ""
		}
		if i := indexByte(item, ';'); i >= 0 {
			item = item[:i]
		}
		item = trimSpace(item)
		if item == "" {
			continue
		}
		if out == nil {
			out = make([]string, 0, 2)
		}
		out = append(out, lower(item))
	}
	return out
}

func isIdentity(c string) bool { return decode.EqualFoldASCII(c, "identity") }

func tooLarge(max int64) error {
	return fmt.Errorf("body: output capped at %d bytes: %w", max, ErrTooLarge)
}

// readCapped reads r into out until EOF or max bytes. It returns the
// bytes read and ErrTooLarge (wrapped) when more than max were available.
func readCapped(r io.Reader, out []byte, max int64) ([]byte, error) {
	for {
		if int64(len(out)) >= max {
			var one [1]byte
			n, err := readSome(r, one[:])
			if n > 0 {
				return out, tooLarge(max)
			}
			return out, err
		}
		if len(out) == cap(out) {
			next := int64(cap(out)) * 2
			if next < 4096 {
				next = 4096
			}
			if next > max {
				next = max
			}
			grown := make([]byte, len(out), next)
			copy(grown, out)
			out = grown
		}
		n, err := r.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
	}
}

// readSome reads until n > 0 or an error, so readers that return (0, nil)
// do not end the probe early; EOF becomes nil.
func readSome(r io.Reader, p []byte) (int, error) {
	for i := 0; i < 100; i++ {
		n, err := r.Read(p)
		if n > 0 || err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

// countCapped reads r to the end through scratch, counting bytes up to max.
func countCapped(r io.Reader, scratch []byte, max int64) (int64, error) {
	var total int64
	for {
		p := scratch
		if rem := max + 1 - total; rem < int64(len(p)) {
			p = p[:rem]
		}
		n, err := r.Read(p)
		total += int64(n)
		if total > max {
			return max, tooLarge(max)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return total, nil
			}
			return total, err
		}
	}
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// GzipTrailerSize returns the decoded size a complete single-member gzip
// body records in its trailer (ISIZE, RFC 1952 §2.3.1), without inflating
// it. It is exact for valid streams under 4 GiB and costs nothing, which
// matters when sizes are wanted for every message of a large capture;
// unlike DecodedSize it cannot notice corruption. ok is false when data
// does not start like a gzip member or is too short to hold a trailer.
func GzipTrailerSize(data []byte) (size int64, ok bool) {
	const minMember = 10 + 2 + 8 // header, smallest deflate block, trailer
	if len(data) < minMember || data[0] != 0x1f || data[1] != 0x8b || data[2] != 8 || data[3]&0xe0 != 0 {
		return 0, false
	}
	n := len(data)
	isize := int64(data[n-4]) | int64(data[n-3])<<8 | int64(data[n-2])<<16 | int64(data[n-1])<<24
	// Deflate expands at most ~1032:1; a larger claim is not a real trailer.
	if isize > int64(n)*1032 {
		return 0, false
	}
	return isize, true
}
