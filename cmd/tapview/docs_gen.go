package main

// The man pages (docs/man/*.1) and Markdown CLI reference (docs/cli/*.md)
// are generated from the command tree by TestCLIDocs, a test so that the
// generator (github.com/spf13/cobra/doc and its Markdown-to-roff converter)
// is never linked into the binary. The same test fails when the committed
// pages no longer match the commands; regenerate with `go generate ./cmd/tapview`.
//go:generate go test -run ^TestCLIDocs$ -count=1 . -args -update-docs
