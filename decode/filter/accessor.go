package filter

import (
	"fmt"
	"strconv"

	"github.com/tapview/tapview/decode"
)

// Accessor returns a function that renders the named variable of an
// exchange as text, the value a filter would compare it with, so other
// code can group or label exchanges by the same names filters use
// (tapview stats --by status) instead of a second table that drifts.
// Numbers are decimal, durations Go durations ("1.5ms"), and an absent
// grpc_status is "". Header maps have no single value and are refused,
// as are unknown names.
func Accessor(name string) (func(*decode.Exchange) string, error) {
	celName := name
	if name == "namespace" {
		celName = nsInternal
	}
	k, ok := lookup(celName)
	if !ok || name == nsInternal {
		return nil, fmt.Errorf("%q is not a filter variable (see 'tapview help filters')", name)
	}
	switch typeOf(k) {
	case tHeaders:
		return nil, fmt.Errorf("%s is a map of headers, not one value; pick one header with a filter instead", name)
	case tInt:
		return func(e *decode.Exchange) string {
			a := exchangeVars{e: e}
			n := a.num(k)
			if k == vGRPCStatus && n < 0 {
				return ""
			}
			return strconv.FormatInt(n, 10)
		}, nil
	case tDuration:
		return func(e *decode.Exchange) string {
			a := exchangeVars{e: e}
			return a.dur(k).String()
		}, nil
	}
	return func(e *decode.Exchange) string {
		a := exchangeVars{e: e}
		return a.str(k)
	}, nil
}
