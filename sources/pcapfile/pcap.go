package pcapfile

import (
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/tapview/tapview/sources"
)

// Classic pcap layout (tcpdump.org / draft-ietf-opsawg-pcap).
const (
	pcapFileHeaderLen   = 24
	pcapRecordHeaderLen = 16
	magicMicro          = 0xa1b2c3d4
	magicNano           = 0xa1b23c4d
)

const (
	// minRecordLimit is the smallest per-record size limit: the snaplen
	// Wireshark and tcpdump use by default, so files whose header snaplen
	// is smaller than the records they hold (common with ad-hoc writers)
	// still read.
	minRecordLimit = 256 << 10
	// maxRecordLimit bounds what a header's snaplen can raise the limit to
	// (USB and D-Bus captures reach a few MiB; nothing real needs more).
	maxRecordLimit = 64 << 20
)

// recordLimit is the largest captured length accepted for an interface
// whose snaplen is snaplen.
func recordLimit(snaplen uint32) int {
	return int(min(max(int64(snaplen), minRecordLimit), maxRecordLimit))
}

// pcapReader reads classic pcap. The format is a 24-byte header and
// 16-byte record headers, so a dedicated reader is a few lines, knows each
// record's offset, and stops on damage exactly where it is.
type pcapReader struct {
	in    *input
	arena *arena
	order binary.ByteOrder
	nano  bool
	link  uint16
	limit int
	count int
}

// newPcapReader consumes the file header. A file that ends inside the
// header is reported as truncated.
func newPcapReader(in *input, a *arena, order binary.ByteOrder, nano bool) (*pcapReader, error) {
	h, err := in.peek(pcapFileHeaderLen)
	if err != nil {
		return nil, shortRead(err, "the pcap file header", 0)
	}
	snaplen := order.Uint32(h[16:20])
	// The link-type field carries FCS information in its upper bits;
	// LINKTYPE values themselves fit in 16 bits.
	link := uint16(order.Uint32(h[20:24]))
	if err := in.skip(pcapFileHeaderLen); err != nil {
		return nil, shortRead(err, "the pcap file header", 0)
	}
	return &pcapReader{in: in, arena: a, order: order, nano: nano, link: link,
		limit: recordLimit(snaplen)}, nil
}

// next reads one record into p. It returns io.EOF at a clean end of file.
func (r *pcapReader) next(p *sources.Packet) error {
	start := r.in.off
	h, err := r.in.peek(pcapRecordHeaderLen)
	if err != nil {
		if len(h) == 0 && errors.Is(err, io.EOF) {
			return io.EOF
		}
		return shortRead(err, "a packet", start)
	}
	sec := r.order.Uint32(h[0:4])
	frac := r.order.Uint32(h[4:8])
	caplen := r.order.Uint32(h[8:12])
	origlen := r.order.Uint32(h[12:16])
	if int64(caplen) > int64(r.limit) {
		return corruptAt(start, "record %d claims %d captured bytes, more than the %d-byte limit",
			r.count+1, caplen, r.limit)
	}
	if err := r.in.skip(pcapRecordHeaderLen); err != nil {
		return shortRead(err, "a packet", start)
	}
	data, err := r.in.readPacket(r.arena, int(caplen))
	if err != nil {
		return shortRead(err, "a packet", start)
	}
	nsec := int64(frac)
	if !r.nano {
		nsec *= 1000
	}
	r.count++
	*p = sources.Packet{
		Timestamp: time.Unix(int64(sec), nsec),
		OrigLen:   int(max(origlen, caplen)),
		LinkType:  r.link,
		Data:      data,
		Offset:    start,
	}
	return nil
}
