package stats

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Columns lists the names SortRows accepts: the figures by the names
// --sort and the JSON use.
func Columns() []string {
	return []string{"group", "count", "errors", "err%", "p50", "p90", "p99", "max", "bytes_in", "bytes_out"}
}

// SortRows orders rows by a column: "group" alphabetically, the others
// by value; desc reverses. Ties keep the order rows came in (first seen),
// then the group name, so output is stable.
func SortRows(rows []Row, col string, desc bool) error {
	f, err := compareBy(col)
	if err != nil {
		return err
	}
	slices.SortStableFunc(rows, func(a, b Row) int {
		c := f(a, b)
		if desc {
			c = -c
		}
		return c
	})
	return nil
}

func compareBy(col string) (func(a, b Row) int, error) {
	switch strings.ToLower(col) {
	case "group", "":
		return func(a, b Row) int { return cmp.Compare(a.Name(), b.Name()) }, nil
	case "count":
		return func(a, b Row) int { return cmp.Compare(a.Count, b.Count) }, nil
	case "errors":
		return func(a, b Row) int { return cmp.Compare(a.Errors, b.Errors) }, nil
	case "err%", "error_rate", "err":
		return func(a, b Row) int { return cmp.Compare(a.ErrorRate, b.ErrorRate) }, nil
	case "p50":
		return func(a, b Row) int { return cmp.Compare(a.Latency.P50, b.Latency.P50) }, nil
	case "p90":
		return func(a, b Row) int { return cmp.Compare(a.Latency.P90, b.Latency.P90) }, nil
	case "p99":
		return func(a, b Row) int { return cmp.Compare(a.Latency.P99, b.Latency.P99) }, nil
	case "max":
		return func(a, b Row) int { return cmp.Compare(a.Latency.Max, b.Latency.Max) }, nil
	case "bytes_in", "in":
		return func(a, b Row) int { return cmp.Compare(a.BytesIn, b.BytesIn) }, nil
	case "bytes_out", "out":
		return func(a, b Row) int { return cmp.Compare(a.BytesOut, b.BytesOut) }, nil
	}
	return nil, fmt.Errorf("no column %q to sort by; use one of %s", col, strings.Join(Columns(), ", "))
}
