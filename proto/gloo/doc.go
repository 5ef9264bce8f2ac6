// Package gloo holds the generated Go code of Gloo Gateway's tap server
// contract (envoy.service.tap.v3.TapService/ReportTap), which no importable
// Go module publishes. tapview's sink serves it so a Gloo Gateway tap
// option can point at tapview instead of the sample tap server.
//
// The .proto is registered as "gloo/gloo_tap.proto" so it does not clash
// with go-control-plane's envoy/service/tap/v3/tap.proto, which lives in
// the same proto package.
package gloo

//go:generate sh gen.sh
