package tls

import (
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of connections that ended while waiting for their keys (a live
// key log is polled, so a short connection can end before its secrets
// are read). They keep their records for a while and are decrypted, and
// their exchanges published, when the keys arrive.
const (
	// LingerTime is how long (capture time) an ended connection waits
	// for its keys.
	LingerTime = 30 * time.Second
	maxLinger  = 64
	// maxLingerBytes bounds the records all lingering connections keep.
	maxLingerBytes = 16 << 20
)

// lingerList holds ended connections still waiting for keys. The decoder
// goroutine that calls a Parser's handlers is the one that retries them.
type lingerList struct {
	n     atomic.Int32 // len(items), read without the lock
	mu    sync.Mutex
	items []lingering
	bytes int
	gen   uint64
}

type lingering struct {
	h     *handler
	until time.Time
}

// add keeps an ended handler that has records waiting for keys.
func (l *lingerList) add(h *handler, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, lingering{h: h, until: now.Add(LingerTime)})
	l.bytes += h.pendingBytes
	for len(l.items) > maxLinger || l.bytes > maxLingerBytes {
		l.bytes -= l.items[0].h.pendingBytes
		l.items[0].h.giveUpKeys()
		l.items = l.items[1:]
	}
	l.n.Store(int32(len(l.items)))
}

// retry offers the keys that arrived since the last look to lingering
// connections and forgets those that are done or expired. It costs one
// atomic load when the key log did not change.
func (p *Parser) retryLingering(now time.Time) {
	l := &p.linger
	store := p.cfg.Keys
	if store == nil || l.n.Load() == 0 {
		return
	}
	gen := store.Generation()
	l.mu.Lock()
	if len(l.items) == 0 || (gen == l.gen && (now.IsZero() || now.Before(l.items[0].until))) {
		l.mu.Unlock()
		return
	}
	l.gen = gen
	items := l.items
	l.items, l.bytes = nil, 0
	l.n.Store(0)
	l.mu.Unlock()

	var keep []lingering
	for _, it := range items {
		it.h.checkKeys()
		switch {
		case it.h.keys == keysWaiting && (now.IsZero() || now.Before(it.until)):
			keep = append(keep, it)
		case it.h.keys == keysWaiting:
			it.h.giveUpKeys()
		default:
			it.h.finish()
		}
	}
	if len(keep) == 0 {
		return
	}
	l.mu.Lock()
	for _, it := range keep {
		l.items = append(l.items, it)
		l.bytes += it.h.pendingBytes
	}
	l.n.Store(int32(len(l.items)))
	l.mu.Unlock()
}
