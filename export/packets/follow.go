package packets

import (
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/export/streammask"
	"github.com/tapview/tapview/sources"
)

// followBatch is how many packets the source's goroutine hands the
// follower at once, and followQueue how many batches may wait.
const (
	followBatch = 256
	followQueue = 8
)

// follower runs a Tapped source's stream trackers on a goroutine of
// their own. Following the streams (reassembly, HTTP walk, masking of
// heads and bodies) took half the CPU of a masked export, and on the
// source's goroutine it held back reading, and so the decoder lanes,
// until it was done with each packet. The packets reach the trackers in
// the order the source emitted them, as before, so what they find is
// the same: only where it is computed changed. Sources never reuse a
// packet's bytes (sources.Packet), so batches carry them as they are.
type follower struct {
	in   *handoff[sources.Packet]
	done chan map[string]*streammask.Result
}

func newFollower(newTracker func() *streammask.Tracker) *follower {
	f := &follower{
		in:   newHandoff[sources.Packet](followBatch, followQueue, nil),
		done: make(chan map[string]*streammask.Result, 1),
	}
	go f.run(newTracker)
	return f
}

// add queues a packet (on the source's goroutine).
func (f *follower) add(p *sources.Packet) { f.in.add(*p) }

// finish hands over what is queued and returns each source's result
// once every packet was followed.
func (f *follower) finish() map[string]*streammask.Result {
	f.in.close()
	return <-f.done
}

func (f *follower) run(newTracker func() *streammask.Tracker) {
	track := make(map[string]*streammask.Tracker)
	var frame link.Frame
	for b := range f.in.queue {
		for i := range b {
			p := &b[i]
			if link.Parse(p.LinkType, p.Data, &frame) == nil {
				tr := track[p.Source]
				if tr == nil {
					tr = newTracker()
					track[p.Source] = tr
				}
				tr.Packet(p.Ordinal, &frame)
			}
			*p = sources.Packet{} // let the bytes go
		}
		f.in.giveBack(b)
	}
	res := make(map[string]*streammask.Result, len(track))
	for name, tr := range track {
		res[name] = tr.Finish()
	}
	f.done <- res
}
