package tcp

import (
	"net/netip"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link"
)

// flowTunnel is what the flow records of the tunnel its first packet came
// in, oriented to the flow's client: the first packet's outer source is
// the client's node when that packet came from the client. Nil when the
// packet was not tunnelled.
func flowTunnel(f *link.Frame, client netip.AddrPort) *decode.Tunnel {
	if f == nil || f.Tunnel.Kind == link.TunnelNone {
		return nil
	}
	t := &decode.Tunnel{
		Kind:       f.Tunnel.Kind.String(),
		Depth:      int(f.Tunnel.Depth),
		ID:         f.Tunnel.ID,
		HasID:      f.Tunnel.HasID,
		ClientNode: f.Tunnel.Src,
		ServerNode: f.Tunnel.Dst,
	}
	if f.Src != client.Addr() || f.SrcPort != client.Port() {
		t.ClientNode, t.ServerNode = t.ServerNode, t.ClientNode
	}
	return t
}
