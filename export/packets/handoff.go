package packets

// handoff carries values from one goroutine to another in batches (one
// channel operation per value was a sixth of pass two's CPU), and lets
// the receiver give read batches back so the sender refills them instead
// of allocating: pass one's stream follower, pass two's re-read capture
// and its output goroutine each use one.
type handoff[T any] struct {
	size  int
	batch []T             // being filled by the sender
	next  []T             // a batch the sender took from free itself (see output.newHeld)
	queue chan []T        // to the receiver, closed by close
	free  chan []T        // read batches, back to the sender
	stop  <-chan struct{} // closed when the receiver stops reading (nil: never)
}

func newHandoff[T any](size, queue int, stop <-chan struct{}) *handoff[T] {
	return &handoff[T]{
		size:  size,
		batch: make([]T, 0, size),
		queue: make(chan []T, queue),
		free:  make(chan []T, queue+2),
		stop:  stop,
	}
}

// add queues v, handing the batch over when it is full.
func (h *handoff[T]) add(v T) {
	h.batch = append(h.batch, v)
	if len(h.batch) == h.size {
		h.flush()
	}
}

// flush hands over what is queued (unless the receiver stopped) and
// starts a new batch, a given-back one when there is one.
func (h *handoff[T]) flush() {
	if len(h.batch) == 0 {
		return
	}
	select {
	case h.queue <- h.batch:
	case <-h.stop:
	}
	switch {
	case h.next != nil:
		h.batch, h.next = h.next, nil
	default:
		select {
		case b := <-h.free:
			h.batch = b[:0]
		default:
			h.batch = make([]T, 0, h.size)
		}
	}
}

// close hands over the last batch and tells the receiver no more come.
func (h *handoff[T]) close() {
	h.flush()
	close(h.queue)
}

// giveBack returns a batch the receiver is done with, at its length (the
// output's sender takes its held packets back from it), if the sender
// has room for it; the sender empties it before refilling.
func (h *handoff[T]) giveBack(b []T) {
	select {
	case h.free <- b:
	default:
	}
}
