// Package demo embeds a small capture of realistic traffic, so `tapview`
// can show what it does without a capture file, a cluster or root. The
// capture is produced by the generator in ./gen from real Go servers and
// clients on loopback; rerun it with go generate after changing it.
package demo

import (
	"bytes"
	_ "embed"
)

//go:generate go run ./gen -o demo.pcapng

// Name is the file name the demo capture is shown under (and its Source).
const Name = "demo.pcapng"

//go:embed demo.pcapng
var capture []byte

// Bytes returns a copy of the demo capture (pcapng), so no caller can
// change what the next one sees.
func Bytes() []byte { return bytes.Clone(capture) }

// Reader returns a reader over the demo capture, for sources that read
// a stream.
func Reader() *bytes.Reader { return bytes.NewReader(capture) }
