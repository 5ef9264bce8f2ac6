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
--flows; exchange-only variables are empty there). The same language works
in the UI filter bar (/), --filter on every command, and export.

  status >= 500
  method == "POST" && path.startsWith("/api")
  latency > duration("250ms")
  "authorization" in req_headers
  grpc_status != 0
  resp_body.contains("error")
  host.matches("^api\\.")

A bare word (pets) is a case-insensitive substring match on the URL; an
empty filter matches everything.

Variables:
`)
	for _, v := range filter.Variables() {
		scope := "exchange"
		if v.Flow {
			scope = "exchange, flow"
		}
		fmt.Fprintf(&b, "  %-14s %-20s %s (%s)\n", v.Name, v.Type, v.Doc, scope)
	}
	return &cobra.Command{Use: "filters", Short: "The filter language and its variables", Long: b.String()}
}
