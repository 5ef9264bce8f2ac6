// Package har writes HTTP exchanges as HAR 1.2 (HTTP Archive), the format
// browsers' developer tools, proxies and HTTP analysers import. The Writer
// streams: the log header is written first, each entry as it is added,
// the closing brackets last, so an export of a huge capture holds one
// entry at a time.
//
// Callers pass the exchanges as they should appear — the masked copies
// from decode/mask unless masking is off. Bodies are shown decoded
// (Content-Encoding removed) as text when they are text and as base64
// otherwise; gRPC bodies (length-prefixed messages) are always base64,
// with the call's status in the custom fields _grpcStatus and
// _grpcMessage. Pages are not written: captured traffic has no notion of
// a page.
package har

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// Version is the HAR version written.
const Version = "1.2"

// Options describe the log a Writer opens.
type Options struct {
	// Name and Version identify the creator ("tapview", "v1.2.3").
	Name, Version string
	// Comment is the log's comment, e.g. whether values are masked.
	Comment string
}

// Writer streams one HAR log. It is not safe for concurrent use.
type Writer struct {
	w       *bufio.Writer
	enc     Encoder
	buf     []byte // the entry being encoded
	entries int
	skipped int
	closed  bool
	err     error
}

// writeBuffer is the size of the Writer's buffer. Bigger is not
// better: exporting the 297 MB benchmark capture (711 MB of HAR) took
// twice the system time with a 1 MiB buffer (1.0-1.3 s) as with 16 to
// 128 KiB (0.5-0.65 s), in alternating runs (probably because a buffer
// that fits the CPU's cache is copied into the page cache faster).
const writeBuffer = 64 << 10

// NewWriter writes the log header to w and returns a Writer for entries.
func NewWriter(w io.Writer, opts Options) (*Writer, error) {
	hw := &Writer{w: bufio.NewWriterSize(w, writeBuffer)}
	head := struct {
		Version string  `json:"version"`
		Creator creator `json:"creator"`
		Comment string  `json:"comment,omitempty"`
	}{Version, creator{Name: opts.Name, Version: opts.Version}, opts.Comment}
	b, err := json.Marshal(head)
	if err != nil {
		return nil, fmt.Errorf("har: %w", err)
	}
	// The log object is opened by hand so entries can follow one by one.
	hw.write([]byte(`{"log":`))
	hw.write(b[:len(b)-1])
	hw.write([]byte(`,"entries":[`))
	if hw.err != nil {
		return nil, hw.err
	}
	return hw, nil
}

type creator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Supported reports whether an exchange becomes a HAR entry: HTTP/1.x,
// HTTP/2 and gRPC exchanges that have a request (a response seen without
// its request has nothing to fill the entry's request with).
func Supported(e *decode.Exchange) bool {
	switch e.Proto {
	case "http/1.0", "http/1.1", "h2", "grpc":
		return e.Request != nil
	}
	return false
}

// Add writes e as the next entry, or counts it as skipped when it is not
// Supported.
func (w *Writer) Add(e *decode.Exchange) error {
	if w.closed {
		return errors.New("har: add after close")
	}
	if !Supported(e) {
		w.skipped++
		return nil
	}
	b, err := w.enc.Entry(e, w.buf[:0])
	if err != nil {
		return err
	}
	w.AddEncoded(b)
	if cap(b) <= 1<<20 {
		w.buf = b // reused; a huge entry's buffer is not kept for small ones
	}
	return w.err
}

// AddEncoded writes an entry an Encoder made, as the next entry. Entries
// can so be encoded on other goroutines and written in order.
func (w *Writer) AddEncoded(b []byte) error {
	if w.closed {
		return errors.New("har: add after close")
	}
	if w.entries > 0 {
		w.write([]byte(",\n"))
	} else {
		w.write([]byte("\n"))
	}
	w.write(b)
	w.entries++
	return w.err
}

// Encoder turns exchanges into HAR entries. It keeps a content decoder
// between entries; one Encoder must not be used by two goroutines at
// once, but several Encoders may encode for one Writer.
//
// An Encoder is also a decoder for mask.Masker.ExchangeDecoding: what it
// decodes for the masker is remembered until the end of the next Entry,
// which then shows those bodies without inflating them again.
type Encoder struct {
	dec   body.Decoder
	memo  [4]memoBody
	n     int        // memo entries in use
	cache bodyCache  // bodies by content, across entries (bodycache.go)
	shown shownCache // how bodies were shown, by content (showncache.go)
}

// memoBody is one decoded body, keyed by the exact input.
type memoBody struct {
	codings []string
	data    []byte
	max     int64
	out     []byte
	err     error
}

func (b *memoBody) is(codings []string, data []byte, max int64) bool {
	return b.max == max && len(b.data) == len(data) && len(data) > 0 && &b.data[0] == &data[0] &&
		slices.Equal(b.codings, codings)
}

// Decode undoes content codings like body.Decoder.Decode, returning the
// remembered result when the same bytes were decoded since the last
// Entry, or when a body with the same content was decoded before (see
// bodyCache). The result must only be read.
func (c *Encoder) Decode(codings []string, data []byte, max int64) ([]byte, error) {
	for i := range c.n {
		if c.memo[i].is(codings, data, max) {
			return c.memo[i].out, c.memo[i].err
		}
	}
	i, h := c.cache.index(data)
	out, hit := []byte(nil), false
	if i >= 0 {
		out, hit = c.cache.get(i, h, codings, data, max)
	}
	var err error
	if !hit {
		out, err = c.dec.Decode(codings, data, max)
		if i >= 0 && err == nil {
			c.cache.put(i, h, codings, data, max, out)
		}
	}
	if c.n < len(c.memo) {
		c.memo[c.n] = memoBody{codings, data, max, out, err}
		c.n++
	}
	return out, err
}

// forget drops the remembered bodies.
func (c *Encoder) forget() {
	clear(c.memo[:c.n])
	c.n = 0
}

// Entry appends the JSON of e's entry to b. e must be Supported. The
// error is always nil (encoding/json's errors, kept in the signature,
// came from values an entry cannot hold).
func (c *Encoder) Entry(e *decode.Exchange, b []byte) ([]byte, error) {
	defer c.forget()
	return appendEntry(b, e, c), nil
}

// Close releases the Encoder's decompressors.
func (c *Encoder) Close() { c.dec.Close() }

// Close ends the log and flushes. It does not close the underlying
// writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	w.enc.Close()
	w.write([]byte("\n]}}\n"))
	if w.err == nil {
		if err := w.w.Flush(); err != nil {
			w.err = fmt.Errorf("har: %w", err)
		}
	}
	return w.err
}

// Entries returns how many entries were written.
func (w *Writer) Entries() int { return w.entries }

// Skipped returns how many exchanges were not HAR material.
func (w *Writer) Skipped() int { return w.skipped }

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.w.Write(b); err != nil {
		w.err = fmt.Errorf("har: %w", err)
	}
}
