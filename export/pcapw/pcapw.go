// Package pcapw writes packets as pcap or pcapng streams, so anything
// tapview holds (captured packets, packets synthesized from Envoy tap
// traces, masked copies) can be opened in Wireshark. Both formats sit
// behind the same small PacketWriter interface; pcapng adds per-source
// interfaces, packet comments and TLS key logs.
package pcapw

import (
	"fmt"

	"github.com/tapview/tapview/sources"
)

// PacketWriter is what exporters need from a capture writer: one packet at
// a time, then Flush. Writers buffer, so Flush must be called before the
// underlying io.Writer is closed.
type PacketWriter interface {
	// WritePacket appends p. comment is stored as the packet's comment
	// where the format has one (pcapng) and ignored otherwise.
	WritePacket(p sources.Packet, comment string) error
	// Flush writes out buffered bytes.
	Flush() error
}

// LinkTypeError reports a packet whose link type differs from the one a
// pcap file was opened with. A pcap file holds exactly one link type, so
// the caller has to export such a mix as pcapng instead.
type LinkTypeError struct {
	File   uint16 // link type in the pcap file header
	Packet uint16 // link type of the rejected packet
}

// Error says what went wrong and what to do about it.
func (e *LinkTypeError) Error() string {
	return fmt.Sprintf("pcap holds one link type (%d) but a packet has link type %d: export as pcapng to mix link types", e.File, e.Packet)
}
