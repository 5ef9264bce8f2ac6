package pcapw

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/tapview/tapview/sources"
)

// The pcapng writer encodes blocks itself rather than through pcapgo's
// NgWriter: that writer must emit an interface block in its constructor,
// before tapview knows which sources and link types will follow, and it
// cannot produce a valid empty section. The format is small (IETF draft
// "PCAP Next Generation (pcapng) Capture File Format"); every block is
// written little-endian.

// Block types and option codes used here.
const (
	blockSHB = 0x0A0D0D0A
	blockIDB = 0x00000001
	blockEPB = 0x00000006
	blockDSB = 0x0000000A

	byteOrderMagic = 0x1A2B3C4D

	optEnd         = 0
	optComment     = 1
	optSHBHardware = 2
	optSHBOS       = 3
	optSHBUserAppl = 4
	optIfName      = 2
	optIfTsresol   = 9
)

// SecretsTLSKeyLog is the Decryption Secrets Block type for an NSS key
// log ("TLSK"), the form Wireshark uses to decrypt TLS in a pcapng.
const SecretsTLSKeyLog uint32 = 0x544c534b

// NgOptions describes the section a PcapngWriter opens.
type NgOptions struct {
	// Comment is the section comment (opt_comment), e.g. "masked by
	// tapview", so whoever opens the file knows how it was made.
	Comment string
	// Application is shb_userappl, e.g. "tapview v0.3".
	Application string
	// OS and Hardware are shb_os and shb_hardware; empty ones are left out.
	OS, Hardware string
	// SnapLen is written to every interface; frames longer than it are
	// cut (original length kept). 0, or anything above DefaultSnapLen,
	// means DefaultSnapLen: Wireshark and tshark refuse a pcapng packet
	// longer than 262144 bytes and stop reading the file there, and
	// loopback or GRO-reassembled frames can be longer.
	SnapLen uint32
}

type ifaceKey struct {
	source   string
	linkType uint16
}

// PcapngWriter writes one pcapng section. Interfaces are added on demand,
// one per (packet source, link type), named after the source with
// nanosecond timestamps, so packets from several pods or agents stay
// distinguishable in Wireshark.
type PcapngWriter struct {
	w       *bufio.Writer
	snapLen uint32
	ifaces  map[ifaceKey]uint32
	block   []byte // reused scratch for one block
}

// NewPcapng writes a Section Header Block to w and returns a writer for
// packets of any link type.
func NewPcapng(w io.Writer, opts NgOptions) (*PcapngWriter, error) {
	if opts.SnapLen == 0 || opts.SnapLen > DefaultSnapLen {
		opts.SnapLen = DefaultSnapLen
	}
	nw := &PcapngWriter{
		w:       bufio.NewWriterSize(w, 64<<10),
		snapLen: opts.SnapLen,
		ifaces:  make(map[ifaceKey]uint32),
	}
	b := nw.begin(blockSHB)
	b = le32(b, byteOrderMagic)
	b = le16(b, 1) // major version
	b = le16(b, 0) // minor version
	b = le64(b, ^uint64(0))
	var opt options
	opt.str(optComment, opts.Comment)
	opt.str(optSHBHardware, opts.Hardware)
	opt.str(optSHBOS, opts.OS)
	opt.str(optSHBUserAppl, opts.Application)
	if err := nw.finish(append(b, opt.bytes()...)); err != nil {
		return nil, fmt.Errorf("pcapng: write section header: %w", err)
	}
	return nw, nil
}

// WritePacket appends p as an Enhanced Packet Block on the interface for
// (p.Source, p.LinkType), writing that interface's description first if
// it is new. A non-empty comment becomes the packet's opt_comment.
func (w *PcapngWriter) WritePacket(p sources.Packet, comment string) error {
	id, err := w.iface(p.Source, p.LinkType)
	if err != nil {
		return err
	}
	data, orig := clip(p, w.snapLen)
	ts := uint64(p.Timestamp.UnixNano())
	b := w.begin(blockEPB)
	b = le32(b, id)
	b = le32(b, uint32(ts>>32))
	b = le32(b, uint32(ts))
	b = le32(b, uint32(len(data)))
	b = le32(b, uint32(orig))
	b = pad(append(b, data...))
	var opt options
	opt.str(optComment, comment)
	if err := w.finish(append(b, opt.bytes()...)); err != nil {
		return fmt.Errorf("pcapng: write packet %d: %w", p.Ordinal, err)
	}
	return nil
}

// WriteTLSKeyLog writes a Decryption Secrets Block holding keyLog (NSS
// key log lines). Call it before the packets whose TLS sessions it
// decrypts: Wireshark applies secrets from the point they appear.
func (w *PcapngWriter) WriteTLSKeyLog(keyLog []byte) error {
	return w.WriteSecrets(SecretsTLSKeyLog, keyLog)
}

// WriteSecrets writes a Decryption Secrets Block of any secrets type
// (TLS key log, WireGuard keys, ...), for the types WriteTLSKeyLog does
// not cover.
func (w *PcapngWriter) WriteSecrets(secretsType uint32, data []byte) error {
	b := w.begin(blockDSB)
	b = le32(b, secretsType)
	b = le32(b, uint32(len(data)))
	b = pad(append(b, data...))
	if err := w.finish(b); err != nil {
		return fmt.Errorf("pcapng: write decryption secrets: %w", err)
	}
	return nil
}

// Flush writes buffered blocks to the underlying writer.
func (w *PcapngWriter) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("pcapng: flush: %w", err)
	}
	return nil
}

// iface returns the interface id for (source, linkType), writing an
// Interface Description Block the first time the pair is seen.
func (w *PcapngWriter) iface(source string, linkType uint16) (uint32, error) {
	key := ifaceKey{source, linkType}
	if id, ok := w.ifaces[key]; ok {
		return id, nil
	}
	id := uint32(len(w.ifaces))
	b := w.begin(blockIDB)
	b = le16(b, linkType)
	b = le16(b, 0) // reserved
	b = le32(b, w.snapLen)
	var opt options
	opt.str(optIfName, source)
	opt.add(optIfTsresol, []byte{9}) // 10^-9 s: time.Time's resolution
	if err := w.finish(append(b, opt.bytes()...)); err != nil {
		return 0, fmt.Errorf("pcapng: write interface %q (link type %d): %w", source, linkType, err)
	}
	w.ifaces[key] = id
	return id, nil
}

// begin starts a block in the scratch buffer: type and a placeholder for
// the total length.
func (w *PcapngWriter) begin(typ uint32) []byte {
	b := le32(w.block[:0], typ)
	return le32(b, 0)
}

// finish fills in the total length at both ends of the block and writes it.
func (w *PcapngWriter) finish(b []byte) error {
	total := uint32(len(b) + 4)
	binary.LittleEndian.PutUint32(b[4:8], total)
	b = le32(b, total)
	w.block = b
	_, err := w.w.Write(b)
	return err
}

// options collects a block's options; empty values are skipped.
type options struct{ b []byte }

func (o *options) str(code uint16, v string) {
	if v != "" {
		o.add(code, []byte(v))
	}
}

// add appends one option. A value longer than the 16-bit length field
// allows (only possible for a huge comment) is cut rather than corrupting
// the block.
func (o *options) add(code uint16, v []byte) {
	if len(v) > 0xFFFF {
		v = v[:0xFFFF]
	}
	o.b = le16(o.b, code)
	o.b = le16(o.b, uint16(len(v)))
	o.b = pad(append(o.b, v...))
}

// bytes returns the encoded options with opt_endofopt, or nothing when no
// option was added (the end marker is optional then).
func (o *options) bytes() []byte {
	if len(o.b) == 0 {
		return nil
	}
	return le32(o.b, optEnd)
}

func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func le16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func le64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }
