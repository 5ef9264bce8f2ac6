package pcapw

import (
	"bufio"
	"fmt"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tapview/tapview/sources"
)

// DefaultSnapLen is the snapshot length written when the caller gives 0.
// It matches tcpdump's default, so no realistic frame is cut.
const DefaultSnapLen = 262144

// PcapWriter writes a classic (libpcap) capture: one link type per file,
// no comments. It exists because some tools still read only pcap; use
// PcapngWriter whenever packets of several link types or comments matter.
type PcapWriter struct {
	buf      *bufio.Writer
	pw       *pcapgo.Writer
	linkType uint16
	snapLen  uint32
}

// NewPcap writes a pcap file header to w and returns a writer for packets
// of linkType. snapLen 0 means DefaultSnapLen; longer frames are cut to it
// (their original length is kept). nanos selects nanosecond timestamps
// (magic 0xa1b23c4d) instead of microseconds, so synthesized packets keep
// their exact order.
func NewPcap(w io.Writer, linkType uint16, snapLen uint32, nanos bool) (*PcapWriter, error) {
	if snapLen == 0 {
		snapLen = DefaultSnapLen
	}
	buf := bufio.NewWriterSize(w, 64<<10)
	var pw *pcapgo.Writer
	if nanos {
		pw = pcapgo.NewWriterNanos(buf)
	} else {
		pw = pcapgo.NewWriter(buf)
	}
	if err := pw.WriteFileHeader(snapLen, layers.LinkType(linkType)); err != nil {
		return nil, fmt.Errorf("pcap: write file header: %w", err)
	}
	return &PcapWriter{buf: buf, pw: pw, linkType: linkType, snapLen: snapLen}, nil
}

// WritePacket appends p. The comment is dropped: pcap has nowhere to keep
// it. A packet of another link type than the file's is refused with a
// *LinkTypeError and nothing is written.
func (w *PcapWriter) WritePacket(p sources.Packet, comment string) error {
	if p.LinkType != w.linkType {
		return &LinkTypeError{File: w.linkType, Packet: p.LinkType}
	}
	data, orig := clip(p, w.snapLen)
	ci := gopacket.CaptureInfo{Timestamp: p.Timestamp, CaptureLength: len(data), Length: orig}
	if err := w.pw.WritePacket(ci, data); err != nil {
		return fmt.Errorf("pcap: write packet %d: %w", p.Ordinal, err)
	}
	return nil
}

// Flush writes buffered packets to the underlying writer.
func (w *PcapWriter) Flush() error {
	if err := w.buf.Flush(); err != nil {
		return fmt.Errorf("pcap: flush: %w", err)
	}
	return nil
}

// clip applies a snapshot length (0 = none) and returns the bytes to store
// and the original length, which is never below the stored length.
func clip(p sources.Packet, snapLen uint32) ([]byte, int) {
	data := p.Data
	if snapLen > 0 && uint32(len(data)) > snapLen {
		data = data[:snapLen]
	}
	orig := p.OrigLen
	if orig < len(p.Data) {
		orig = len(p.Data)
	}
	return data, orig
}
