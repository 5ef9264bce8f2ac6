package store

// idList is one list's order: the IDs of its items by position. Positions
// are absolute: the first item ever listed is position 0, and evicting
// from the front raises base instead of renumbering, so positions a view
// remembers (cursor, filter matches) stay valid.
type idList struct {
	base int      // position of ids[head]
	ids  []uint64 // ids[head:] are listed
	head int
}

func (l *idList) len() int { return len(l.ids) - l.head }

// end is one past the last position ever listed.
func (l *idList) end() int { return l.base + l.len() }

func (l *idList) push(id uint64) { l.ids = append(l.ids, id) }

func (l *idList) front() (uint64, bool) {
	if l.len() == 0 {
		return 0, false
	}
	return l.ids[l.head], true
}

func (l *idList) pop() {
	l.head++
	l.base++
	if l.head >= 1024 && l.head*2 >= len(l.ids) {
		n := copy(l.ids, l.ids[l.head:])
		clear(l.ids[n:])
		l.ids = l.ids[:n]
		l.head = 0
	}
}

// at returns the ID at absolute position pos.
func (l *idList) at(pos int) (uint64, bool) {
	i := pos - l.base
	if i < 0 || i >= l.len() {
		return 0, false
	}
	return l.ids[l.head+i], true
}

// rec is what the store keeps of one exchange: where its summary is in
// the arena (0 while it is pending, when the exchange itself is kept), and
// where the whole exchange is on disk, plus which lists show it.
type rec struct {
	sum   sref
	full  uint64 // spill reference, 0 when not spilled
	lists uint8  // bit i: listed by list i
	state uint8
}

// rec states.
const (
	recNone uint8 = iota
	recPending
	recFinal
)

// recTable maps exchange IDs to recs. Decoders hand out IDs in sequence,
// so a dense window (16-24 bytes an exchange, no hashing) covers nearly
// all of them; IDs far outside it go to a map.
type recTable struct {
	base   uint64 // ID of dense[head]
	dense  []rec
	head   int
	sparse map[uint64]*rec
}

// maxGap is how far past the dense window an ID may be before it goes to
// the sparse map instead of growing the window with empty slots.
const maxGap = 1 << 16

// get returns the rec of id, or nil.
func (t *recTable) get(id uint64) *rec {
	if id >= t.base {
		if i := id - t.base; i < uint64(len(t.dense)-t.head) {
			r := &t.dense[t.head+int(i)]
			if r.state == recNone {
				return nil
			}
			return r
		}
	}
	return t.sparse[id]
}

// put returns the rec of id, creating it.
func (t *recTable) put(id uint64) *rec {
	if r := t.get(id); r != nil {
		return r
	}
	n := uint64(len(t.dense) - t.head)
	if n == 0 && len(t.sparse) == 0 {
		t.base, t.dense, t.head = id, t.dense[:0], 0
		n = 0
	}
	if id >= t.base && id-t.base < n+maxGap {
		for uint64(len(t.dense)-t.head) <= id-t.base {
			t.dense = append(t.dense, rec{})
		}
		return &t.dense[t.head+int(id-t.base)]
	}
	if t.sparse == nil {
		t.sparse = make(map[uint64]*rec)
	}
	r := &rec{}
	t.sparse[id] = r
	return r
}

// drop forgets id and trims empty slots from the dense window's front.
func (t *recTable) drop(id uint64) {
	if r, ok := t.sparse[id]; ok {
		*r = rec{}
		delete(t.sparse, id)
		return
	}
	if id < t.base || id-t.base >= uint64(len(t.dense)-t.head) {
		return
	}
	t.dense[t.head+int(id-t.base)] = rec{}
	for t.head < len(t.dense) && t.dense[t.head].state == recNone {
		t.head++
		t.base++
	}
	if t.head >= 4096 && t.head*2 >= len(t.dense) {
		n := copy(t.dense, t.dense[t.head:])
		t.dense = t.dense[:n]
		t.head = 0
	}
}

// size estimates the table's memory from the slots in use (capacity
// would not shrink as the front is evicted, and eviction must be able to
// bring the estimate down).
func (t *recTable) size() int64 {
	return int64(len(t.dense)-t.head)*24 + int64(len(t.sparse))*64
}
