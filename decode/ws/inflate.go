package ws

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
)

// windowSize is the LZ77 window of DEFLATE; permessage-deflate never
// references further back, whatever window bits were negotiated.
const windowSize = 32 << 10

// tail is what RFC 7692 section 7.2.2 has the receiver append to a
// message's payload before inflating it (the senders strip it).
var tail = []byte{0x00, 0x00, 0xff, 0xff}

// errBomb stops inflation at Limits.MaxDecoded.
var errBomb = errors.New("decoded size over the cap")

// inflater undoes permessage-deflate for one direction. The handler
// cannot see whether context takeover was negotiated (that is in the 101
// exchange's headers), so it keeps the last 32 KiB of decoded output and
// offers it as the preset dictionary of every message: with context
// takeover that is exactly the sender's history, without it the sender
// never refers to it.
type inflater struct {
	fr     io.ReadCloser
	src    bytes.Reader
	window []byte // decoded history, at most 2*windowSize before trimming
	chunk  []byte
	// stale is set when a message could not be decoded to its end, so
	// the history later messages may refer to is unknown.
	stale bool
}

// inflate decodes one message's payload (the tail is appended here, so
// comp must be owned by the caller and have room or be reallocated). It
// keeps at most keep bytes of output, decodes at most max bytes, and
// reports the total decoded size.
func (f *inflater) inflate(comp []byte, keep int, max int64) (out []byte, total int64, err error) {
	comp = append(comp, tail...)
	f.src.Reset(comp)
	dict := f.window
	if len(dict) > windowSize {
		dict = dict[len(dict)-windowSize:]
	}
	if f.fr == nil {
		f.fr = flate.NewReaderDict(&f.src, dict)
	} else if err := f.fr.(flate.Resetter).Reset(&f.src, dict); err != nil {
		return nil, 0, fmt.Errorf("inflate reset: %w", err)
	}
	if f.chunk == nil {
		f.chunk = make([]byte, 16<<10)
	}
	for {
		n, rerr := f.fr.Read(f.chunk)
		if n > 0 {
			if total+int64(n) > max {
				n = int(max - total)
				rerr = errBomb
			}
			if room := keep - len(out); room > 0 {
				out = append(out, f.chunk[:min(n, room)]...)
			}
			f.remember(f.chunk[:n])
			total += int64(n)
		}
		switch {
		case rerr == nil:
			continue
		case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF):
			// A message ends with an empty stored block, not a final
			// block, so running out of input is the normal end.
			return out, total, nil
		default:
			f.stale = true
			return out, total, rerr
		}
	}
}

// remember appends decoded bytes to the history, keeping its last
// windowSize bytes (trimming only when twice that is reached).
func (f *inflater) remember(p []byte) {
	if len(p) >= windowSize {
		f.window = append(f.window[:0], p[len(p)-windowSize:]...)
		return
	}
	if len(f.window)+len(p) > 2*windowSize {
		keepN := windowSize - len(p)
		copy(f.window, f.window[len(f.window)-keepN:])
		f.window = f.window[:keepN]
	}
	if f.window == nil {
		f.window = make([]byte, 0, 2*windowSize)
	}
	f.window = append(f.window, p...)
}
