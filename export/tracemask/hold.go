package tracemask

import (
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/proto"
)

// heldKey names one streamed trace: HTTP and socket trace ids are
// separate spaces in Envoy.
type heldKey struct {
	socket bool
	id     uint64
}

// pending is a streamed trace's segments not yet masked.
type pending struct {
	segs  []*tapv3.TraceWrapper
	bytes int64
}

// hold1 holds one streamed segment and returns what is released.
func (x *Masker) hold1(k heldKey, w *tapv3.TraceWrapper, complete bool) []*tapv3.TraceWrapper {
	p := x.held[k]
	if p == nil {
		p = &pending{}
		x.held[k] = p
		x.order = append(x.order, k)
	}
	n := int64(proto.Size(w))
	p.segs = append(p.segs, w)
	p.bytes += n
	x.bytes += n
	var out []*tapv3.TraceWrapper
	if complete {
		out = x.release(k, p)
	}
	for x.bytes > x.hold && len(x.order) > 0 {
		k0 := x.order[0]
		x.order = x.order[1:]
		if p0 := x.held[k0]; p0 != nil {
			out = append(out, x.release(k0, p0)...)
		}
	}
	if len(x.order) > 2*len(x.held)+64 {
		live := x.order[:0]
		for _, k := range x.order {
			if x.held[k] != nil {
				live = append(live, k)
			}
		}
		x.order = live
	}
	return out
}

// release masks a held trace's segments as one unit and returns them.
func (x *Masker) release(k heldKey, p *pending) []*tapv3.TraceWrapper {
	delete(x.held, k)
	x.bytes -= p.bytes
	var changed bool
	if k.socket {
		changed = x.socketStreamed(p.segs)
	} else {
		changed = x.httpStreamed(p.segs)
	}
	for range p.segs {
		x.done(false)
	}
	if changed {
		x.stats.Changed++
	}
	return p.segs
}
