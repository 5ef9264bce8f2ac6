package pcapfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tapview/tapview/sources"
)

// pcapng block types (draft-ietf-opsawg-pcapng).
const (
	blockSHB      = 0x0a0d0d0a // Section Header
	blockIDB      = 0x00000001 // Interface Description
	blockPB       = 0x00000002 // Packet (obsolete, still written by old tools)
	blockSPB      = 0x00000003 // Simple Packet
	blockEPB      = 0x00000006 // Enhanced Packet
	blockDSB      = 0x0000000a // Decryption Secrets
	byteOrderMark = 0x1a2b3c4d
)

// IDB options this reader uses.
const (
	optEnd      = 0
	optTSResol  = 9
	optTSOffset = 14
)

const (
	// maxMetaBlock bounds blocks that are skipped or parsed for options.
	// Real ones are tiny; a larger length is damage, not data.
	maxMetaBlock = 16 << 20
	// maxInterfaces bounds the interface table of one section so a file
	// of nothing but IDBs cannot grow it without limit.
	maxInterfaces = 1 << 16
	// defaultTSResol is the pcapng default: microseconds.
	defaultTSResol = 6
)

// ngInterface is what packets need from an Interface Description Block.
type ngInterface struct {
	link     uint16
	snaplen  uint32
	limit    int
	tsresol  uint8 // raw if_tsresol: 10^-n, or 2^-(n&0x7f) when the top bit is set
	tsoffset int64 // seconds added to every timestamp (if_tsoffset)
}

// pcapngReader reads pcapng block by block. gopacket's pcapgo.NgReader
// was not used because it exposes no record offsets (needed for
// re-reading bodies and for damage reports) and, like any reader that
// hides the block structure, cannot say at which byte a file is cut or
// corrupt; the format is simple enough to read directly.
type pcapngReader struct {
	in     *input
	arena  *arena
	order  binary.ByteOrder
	ifaces []ngInterface
	count  int
	// lastTS is the previous packet's time, given to Simple Packet Blocks,
	// which carry none.
	lastTS time.Time
	// secret receives Decryption Secrets Blocks; note receives
	// non-fatal observations.
	secret func(kind uint32, data []byte)
	note   func(level sources.Level, kind, msg string)
}

func newPcapngReader(in *input, a *arena, secret func(uint32, []byte), note func(sources.Level, string, string)) *pcapngReader {
	return &pcapngReader{in: in, arena: a, order: binary.LittleEndian,
		lastTS: time.Unix(0, 0), secret: secret, note: note}
}

// next reads blocks until one holds a packet, which it puts in p. It
// returns io.EOF at a clean end of file (after a complete block).
func (r *pcapngReader) next(p *sources.Packet) error {
	for {
		start := r.in.off
		h, err := r.in.peek(8)
		if err != nil {
			if len(h) == 0 && errors.Is(err, io.EOF) {
				return io.EOF
			}
			return shortRead(err, "a block", start)
		}
		// The SHB type reads the same in both byte orders; its own byte
		// order mark says how to read its length and everything after.
		if binary.LittleEndian.Uint32(h[0:4]) == blockSHB {
			if err := r.sectionHeader(start); err != nil {
				return err
			}
			continue
		}
		btype := r.order.Uint32(h[0:4])
		blen := int64(r.order.Uint32(h[4:8]))
		if blen < 12 || blen%4 != 0 {
			return corruptAt(start, "block of type 0x%x has impossible length %d", btype, blen)
		}
		var got bool
		switch btype {
		case blockEPB, blockPB:
			got, err = true, r.packetBlock(p, start, btype, blen)
		case blockSPB:
			got, err = true, r.simplePacket(p, start, blen)
		case blockIDB:
			err = r.interfaceBlock(start, blen)
		case blockDSB:
			err = r.secretsBlock(start, blen)
		default:
			// Name Resolution, Interface Statistics, Custom and unknown
			// blocks carry nothing a packet needs.
			if blen > maxMetaBlock {
				return corruptAt(start, "block of type 0x%x claims %d bytes", btype, blen)
			}
			err = r.finish(start, blen, "a block")
		}
		if err != nil {
			return err
		}
		if got {
			r.count++
			return nil
		}
	}
}

// sectionHeader starts a new section: byte order and interfaces reset.
func (r *pcapngReader) sectionHeader(start int64) error {
	h, err := r.in.peek(16)
	if err != nil {
		return shortRead(err, "a section header", start)
	}
	switch {
	case binary.BigEndian.Uint32(h[8:12]) == byteOrderMark:
		r.order = binary.BigEndian
	case binary.LittleEndian.Uint32(h[8:12]) == byteOrderMark:
		r.order = binary.LittleEndian
	default:
		return corruptAt(start, "section header has no valid byte-order mark")
	}
	blen := int64(r.order.Uint32(h[4:8]))
	if blen < 28 || blen%4 != 0 || blen > maxMetaBlock {
		return corruptAt(start, "section header has impossible length %d", blen)
	}
	if major := r.order.Uint16(h[12:14]); major != 1 {
		return corruptAt(start, "pcapng version %d.%d is not supported", major, r.order.Uint16(h[14:16]))
	}
	r.ifaces = r.ifaces[:0]
	return r.finish(start, blen, "a section header")
}

// interfaceBlock records an interface's link type, snaplen and timestamp
// options. Options are parsed in place from the read buffer, so a huge
// options area costs no memory.
func (r *pcapngReader) interfaceBlock(start, blen int64) error {
	if blen < 20 || blen > maxMetaBlock {
		return corruptAt(start, "interface description has impossible length %d", blen)
	}
	if len(r.ifaces) >= maxInterfaces {
		return corruptAt(start, "more than %d interfaces in one section", maxInterfaces)
	}
	h, err := r.in.peek(16)
	if err != nil {
		return shortRead(err, "an interface description", start)
	}
	ifc := ngInterface{link: r.order.Uint16(h[8:10]), snaplen: r.order.Uint32(h[12:16]),
		tsresol: defaultTSResol}
	ifc.limit = recordLimit(ifc.snaplen)
	if err := r.in.skip(16); err != nil {
		return shortRead(err, "an interface description", start)
	}
	if err := r.interfaceOptions(&ifc, start, blen-20); err != nil {
		return err
	}
	if !resolutionOK(ifc.tsresol) {
		r.note(sources.Warning, "timestamps", fmt.Sprintf(
			"interface %d (block at byte %d) has an unusable timestamp resolution 0x%02x; assuming microseconds",
			len(r.ifaces), start, ifc.tsresol))
		ifc.tsresol = defaultTSResol
	}
	r.ifaces = append(r.ifaces, ifc)
	return r.finish(start, blen, "an interface description")
}

// interfaceOptions walks the options area (size bytes) of an IDB.
// Malformed options end the walk; the block itself is still usable.
func (r *pcapngReader) interfaceOptions(ifc *ngInterface, start, size int64) error {
	for size >= 4 {
		h, err := r.in.peek(4)
		if err != nil {
			return shortRead(err, "an interface description", start)
		}
		code, olen := r.order.Uint16(h[0:2]), int64(r.order.Uint16(h[2:4]))
		padded := (olen + 3) &^ 3
		if code == optEnd || padded > size-4 {
			return nil
		}
		if err := r.in.skip(4); err != nil {
			return shortRead(err, "an interface description", start)
		}
		if (code == optTSResol && olen >= 1) || (code == optTSOffset && olen >= 8) {
			v, err := r.in.peek(min(int(olen), 8))
			if err != nil {
				return shortRead(err, "an interface description", start)
			}
			if code == optTSResol {
				ifc.tsresol = v[0]
			} else {
				ifc.tsoffset = int64(r.order.Uint64(v[0:8]))
			}
		}
		if err := r.in.skip(padded); err != nil {
			return shortRead(err, "an interface description", start)
		}
		size -= 4 + padded
	}
	return nil
}

// packetBlock reads an Enhanced Packet Block or the obsolete Packet Block;
// both have a 20-byte fixed part that differs only in how the interface
// id is stored.
func (r *pcapngReader) packetBlock(p *sources.Packet, start int64, btype uint32, blen int64) error {
	if blen < 32 {
		return corruptAt(start, "packet block has impossible length %d", blen)
	}
	h, err := r.in.peek(28)
	if err != nil {
		return shortRead(err, "a packet", start)
	}
	id := int64(r.order.Uint32(h[8:12]))
	if btype == blockPB {
		id = int64(r.order.Uint16(h[8:10]))
	}
	ts := uint64(r.order.Uint32(h[12:16]))<<32 | uint64(r.order.Uint32(h[16:20]))
	caplen, origlen := int64(r.order.Uint32(h[20:24])), r.order.Uint32(h[24:28])
	if id >= int64(len(r.ifaces)) {
		return corruptAt(start, "packet refers to interface %d, but the section describes %d",
			id, len(r.ifaces))
	}
	ifc := &r.ifaces[id]
	if caplen > int64(ifc.limit) {
		return corruptAt(start, "packet %d claims %d captured bytes, more than the %d-byte limit",
			r.count+1, caplen, ifc.limit)
	}
	if (caplen+3)&^3 > blen-32 {
		return corruptAt(start, "packet %d claims %d captured bytes in a %d-byte block",
			r.count+1, caplen, blen)
	}
	if err := r.in.skip(28); err != nil {
		return shortRead(err, "a packet", start)
	}
	data, err := r.in.readPacket(r.arena, int(caplen))
	if err != nil {
		return shortRead(err, "a packet", start)
	}
	r.lastTS = timestamp(ts, ifc.tsresol, ifc.tsoffset)
	*p = sources.Packet{
		Timestamp: r.lastTS,
		OrigLen:   int(max(int64(origlen), caplen)),
		LinkType:  ifc.link,
		Data:      data,
		Interface: int(id),
		Offset:    start,
	}
	return r.finish(start, blen, "a packet")
}

// simplePacket reads a Simple Packet Block. It has no interface id (it
// belongs to the section's first interface) and no timestamp: the packet
// gets the previous packet's timestamp (the Unix epoch if it is the
// first), so time never jumps backwards because of it.
func (r *pcapngReader) simplePacket(p *sources.Packet, start, blen int64) error {
	if blen < 16 {
		return corruptAt(start, "simple packet block has impossible length %d", blen)
	}
	if len(r.ifaces) == 0 {
		return corruptAt(start, "simple packet block before any interface description")
	}
	h, err := r.in.peek(12)
	if err != nil {
		return shortRead(err, "a packet", start)
	}
	origlen := r.order.Uint32(h[8:12])
	ifc := &r.ifaces[0]
	// The captured length is implied: the original length, cut to the
	// interface snaplen and to what the block holds.
	caplen := int64(origlen)
	if ifc.snaplen != 0 {
		caplen = min(caplen, int64(ifc.snaplen))
	}
	caplen = min(caplen, blen-16)
	if caplen > int64(ifc.limit) {
		return corruptAt(start, "packet %d claims %d captured bytes, more than the %d-byte limit",
			r.count+1, caplen, ifc.limit)
	}
	if err := r.in.skip(12); err != nil {
		return shortRead(err, "a packet", start)
	}
	data, err := r.in.readPacket(r.arena, int(caplen))
	if err != nil {
		return shortRead(err, "a packet", start)
	}
	*p = sources.Packet{
		Timestamp: r.lastTS,
		OrigLen:   int(max(int64(origlen), caplen)),
		LinkType:  ifc.link,
		Data:      data,
		Offset:    start,
	}
	return r.finish(start, blen, "a packet")
}

// secretsBlock hands a Decryption Secrets Block's payload to r.secret.
func (r *pcapngReader) secretsBlock(start, blen int64) error {
	if blen < 20 || blen > maxMetaBlock {
		return corruptAt(start, "decryption secrets block has impossible length %d", blen)
	}
	h, err := r.in.peek(16)
	if err != nil {
		return shortRead(err, "a decryption secrets block", start)
	}
	kind, n := r.order.Uint32(h[8:12]), int64(r.order.Uint32(h[12:16]))
	if (n+3)&^3 > blen-20 {
		return corruptAt(start, "decryption secrets block claims %d bytes in a %d-byte block", n, blen)
	}
	if err := r.in.skip(16); err != nil {
		return shortRead(err, "a decryption secrets block", start)
	}
	data, err := r.in.readGrowing(int(n))
	if err != nil {
		return shortRead(err, "a decryption secrets block", start)
	}
	if err := r.finish(start, blen, "a decryption secrets block"); err != nil {
		return err
	}
	r.secret(kind, data)
	return nil
}

// finish skips the rest of the block starting at start and checks that
// its trailing length repeats the leading one, which is how damage inside
// a block is noticed.
func (r *pcapngReader) finish(start, blen int64, what string) error {
	if err := r.in.skip(start + blen - 4 - r.in.off); err != nil {
		return shortRead(err, what, start)
	}
	t, err := r.in.peek(4)
	if err != nil {
		return shortRead(err, what, start)
	}
	if tl := int64(r.order.Uint32(t)); tl != blen {
		return corruptAt(start, "block length %d at its start but %d at its end", blen, tl)
	}
	if err := r.in.skip(4); err != nil {
		return shortRead(err, what, start)
	}
	return nil
}
