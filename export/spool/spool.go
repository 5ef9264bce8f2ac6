// Package spool keeps packets on disk between the two passes of an export.
// Exports select packets by what decoding found, so every packet has to be
// read twice; capture files can simply be read again, but stdin, live
// sources and packets synthesized from tap traces cannot. A spool is a
// temporary file of records in a private format (not pcapng) because it
// must keep everything a sources.Packet carries — source name, interface,
// ordinal, original length — plus a per-packet comment, none of which a
// pcapng re-read would return unchanged. Memory stays flat: only a 16-byte
// index entry per packet is held, and only when the spool is to be read
// back in time order.
package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tapview/tapview/sources"
)

// Record kinds on disk.
const (
	kindPacket  byte = 1
	kindSecrets byte = 2
)

// maxField bounds every length read back, so a damaged spool cannot make
// the reader allocate without limit.
const maxField = 1 << 30

// Record is one item read back: a packet (with the comment it was spooled
// with) or, when Secrets is non-nil, a pcapng Decryption Secrets Block
// that preceded the following packets in the source.
type Record struct {
	Packet      sources.Packet
	Comment     string
	SecretsKind uint32
	Secrets     []byte
}

// IsSecrets reports whether the record holds key material, not a packet.
func (r *Record) IsSecrets() bool { return r.Secrets != nil }

// entry locates one record for time-ordered reading.
type entry struct {
	ts  int64 // Unix nanoseconds; secrets records sort first
	off int64
}

// Writer appends records to a temporary file. It is safe for concurrent
// use, so several sources may tee into one spool.
type Writer struct {
	mu      sync.Mutex
	f       *os.File
	bw      *bufio.Writer
	off     int64
	sorted  bool
	index   []entry
	n       int
	scratch []byte
	err     error
	closed  bool
}

// Create makes an empty spool in dir ("" for the system temp directory).
// With sorted set, readers return packets in timestamp order (ties keep
// write order) instead of write order; that costs 16 bytes of memory per
// record.
func Create(dir string, sorted bool) (*Writer, error) {
	f, err := os.CreateTemp(dir, "tapview-spool-*")
	if err != nil {
		return nil, fmt.Errorf("spool: create temp file: %w", err)
	}
	return &Writer{f: f, bw: bufio.NewWriterSize(f, 256<<10), sorted: sorted}, nil
}

// WritePacket appends p and its comment. The signature matches
// pcapw.PacketWriter, so anything that writes captures can write a spool.
func (w *Writer) WritePacket(p sources.Packet, comment string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.scratch[:0]
	b = append(b, kindPacket)
	b = binary.LittleEndian.AppendUint64(b, uint64(p.Timestamp.UnixNano()))
	b = binary.LittleEndian.AppendUint32(b, uint32(p.OrigLen))
	b = binary.LittleEndian.AppendUint16(b, p.LinkType)
	b = binary.LittleEndian.AppendUint32(b, uint32(p.Interface))
	b = binary.LittleEndian.AppendUint64(b, p.Ordinal)
	b = binary.LittleEndian.AppendUint64(b, uint64(p.Offset))
	b = appendField(b, []byte(p.Source))
	b = appendField(b, []byte(comment))
	b = appendField(b, p.Data)
	w.scratch = b
	return w.append(b, p.Timestamp.UnixNano())
}

// WriteSecrets appends key material from a pcapng Decryption Secrets
// Block, in order with the packets around it.
func (w *Writer) WriteSecrets(kind uint32, data []byte) error {
	b := make([]byte, 0, 9+len(data))
	b = append(b, kindSecrets)
	b = binary.LittleEndian.AppendUint32(b, kind)
	b = appendField(b, data)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.append(b, minTime)
}

// minTime sorts secrets before every packet of a time-ordered spool, so
// keys are written before the traffic they decrypt.
const minTime = -1 << 63

func (w *Writer) append(b []byte, ts int64) error {
	if w.closed {
		return errors.New("spool: write after close")
	}
	if w.err != nil {
		return w.err
	}
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("spool: write %s: %w", w.f.Name(), err)
		return w.err
	}
	if w.sorted {
		w.index = append(w.index, entry{ts: ts, off: w.off})
	}
	w.off += int64(len(b))
	w.n++
	return nil
}

// Flush writes buffered records to the file.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flush()
}

func (w *Writer) flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("spool: write %s: %w", w.f.Name(), err)
	}
	return w.err
}

// Len returns how many records were written.
func (w *Writer) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Reader flushes the spool and returns a reader over everything written so
// far, in write order or, for a sorted spool, in timestamp order. Several
// readers may exist; none may be used after Close.
func (w *Writer) Reader() (*Reader, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errors.New("spool: read after close")
	}
	if err := w.flush(); err != nil {
		return nil, err
	}
	r := &Reader{f: w.f, size: w.off}
	if w.sorted {
		r.index = slices.Clone(w.index)
		slices.SortStableFunc(r.index, func(a, b entry) int {
			switch {
			case a.ts < b.ts:
				return -1
			case a.ts > b.ts:
				return 1
			}
			return 0
		})
		r.sorted = true
	} else {
		r.br = bufio.NewReaderSize(io.NewSectionReader(w.f, 0, w.off), 256<<10)
	}
	return r, nil
}

// Close removes the temporary file. It is safe to call more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	w.index = nil
	name := w.f.Name()
	err := w.f.Close()
	if rerr := os.Remove(name); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("spool: remove %s: %w", name, err)
	}
	return nil
}

// Reader returns the records of a spool one at a time.
type Reader struct {
	f      *os.File
	size   int64
	br     *bufio.Reader // sequential reading
	sorted bool
	index  []entry
	pos    int
	rec    *bufio.Reader // reused for random access
}

// Next returns the next record, or io.EOF after the last. Each record's
// Data is freshly allocated and owned by the caller.
func (r *Reader) Next() (Record, error) {
	var br *bufio.Reader
	if r.sorted {
		if r.pos >= len(r.index) {
			return Record{}, io.EOF
		}
		e := r.index[r.pos]
		r.pos++
		sec := io.NewSectionReader(r.f, e.off, r.size-e.off)
		if r.rec == nil {
			r.rec = bufio.NewReaderSize(sec, 16<<10)
		} else {
			r.rec.Reset(sec)
		}
		br = r.rec
	} else {
		br = r.br
	}
	rec, err := readRecord(br)
	if err == io.EOF && r.sorted {
		return Record{}, fmt.Errorf("spool: record %d: %w", r.pos, io.ErrUnexpectedEOF)
	}
	return rec, err
}

func readRecord(br *bufio.Reader) (Record, error) {
	kind, err := br.ReadByte()
	if err != nil {
		return Record{}, err // io.EOF at a record boundary is the clean end
	}
	switch kind {
	case kindPacket:
		var h [34]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return Record{}, short(err)
		}
		le := binary.LittleEndian
		p := sources.Packet{
			Timestamp: time.Unix(0, int64(le.Uint64(h[0:8]))),
			OrigLen:   int(le.Uint32(h[8:12])),
			LinkType:  le.Uint16(h[12:14]),
			Interface: int(le.Uint32(h[14:18])),
			Ordinal:   le.Uint64(h[18:26]),
			Offset:    int64(le.Uint64(h[26:34])),
		}
		src, err := readField(br)
		if err != nil {
			return Record{}, err
		}
		comment, err := readField(br)
		if err != nil {
			return Record{}, err
		}
		if p.Data, err = readField(br); err != nil {
			return Record{}, err
		}
		p.Source = string(src)
		return Record{Packet: p, Comment: string(comment)}, nil
	case kindSecrets:
		var h [4]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return Record{}, short(err)
		}
		data, err := readField(br)
		if err != nil {
			return Record{}, err
		}
		if data == nil {
			data = []byte{}
		}
		return Record{SecretsKind: binary.LittleEndian.Uint32(h[:]), Secrets: data}, nil
	}
	return Record{}, fmt.Errorf("spool: unknown record kind %d (damaged spool)", kind)
}

func appendField(b, v []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

func readField(br *bufio.Reader) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, short(err)
	}
	n := binary.LittleEndian.Uint32(h[:])
	if n > maxField {
		return nil, fmt.Errorf("spool: field of %d bytes (damaged spool)", n)
	}
	if n == 0 {
		return nil, nil
	}
	v := make([]byte, n)
	if _, err := io.ReadFull(br, v); err != nil {
		return nil, short(err)
	}
	return v, nil
}

func short(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("spool: read: %w", err)
}
