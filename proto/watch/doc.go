// Package watch holds the generated Go code of tapview's own watch
// service (tapview.watch.v1.TraceWatch), which lets a sink deployed in a
// cluster re-stream raw tap traces to tapview on a laptop without
// exposing the Envoy-facing sink ports.
package watch

//go:generate sh gen.sh
