package decode

import "net/netip"

// Tunnel is the encapsulation a flow was captured in: captures taken on
// a Kubernetes node carry pod traffic inside IPIP, VXLAN, Geneve or GRE
// between nodes. The flow's Client and Server are then the inner (pod)
// endpoints and the Tunnel keeps the outer ones, the node pair.
// Published flows share it: never modify one after it is set.
type Tunnel struct {
	// Kind is the outermost encapsulation: "ipip", "gre", "vxlan" or
	// "geneve".
	Kind string
	// Depth is how many encapsulations were removed (2 for an overlay run
	// over another overlay).
	Depth int
	// ID is the VXLAN or Geneve VNI, or the GRE key, when HasID.
	ID    uint32
	HasID bool
	// ClientNode and ServerNode are the outermost IP addresses on the
	// client's side and on the server's side.
	ClientNode, ServerNode netip.Addr
}

// Swapped returns a copy with the node addresses exchanged, for a flow
// whose client and server are swapped.
func (t *Tunnel) Swapped() *Tunnel {
	if t == nil {
		return nil
	}
	c := *t
	c.ClientNode, c.ServerNode = t.ServerNode, t.ClientNode
	return &c
}
