package taptrace

import (
	"errors"
	"fmt"
	"io"
)

// DefaultMaxValue bounds one JSON value (one trace) read by a Splitter, so
// a stream that never closes its object cannot grow memory without limit.
const DefaultMaxValue = 64 << 20

// ErrTooLarge is returned when one value exceeds the splitter's bound.
var ErrTooLarge = errors.New("JSON value larger than the limit")

// SyntaxError reports bytes between top-level values that cannot start an
// object or array. Offset is counted from the start of the stream.
type SyntaxError struct {
	Offset int64
	Char   byte
}

// Error says where the stray byte is.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("offset %d: unexpected %q between JSON values", e.Offset, e.Char)
}

// Splitter cuts a stream of concatenated JSON values into one value each.
// Envoy writes admin /tap streams and .json tap files as pretty-printed
// objects with no delimiter, and a chunk boundary may fall anywhere, so
// neither line splitting nor a single json.Unmarshal works. Splitter only
// tracks strings and bracket depth; checking each value is left to the
// caller's JSON decoder.
type Splitter struct {
	r       io.Reader
	max     int
	buf     []byte
	start   int   // first unconsumed byte in buf
	end     int   // end of valid bytes in buf
	base    int64 // stream offset of buf[0]
	readErr error
}

// NewSplitter reads values from r. max bounds one value in bytes (<= 0
// means DefaultMaxValue).
func NewSplitter(r io.Reader, max int) *Splitter {
	if max <= 0 {
		max = DefaultMaxValue
	}
	return &Splitter{r: r, max: max}
}

// Offset returns the stream offset just past the last value returned.
func (s *Splitter) Offset() int64 { return s.base + int64(s.start) }

// Next returns the next top-level object or array. The slice is valid only
// until the following call. It returns io.EOF after the last value,
// io.ErrUnexpectedEOF when the stream ends inside a value, ErrTooLarge
// when a value exceeds the bound, a *SyntaxError for junk between values,
// and the reader's error otherwise. Errors are final.
func (s *Splitter) Next() ([]byte, error) {
	for {
		for s.start < s.end && isJSONSpace(s.buf[s.start]) {
			s.start++
		}
		if s.start < s.end {
			break
		}
		if err := s.fill(); err != nil {
			return nil, err
		}
	}
	if c := s.buf[s.start]; c != '{' && c != '[' {
		s.readErr = &SyntaxError{Offset: s.Offset(), Char: c}
		return nil, s.readErr
	}
	depth, inStr, esc := 0, false, false
	i := s.start
	for {
		for ; i < s.end; i++ {
			c := s.buf[i]
			if inStr {
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
				}
				continue
			}
			switch c {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					v := s.buf[s.start : i+1]
					s.start = i + 1
					return v, nil
				}
			}
		}
		if i-s.start >= s.max {
			s.readErr = ErrTooLarge
			return nil, ErrTooLarge
		}
		scanned := i - s.start
		if err := s.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
				s.readErr = err
			}
			return nil, err
		}
		i = s.start + scanned
	}
}

// fill reads more bytes after s.end, moving unconsumed bytes to the front
// and growing the buffer (up to the bound plus one read) when needed.
func (s *Splitter) fill() error {
	if s.readErr != nil {
		return s.readErr
	}
	if s.start > 0 {
		n := copy(s.buf, s.buf[s.start:s.end])
		s.base += int64(s.start)
		s.start, s.end = 0, n
	}
	if s.end == len(s.buf) {
		size := 2 * len(s.buf)
		if size < 32<<10 {
			size = 32 << 10
		}
		if limit := s.max + 32<<10; size > limit {
			size = limit
		}
		if size <= len(s.buf) {
			s.readErr = ErrTooLarge
			return s.readErr
		}
		nb := make([]byte, size)
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for empty := 0; empty < 100; empty++ {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			// Keep the error for the next fill; bytes read come first.
			s.readErr = err
		}
		if n > 0 {
			return nil
		}
		if err != nil {
			s.readErr = err
			return err
		}
	}
	s.readErr = io.ErrNoProgress
	return s.readErr
}

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t'
}
