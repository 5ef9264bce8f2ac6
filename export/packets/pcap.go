package packets

import (
	"errors"
	"fmt"
	"io"

	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/sources"
)

// NewPcap returns a pcap writer (nanosecond timestamps) that writes its
// file header when the first packet comes, with that packet's link type:
// a pcap file holds one link type, and an export only knows which once
// the selected packets start flowing. An export without packets is an
// Ethernet pcap without packets. A packet of another link type than the
// first is refused with an error that says to export pcapng.
func NewPcap(w io.Writer) pcapw.PacketWriter { return &lazyPcap{w: w} }

type lazyPcap struct {
	w  io.Writer
	pw *pcapw.PcapWriter
}

func (l *lazyPcap) open(linkType uint16) error {
	if l.pw != nil {
		return nil
	}
	pw, err := pcapw.NewPcap(l.w, linkType, 0, true)
	if err != nil {
		return err
	}
	l.pw = pw
	return nil
}

func (l *lazyPcap) WritePacket(p sources.Packet, comment string) error {
	if err := l.open(p.LinkType); err != nil {
		return err
	}
	err := l.pw.WritePacket(p, comment)
	var lt *pcapw.LinkTypeError
	if errors.As(err, &lt) {
		return fmt.Errorf("%w\n(export .pcapng instead: it holds several link types)", err)
	}
	return err
}

func (l *lazyPcap) Flush() error {
	if err := l.open(sources.LinkEthernet); err != nil {
		return err
	}
	return l.pw.Flush()
}
