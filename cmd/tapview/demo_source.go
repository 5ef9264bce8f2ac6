package main

import (
	"fmt"

	"github.com/tapview/tapview/cmd/tapview/demo"
	"github.com/tapview/tapview/sources/pcapfile"
)

// demoSource reads the embedded demo capture, so `tapview` with no
// arguments has something real to show on any machine.
func demoSource() (*pcapfile.Source, error) {
	src, err := pcapfile.New(demo.Name, demo.Reader())
	if err != nil {
		// The demo package's tests check the embedded file; this only
		// fails on a broken build.
		return nil, fmt.Errorf("embedded demo capture: %w (rebuild with go generate ./cmd/tapview/demo)", err)
	}
	return src, nil
}
