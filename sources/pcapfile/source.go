// Package pcapfile reads pcap and pcapng capture files, or a capture
// streamed on stdin, as a sources.Source. It reads the formats itself so
// that every packet carries its byte offset in the file and damage is
// reported at the byte where it is; a damaged file yields every packet
// before the damage and then a warning, never a crash.
package pcapfile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tapview/tapview/sources"
)

// ErrNotCapture is wrapped by Open and New when the input is neither pcap
// nor pcapng, so the CLI can tell "wrong kind of file" (and exit
// non-zero, or try another reader) from an I/O error.
var ErrNotCapture = errors.New("not a pcap or pcapng capture")

// Secret kinds found in pcapng Decryption Secrets Blocks
// (draft-ietf-opsawg-pcapng, "Secrets Type"). They are passed as the kind
// argument of SecretsEmitter.Secrets.
const (
	SecretsTLSKeyLog   uint32 = 0x544c534b // NSS key log lines (CLIENT_RANDOM ...)
	SecretsSSHKeyLog   uint32 = 0x5353484b
	SecretsWireGuard   uint32 = 0x57474b4c
	SecretsZigBeeNWK   uint32 = 0x5a4e574b
	SecretsZigBeeAPS   uint32 = 0x5a415053
	SecretsOPCUAKeyLog uint32 = 0x55414b4c
)

// SecretsEmitter is implemented by emitters that want the key material a
// pcapng file embeds in Decryption Secrets Blocks, so TLS (and other)
// traffic in the file can be decrypted without a separate key log. Run
// type-asserts its Emitter to it; an emitter without the method simply
// does not get secrets (a Status of kind "secrets" still says they were
// there). The method matches structurally, so implementers need not
// import this package.
//
// Secrets is called in file order, before any packet that follows the
// block, so keys arrive before the traffic they decrypt. data is owned by
// the callee. kind is one of the Secrets* constants or any other value.
type SecretsEmitter interface {
	Secrets(kind uint32, data []byte)
}

// format is the detected container format.
type format int

const (
	formatPcap format = iota
	formatPcapng
)

// Source is one capture file (or stdin) being read. It is created by Open
// or New, run once, and not safe for concurrent use apart from Name and
// Size.
type Source struct {
	name     string
	size     int64
	seekable bool
	closer   io.Closer
	in       *input
	arena    *arena
	format   format
	// decomp is set when the capture is gzip or zstd compressed
	// (compressed.go); it is freed by Close.
	decomp  *decompressor
	order   binary.ByteOrder // pcap only
	nano    bool             // pcap only
	started atomic.Bool
}

// SetSlabs makes Run carve packets from slabs of pool (see SlabPool)
// instead of allocating them. Call it before Run.
func (s *Source) SetSlabs(pool SlabPool) { s.arena.pool = pool }

// Open opens a capture file, or stdin when path is "-", and checks from
// its first bytes that it is pcap or pcapng. The file is closed when Run
// returns; call Close if Run is never called.
func Open(path string) (*Source, error) {
	if path == "-" {
		return New("-", os.Stdin)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening capture: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("opening capture %s: %w", path, err)
	}
	var size int64
	if st.Mode().IsRegular() {
		size = st.Size()
	}
	s, err := newSource(displayName(path), f, size, st.Mode().IsRegular())
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	s.closer = f
	return s, nil
}

// New reads a capture from r, named by path ("-" is shown as "stdin").
// r is treated as a stream: packets get Offset -1, and Size is 0 unless r
// reports its length (bytes.Reader and the like). New reads the first
// bytes of r to detect the format, so it blocks until they arrive. New
// does not close r.
func New(path string, r io.Reader) (*Source, error) {
	var size int64
	if l, ok := r.(interface{ Len() int }); ok {
		size = int64(l.Len())
	}
	return newSource(displayName(path), r, size, false)
}

func displayName(path string) string {
	if path == "-" {
		return "stdin"
	}
	return filepath.Base(path)
}

// newSource detects the format from the first four bytes, after
// decompression when they are a gzip or zstd header.
func newSource(name string, r io.Reader, size int64, seekable bool) (*Source, error) {
	s := &Source{name: name, size: size, seekable: seekable,
		in: newInput(r, size), arena: newArena(size)}
	d, err := sniffCompression(s.in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	after := ""
	if d != nil {
		// The decompressed size is unknown, and offsets in it name no
		// byte of the file.
		s.decomp, s.seekable, s.size = d, false, 0
		s.in, s.arena = newInput(d, 0), newArena(0)
		after = " after " + d.kind + " decompression"
	}
	magic, err := s.in.peek(4)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		s.closeDecomp()
		return nil, fmt.Errorf("%s: reading the file header%s: %w", name, after, err)
	}
	switch {
	case len(magic) < 4:
		s.closeDecomp()
		return nil, fmt.Errorf("%s: %w (%s%s)", name, ErrNotCapture, describeShort(len(magic)), after)
	case binary.LittleEndian.Uint32(magic) == blockSHB:
		s.format = formatPcapng
	case binary.LittleEndian.Uint32(magic) == magicMicro:
		s.order = binary.LittleEndian
	case binary.BigEndian.Uint32(magic) == magicMicro:
		s.order = binary.BigEndian
	case binary.LittleEndian.Uint32(magic) == magicNano:
		s.order, s.nano = binary.LittleEndian, true
	case binary.BigEndian.Uint32(magic) == magicNano:
		s.order, s.nano = binary.BigEndian, true
	default:
		s.closeDecomp()
		return nil, fmt.Errorf("%s: %w (starts with % x%s); for Envoy tap traces use a "+
			".json/.pb/.pb_text/.pb_length_delimited name", name, ErrNotCapture, magic, after)
	}
	return s, nil
}

// closeDecomp frees the decompressor, if any.
func (s *Source) closeDecomp() {
	if s.decomp != nil {
		s.decomp.close()
		s.decomp = nil
	}
}

func describeShort(n int) string {
	if n == 0 {
		return "the file is empty"
	}
	return fmt.Sprintf("the file is only %d bytes long", n)
}

// Name is the display name: the file's base name, or "stdin".
func (s *Source) Name() string { return s.name }

// Size is the file size in bytes, for progress display; 0 when unknown
// (stdin, pipes).
func (s *Source) Size() int64 { return s.size }

// Close releases the file if Run was never called. It is safe to call
// more than once, but not while Run is running (cancel its context).
func (s *Source) Close() error {
	s.closeDecomp()
	if s.closer == nil {
		return nil
	}
	c := s.closer
	s.closer = nil
	if err := c.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", s.name, err)
	}
	return nil
}

// nextFunc reads the next packet into p; io.EOF means a clean end.
type nextFunc func(p *sources.Packet) error

// Run emits one Packet per record, in file order, with Ordinal counted
// from 1. Packet blocks until the emitter takes it, which is how a slow
// decoder throttles reading. At a damaged or cut-short spot Run emits a
// Warning Status naming the byte offset and returns nil: everything
// before the damage was delivered. Cancellation is checked between
// records and also returns nil; a read that is blocked (stdin with no
// data) cannot be interrupted. Run may be called once; it closes a file
// opened by Open.
func (s *Source) Run(ctx context.Context, emit sources.Emitter) error {
	if !s.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%s: capture already read", s.name)
	}
	defer s.Close()
	defer s.arena.done()
	next, err := s.reader(emit)
	if err == nil {
		err = s.loop(ctx, emit, next)
	}
	var d *damageError
	if errors.As(err, &d) {
		msg := d.msg
		if s.decomp != nil && !strings.Contains(msg, s.decomp.kind) {
			// Offsets count decompressed bytes; damage there most
			// often is damage to the compressed file.
			msg += " of the " + s.decomp.kind + "-decompressed capture"
		}
		s.status(emit, sources.Warning, d.kind, msg)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	return nil
}

// reader builds the format-specific record reader.
func (s *Source) reader(emit sources.Emitter) (nextFunc, error) {
	if s.format == formatPcap {
		r, err := newPcapReader(s.in, s.arena, s.order, s.nano)
		if err != nil {
			return nil, err
		}
		return r.next, nil
	}
	se, _ := emit.(SecretsEmitter)
	secret := func(kind uint32, data []byte) {
		s.status(emit, sources.Info, "secrets", fmt.Sprintf(
			"capture embeds %d bytes of %s in a decryption secrets block", len(data), secretsName(kind)))
		if se != nil {
			se.Secrets(kind, data)
		}
	}
	note := func(level sources.Level, kind, msg string) { s.status(emit, level, kind, msg) }
	return newPcapngReader(s.in, s.arena, secret, note).next, nil
}

// loop reads and emits packets until the end, damage or cancellation.
func (s *Source) loop(ctx context.Context, emit sources.Emitter, next nextFunc) error {
	done := ctx.Done()
	var ordinal uint64
	// p lives outside the loop: next is called through a func value, so
	// &p escapes, and one Packet per loop would cost an allocation each.
	var p sources.Packet
	for {
		select {
		case <-done:
			return nil
		default:
		}
		p = sources.Packet{}
		if err := next(&p); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			var d *damageError
			if errors.As(err, &d) && ordinal > 0 {
				d.msg += fmt.Sprintf(" (after %d good packets)", ordinal)
			}
			return err
		}
		ordinal++
		p.Ordinal = ordinal
		p.Source = s.name
		if !s.seekable {
			p.Offset = -1
		}
		emit.Packet(p)
	}
}

func (s *Source) status(emit sources.Emitter, level sources.Level, kind, msg string) {
	emit.Status(sources.Status{Time: time.Now(), Source: s.name, Level: level, Kind: kind, Message: msg})
}

// secretsName names a secrets kind for a status message.
func secretsName(kind uint32) string {
	switch kind {
	case SecretsTLSKeyLog:
		return "TLS key log"
	case SecretsSSHKeyLog:
		return "SSH key log"
	case SecretsWireGuard:
		return "WireGuard keys"
	case SecretsZigBeeNWK, SecretsZigBeeAPS:
		return "ZigBee keys"
	case SecretsOPCUAKeyLog:
		return "OPC UA key log"
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], kind)
	return fmt.Sprintf("secrets of type 0x%08x (%q)", kind, bytes.TrimRight(b[:], "\x00"))
}
