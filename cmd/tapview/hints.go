package main

import (
	"fmt"
	"io"
	"sync"

	"github.com/tapview/tapview/decode"
)

// tally counts what the decoder published before any filter, so a
// headless run that printed nothing can say why: the input had no
// exchanges tapview could decode (and its connections may be TLS without
// keys), or none matched the filter. It forwards everything to Output.
//
// Connections are told apart by flow ID only while no exchange has been
// decoded and there are at most maxTallyFlows of them: that is the case
// the hint is for, and a capture full of exchanges pays nothing more
// than a counter.
type tally struct {
	decode.Output
	// flowsOnly is set when flows are printed (--flows): the hint then
	// only needs to know whether there was any flow, and a capture of
	// many flows and no exchanges (a scan) pays for no ID set.
	flowsOnly bool
	mu        sync.Mutex
	exchanges int64
	anyFlow   bool
	flows     map[uint64]bool // flow ID: TLS without decryption
	many      bool            // more than maxTallyFlows connections
}

// maxTallyFlows bounds the flow IDs a tally keeps.
const maxTallyFlows = 100000

func (t *tally) Exchange(e *decode.Exchange) {
	if e.State.Final() {
		t.mu.Lock()
		t.exchanges++
		t.flows = nil
		t.mu.Unlock()
	}
	t.Output.Exchange(e)
}

func (t *tally) Flow(f *decode.Flow) {
	t.mu.Lock()
	t.anyFlow = true
	if !t.flowsOnly && t.exchanges == 0 && !t.many {
		if t.flows == nil {
			t.flows = map[uint64]bool{}
		}
		if _, seen := t.flows[f.ID]; seen || len(t.flows) < maxTallyFlows {
			t.flows[f.ID] = f.TLS != nil && !f.TLS.Decrypted
		} else {
			t.many = true
		}
	}
	t.mu.Unlock()
	t.Output.Flow(f)
}

// CopiesFlows says whether Output keeps no reference to a flow once Flow
// returns (a tally keeps none), so the decoder may publish flows from
// memory it reuses (see decode/lanes).
func (t *tally) CopiesFlows() bool { return decode.CopiesFlows(t.Output) }

// emptyHint writes one line to w when a headless run printed nothing
// (printed == 0), naming the likely cause and the next step.
func (t *tally) emptyHint(w io.Writer, printed int, flows bool, filterExpr string) {
	if printed > 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	conns, tlsN := int64(len(t.flows)), int64(0)
	for _, locked := range t.flows {
		if locked {
			tlsN++
		}
	}
	switch {
	case !t.anyFlow:
		fmt.Fprintln(w, "tapview: the input held no TCP or UDP connections")
	case filterExpr != "" && flows:
		fmt.Fprintf(w, "tapview: no flow matched --filter %q; check the variables with 'tapview help filters'\n", filterExpr)
	case filterExpr != "" && t.exchanges > 0:
		fmt.Fprintf(w, "tapview: none of the %d exchanges matched --filter %q; check the variables with 'tapview help filters'\n", t.exchanges, filterExpr)
	case flows || t.exchanges > 0:
	default:
		n := fmt.Sprintf("%d %s", conns, plural(conns, "connection", "connections"))
		if t.many {
			n = fmt.Sprintf("more than %d connections", maxTallyFlows)
		}
		msg := "tapview: no exchanges decoded from " + n + "; list them with --flows"
		if tlsN > 0 {
			msg += fmt.Sprintf("; %d of them %s TLS: give the session keys with --keylog FILE (an SSLKEYLOGFILE)", tlsN, plural(tlsN, "is", "are"))
		}
		fmt.Fprintln(w, msg)
	}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
