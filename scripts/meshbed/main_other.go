//go:build !linux

// The bed needs Linux (network namespaces, iptables, SO_ORIGINAL_DST).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "meshbed: Linux only")
	os.Exit(1)
}
