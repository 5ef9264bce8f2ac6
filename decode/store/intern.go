package store

import "net/netip"

// Interning bounds: past these, values are written inline. Hosts, methods,
// content types, sources and addresses repeat across millions of
// exchanges, so a small table removes most of their bytes; unique values
// (a scan over many hosts) must not grow it without limit.
const (
	maxInternStrings = 1 << 16
	maxInternBytes   = 4 << 20
	maxInternLen     = 256
	maxInternAddrs   = 1 << 16
)

// interner maps repeated strings and addresses to small indexes. Entries
// are never removed: an index written into a summary stays valid for the
// life of the store.
type interner struct {
	strs    []string
	strIdx  map[string]uint32
	bytes   int
	addrs   []netip.Addr
	addrIdx map[netip.Addr]uint32
}

func newInterner() *interner {
	return &interner{strIdx: make(map[string]uint32), addrIdx: make(map[netip.Addr]uint32)}
}

// str returns the index of s, adding it when there is room.
func (in *interner) str(s string) (uint32, bool) {
	if i, ok := in.strIdx[s]; ok {
		return i, true
	}
	if len(s) > maxInternLen || len(in.strs) >= maxInternStrings || in.bytes+len(s) > maxInternBytes {
		return 0, false
	}
	s = string([]byte(s)) // own copy: s may alias a large body buffer
	i := uint32(len(in.strs))
	in.strs = append(in.strs, s)
	in.strIdx[s] = i
	in.bytes += len(s)
	return i, true
}

func (in *interner) addr(a netip.Addr) (uint32, bool) {
	if i, ok := in.addrIdx[a]; ok {
		return i, true
	}
	if len(in.addrs) >= maxInternAddrs {
		return 0, false
	}
	i := uint32(len(in.addrs))
	in.addrs = append(in.addrs, a)
	in.addrIdx[a] = i
	return i, true
}

// size estimates the table's memory for the budget.
func (in *interner) size() int64 {
	return int64(in.bytes) + int64(len(in.strs))*48 + int64(len(in.addrs))*56
}

// snapshot returns a read-only view of the tables as they are now, for
// decoding outside the store's lock: entries are only ever appended, so
// the view stays correct while the writer goes on adding.
func (in *interner) snapshot() *interner {
	return &interner{strs: in.strs, addrs: in.addrs}
}
