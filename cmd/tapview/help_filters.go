package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tapview/tapview/decode/filter"
)

// newFiltersHelp is the `tapview help filters` topic, generated from the
// filter compiler's own variable table so it never drifts.
func newFiltersHelp() *cobra.Command {
	var b strings.Builder
	b.WriteString(`Filters are CEL expressions evaluated per exchange (and per flow with
--flows; variables of the other kind are empty there). The same language
works in the UI filter bar (/), --filter on every command, and export.

  status >= 500
  method == "POST" && path.startsWith("/api")
  latency > duration("250ms")
  "authorization" in req_headers
  grpc_status != 0
  resp_body.contains("error")
  host.matches("^api\\.")
  dns_rcode == "NXDOMAIN" || "10.0.0.7" in dns_answers
  start > timestamp("2026-01-01T00:00:00Z") && tls
  bytes_s2c > 1000000 && !partial       (flows: --flows or the flows view)

A bare word (pets) is a case-insensitive substring match on the URL, except
a true-or-false variable (tls, partial); an empty filter matches everything. Every field of -o json has a variable of
the same name and meaning, except type, id (use flow), duration_ms (use
latency), the trailers (in req_headers and resp_headers) and the tunnel's
depth; the JSON path is path plus "?" and query.

Variables:
`)
	for _, v := range filter.Variables() {
		scope := "exchange, flow"
		switch {
		case !v.Flow:
			scope = "exchange"
		case !v.Exchange:
			scope = "flow"
		}
		fmt.Fprintf(&b, "  %-18s %-19s %s (%s)\n", v.Name, v.Type, v.Doc, scope)
	}
	return &cobra.Command{Use: "filters", Short: "The filter language and its variables", Long: b.String()}
}
