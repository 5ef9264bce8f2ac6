package packets

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/tapview/tapview/export/pcapw"
)

// outBatch is how many packets (or key blocks) pass two hands its
// output goroutine at once, and outQueue how many batches may wait.
const (
	outBatch = 256
	outQueue = 4
)

// outItem is one thing to write: a packet that left the look-ahead
// window (h), or a Decryption Secrets Block (h nil).
type outItem struct {
	h    *held
	kind uint32
	data []byte
}

// output writes what pass two decided on a goroutine of its own:
// checksums of changed packets, the text of exchange comments and the
// encoding into the writer. On one goroutine with the re-read merge, the
// masking and the window, that work was a third of pass two, which ran
// on about one core while the other waited. Items are written in the
// order they are put, so the file is the same.
type output struct {
	plan *Plan
	pw   pcapw.PacketWriter
	// q gives written batches back with their held packets cleared, so
	// the producer takes its held packets and batches from them instead
	// of allocating new ones (newHeld); spare holds the packets it took.
	q     *handoff[outItem]
	done  chan struct{}
	spare []*held
	// slabs gets the bytes of each packet written (SlabPool).
	slabs *SlabPool

	// Written by the goroutine, read after done is closed.
	res Result
	err error
	// failed is set with err, so the producer can stop early.
	failed atomic.Bool
}

func newOutput(plan *Plan, pw pcapw.PacketWriter, slabs *SlabPool) *output {
	o := &output{
		plan:  plan,
		pw:    pw,
		slabs: slabs,
		q:     newHandoff[outItem](outBatch, outQueue, nil),
		done:  make(chan struct{}),
	}
	go o.run()
	return o
}

// put queues an item; after put the producer must not touch it again.
func (o *output) put(it outItem) { o.q.add(it) }

// newHeld returns a cleared held packet for the producer.
func (o *output) newHeld() *held {
	if len(o.spare) == 0 {
		select {
		case b := <-o.q.free:
			for i := range b {
				if b[i].h != nil {
					o.spare = append(o.spare, b[i].h)
				}
				b[i] = outItem{}
			}
			o.q.next = b[:0]
		default:
		}
	}
	if n := len(o.spare); n > 0 {
		h := o.spare[n-1]
		o.spare = o.spare[:n-1]
		return h
	}
	return new(held)
}

// close writes what is queued and returns the counts and the first
// error; the producer's counts are not in it.
func (o *output) close() (Result, error) {
	o.q.close()
	<-o.done
	return o.res, o.err
}

func (o *output) run() {
	defer close(o.done)
	for b := range o.q.queue {
		if o.err != nil {
			continue // drain, so the producer never blocks
		}
		for i := range b {
			if err := o.write(&b[i]); err != nil {
				o.err = err
				o.failed.Store(true)
				break
			}
		}
		if o.err == nil {
			for i := range b {
				if h := b[i].h; h != nil {
					clear(h.sums)
					*h = held{sums: h.sums[:0]}
				}
			}
			o.q.giveBack(b)
		}
	}
}

func (o *output) write(it *outItem) error {
	h := it.h
	if h == nil {
		sw, ok := o.pw.(secretsWriter)
		if !ok {
			return nil
		}
		if err := sw.WriteSecrets(it.kind, it.data); err != nil {
			return err
		}
		o.res.KeyBlocks++
		return nil
	}
	if h.changed {
		o.res.Masked++
		if h.fix() {
			o.res.Fixed++
		}
	}
	comment := h.pkt.comment
	if len(h.sums) > 0 {
		comment = joinComment(joinTexts(h.sums), comment)
	}
	if comment != "" {
		o.res.Comments += strings.Count(comment, "\n") + 1
	}
	if err := o.pw.WritePacket(h.pkt.p, comment); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	o.slabs.release(h.pkt.p.Data)
	o.res.Packets++
	return nil
}
