package filter

import (
	"reflect"
	"strings"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"

	"github.com/tapview/tapview/decode"
)

// headerMap is the CEL map(string, string) behind req_headers and
// resp_headers. It answers `"authorization" in req_headers` and
// `req_headers["x-id"]` by scanning the ordered header list, so the common
// lookups never build a Go map; the map is built only for iteration,
// size, equality or conversion. Names are lower-case; lookups ignore
// case; repeated fields are joined with ", " as HTTP allows.
type headerMap struct {
	a, b []decode.Header // headers, then trailers
}

var _ traits.Mapper = headerMap{}

// value returns the joined value of name and whether any field had it.
func (h headerMap) value(name string) (string, bool) {
	var first string
	var joined []string
	found := false
	for _, list := range [2][]decode.Header{h.a, h.b} {
		for _, f := range list {
			if len(f.Name) != len(name) || !strings.EqualFold(f.Name, name) {
				continue
			}
			switch {
			case !found:
				first, found = f.Value, true
			case joined == nil:
				joined = []string{first, f.Value}
			default:
				joined = append(joined, f.Value)
			}
		}
	}
	if joined != nil {
		return strings.Join(joined, ", "), true
	}
	return first, found
}

// materialize builds the Go map the slower operations work on.
func (h headerMap) materialize() traits.Mapper {
	m := make(map[string]string, len(h.a)+len(h.b))
	for _, list := range [2][]decode.Header{h.a, h.b} {
		for _, f := range list {
			k := lowerASCII(f.Name)
			if _, seen := m[k]; seen {
				continue
			}
			v, _ := h.value(k)
			m[k] = v
		}
	}
	return types.NewStringStringMap(types.DefaultTypeAdapter, m)
}

// Contains implements `name in headers`.
func (h headerMap) Contains(key ref.Val) ref.Val {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key)
	}
	_, found := h.value(string(k))
	return types.Bool(found)
}

// Get implements headers[name]; a missing name is an error, which makes
// the filter not match (use `in` or has() to test presence).
func (h headerMap) Get(key ref.Val) ref.Val {
	v, found := h.Find(key)
	if !found {
		if v != nil {
			return v
		}
		return types.NewErr("no header %q", key.Value())
	}
	return v
}

// Find returns the value for a name, if present.
func (h headerMap) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key), false
	}
	v, found := h.value(string(k))
	if !found {
		return nil, false
	}
	return types.String(v), true
}

// Iterator walks the lower-case names.
func (h headerMap) Iterator() traits.Iterator { return h.materialize().Iterator() }

// Size is the number of distinct names, counted without building the
// map.
func (h headerMap) Size() ref.Val {
	all := [2][]decode.Header{h.a, h.b}
	n := 0
	for li, list := range all {
		for i, f := range list {
			if !seenBefore(all, li, i, f.Name) {
				n++
			}
		}
	}
	return types.Int(n)
}

// seenBefore reports whether name occurs (ignoring case) before field i
// of list li.
func seenBefore(all [2][]decode.Header, li, i int, name string) bool {
	for l := 0; l <= li; l++ {
		end := len(all[l])
		if l == li {
			end = i
		}
		for _, g := range all[l][:end] {
			if len(g.Name) == len(name) && strings.EqualFold(g.Name, name) {
				return true
			}
		}
	}
	return false
}

// ConvertToNative converts like a map[string]string would.
func (h headerMap) ConvertToNative(t reflect.Type) (any, error) {
	return h.materialize().ConvertToNative(t)
}

// ConvertToType supports type(req_headers) and map identity.
func (h headerMap) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return h
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from map to %q", t)
}

// Equal compares with another map by content.
func (h headerMap) Equal(other ref.Val) ref.Val { return h.materialize().Equal(other) }

// Type is map.
func (h headerMap) Type() ref.Type { return types.MapType }

// Value is the materialised map.
func (h headerMap) Value() any { return h.materialize().Value() }
