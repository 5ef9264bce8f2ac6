package jsonl

import (
	"strconv"

	"github.com/tapview/tapview/decode"
)

// tunnelField appends a flow's tunnel (node captures: the encapsulation
// and the node pair its pod traffic crossed) as
// `"tunnel":{"kind":"vxlan","vni":42,"client_node":"10.0.0.1","server_node":"10.0.0.2"}`;
// nothing for a flow that was not tunnelled. "vni" is "key" for GRE,
// "depth" appears for nested tunnels.
func tunnelField(b []byte, t *decode.Tunnel) []byte {
	if t == nil {
		return b
	}
	b = append(b, `,"tunnel":{"kind":`...)
	b = quote(b, t.Kind)
	if t.HasID {
		if t.Kind == "gre" {
			b = append(b, `,"key":`...)
		} else {
			b = append(b, `,"vni":`...)
		}
		b = strconv.AppendUint(b, uint64(t.ID), 10)
	}
	if t.Depth > 1 {
		b = append(b, `,"depth":`...)
		b = strconv.AppendInt(b, int64(t.Depth), 10)
	}
	if t.ClientNode.IsValid() {
		b = append(b, `,"client_node":"`...)
		b = t.ClientNode.AppendTo(b)
		b = append(b, '"')
	}
	if t.ServerNode.IsValid() {
		b = append(b, `,"server_node":"`...)
		b = t.ServerNode.AppendTo(b)
		b = append(b, '"')
	}
	return append(b, '}')
}
