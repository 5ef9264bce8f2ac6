package filter

import (
	"fmt"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	"github.com/tapview/tapview/decode"
)

// Accessor returns a function that renders the named variable of an
// exchange as text, the value a filter would compare it with, so other
// code can group or label exchanges by the same names filters use
// (tapview stats --by status) instead of a second table that drifts.
// It goes through the same resolution as CEL, so every variable type
// renders: numbers in decimal, durations as Go durations ("1.5ms"), an
// absent value (grpc_status when none was seen) as "". Header maps have
// no single value and are refused, as are unknown names.
func Accessor(name string) (func(*decode.Exchange) string, error) {
	celName := name
	if name == "namespace" {
		celName = nsInternal
	}
	k, ok := lookup(celName)
	if !ok || name == nsInternal {
		return nil, fmt.Errorf("%q is not a filter variable (see 'tapview help filters')", name)
	}
	if typeOf(k) == tHeaders {
		return nil, fmt.Errorf("%s is a map of headers, not one value; pick one header with a filter instead", name)
	}
	return func(e *decode.Exchange) string {
		a := exchangeVars{e: e}
		v, ok := a.ResolveName(celName)
		if !ok {
			return "" // absent (grpc_status when none was seen)
		}
		if d, isDur := v.(types.Duration); isDur {
			return d.Duration.String()
		}
		if rv, isVal := v.(ref.Val); isVal {
			return fmt.Sprint(rv.Value())
		}
		return fmt.Sprint(v)
	}, nil
}
