package tcp

import (
	"sync"

	"github.com/tapview/tapview/decode"
)

// A shard publishes each flow version as a copy that the merge
// (decode/lanes) hands on later, on another goroutine. A heap copy per
// publication (384 bytes) was more than a third of what a capture of
// 200k half-open flows allocated (680k publications), and with it most
// of the collector's work and the page faults of a heap grown for
// garbage. So a shard writes its copies into chunks, and the merge gives
// each chunk back once it has published every flow in it: the shard
// records an EventRelease for every chunk it filled since the last
// TakeEvents, after all the events of that take, and the merge calls
// Release when it gets there. The merge's output must then copy what it
// keeps of a flow (or the merge copies it first, see decode/lanes).
//
// A decoder that is not a shard publishes synchronously and keeps
// allocating a copy per publication: its output may keep it.

// flowChunkLen is how many flow copies a chunk holds (48 KiB).
const flowChunkLen = 128

// chunkPoolKeep bounds the free chunks a shard keeps (3 MiB): enough
// for the batches in flight of a capture that publishes a flow per
// packet, and for an eviction's thousands of final versions to be
// recycled by the next one.
const chunkPoolKeep = 64

// FlowChunk holds flow copies a shard published.
type FlowChunk struct {
	flows [flowChunkLen]decode.Flow
	n     int
	pool  *chunkPool
}

// chunkPool is a shard's free chunks; the merge gives chunks back from
// its goroutine, hence the lock.
type chunkPool struct {
	mu   sync.Mutex
	free []*FlowChunk
}

func (p *chunkPool) get() *FlowChunk {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return c
	}
	return &FlowChunk{pool: p}
}

// Release gives the chunk back to its shard for reuse. Call it once
// nothing refers to its flows any more: the merge calls it at the
// EventRelease that follows every publication from the chunk.
func (c *FlowChunk) Release() {
	// What the flows point to at length (TLS facts, ordinals, tunnels)
	// must not be kept alive by a free chunk; clearing whole flows cost
	// as much memory bandwidth as allocating them did. The ID goes too:
	// a flow published after its chunk's release would be lost, and
	// seen in tests.
	for i := range c.flows[:c.n] {
		f := &c.flows[i]
		f.ID, f.TLS, f.Ordinals, f.Tunnel, f.OrigDst = 0, nil, nil, nil, nil
	}
	c.n = 0
	p := c.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < chunkPoolKeep {
		p.free = append(p.free, c)
	}
}

// flowCopy returns where the next publication of a flow goes: a fresh
// heap copy, or in a shard the next place in its current chunk.
func (d *Decoder) flowCopy() *decode.Flow {
	sh := d.shard
	if sh == nil {
		return new(decode.Flow)
	}
	ch := sh.chunk
	if ch == nil || ch.n == len(ch.flows) {
		ch = sh.chunks.get()
		sh.chunk = ch
		sh.filled = append(sh.filled, ch)
	}
	f := &ch.flows[ch.n]
	ch.n++
	return f
}

// releaseChunks records, after everything else a take holds, the
// release of every chunk its events' flows are in; later publications
// go to a new chunk.
func (sh *shardState) releaseChunks() {
	for _, ch := range sh.filled {
		sh.events = append(sh.events, Event{Ordinal: sh.item, Kind: EventRelease, Phase: PhasePacket, Chunk: ch})
	}
	clear(sh.filled)
	sh.filled = sh.filled[:0]
	sh.chunk = nil
}
