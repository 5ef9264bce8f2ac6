package mesh

import (
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
)

// Verdict is what happened to traffic for an external destination.
type Verdict string

// Verdicts. Pending is a group whose requests have not finished yet (a
// connection still open without an answer).
const (
	Passed  Verdict = "passed"
	Blocked Verdict = "blocked"
	Failed  Verdict = "failed"
	Pending Verdict = "pending"
)

// immediate is how soon after connecting a close or reset without any
// byte back counts as the mesh refusing the connection.
const immediate = time.Second

// envoyDirect reports a response Envoy made itself: Envoy stamps
// "server: envoy" on what it sends downstream, and only responses that
// came from an upstream carry x-envoy-upstream-service-time.
func envoyDirect(m *decode.Message) bool {
	return strings.EqualFold(strings.TrimSpace(m.HeaderValue("server")), "envoy") &&
		m.HeaderValue("x-envoy-upstream-service-time") == ""
}

// outcome is the verdict on one request or connection, why, and whether
// it counts as an error.
type outcome struct {
	verdict Verdict
	reason  string
	err     bool
}

// exchangeOutcome judges a final exchange.
func exchangeOutcome(e *decode.Exchange) outcome {
	if r := e.Response; r != nil && r.Status > 0 {
		code := strconv.Itoa(r.Status)
		if envoyDirect(r) {
			switch {
			case r.Status == 502:
				return outcome{Blocked, "502 from Envoy without an upstream (block_all route / BlackHoleCluster)", true}
			case r.Status == 403:
				return outcome{Blocked, "403 from Envoy without an upstream (authorization policy)", true}
			case r.Status >= 500:
				return outcome{Failed, code + " from Envoy without an upstream", true}
			}
		}
		if r.Status >= 500 {
			return outcome{Passed, code + " from the destination", true}
		}
		return outcome{Passed, "", false}
	}
	if e.DNS != nil {
		return outcome{Passed, "", false}
	}
	switch e.State {
	case decode.Reset:
		return outcome{Failed, "reset before a response", true}
	default:
		why := "no response"
		if e.Error != "" {
			why += ": " + e.Error
		}
		return outcome{Failed, why, true}
	}
}

// flowOutcome judges a connection that carried no decoded exchange (TLS
// without keys, other protocols). A connection that received bytes has
// passed at once; otherwise it is judged when it ends. ok is false while
// there is nothing to say yet.
func flowOutcome(f *decode.Flow, ended bool) (outcome, bool) {
	if f.BytesS2C > 0 {
		return outcome{Passed, "", false}, true
	}
	if !ended {
		return outcome{}, false
	}
	quick := f.Last.Sub(f.First) < immediate
	switch {
	case f.State == decode.FlowReset && f.Leg == decode.LegNetwork:
		// On the network leg a reset comes from the destination (or
		// what stands in front of it), not from the mesh.
		return outcome{Failed, "reset by the destination, nothing returned", true}, true
	case f.State == decode.FlowReset && quick:
		return outcome{Blocked, "reset right after connect, nothing returned", true}, true
	case f.State == decode.FlowClosed && quick && f.Leg == decode.LegApp:
		return outcome{Blocked, "closed by the sidecar right after connect, nothing returned", true}, true
	case f.State == decode.FlowReset:
		return outcome{Failed, "reset, nothing returned", true}, true
	}
	return outcome{Failed, "nothing returned", true}, true
}
