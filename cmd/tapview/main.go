// Command tapview shows live and recorded network traffic (flows, HTTP/1.x,
// HTTP/2, gRPC, DNS, WebSocket) in a terminal UI, prints it as JSON Lines,
// and exports it for Wireshark and HTTP tools. Every part is built here
// explicitly; nothing registers itself from init.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

func main() {
	// client-go logs the ends of attach streams it considers unhandled
	// (stdout copy failed after a detach) through klog to stderr, over the
	// UI and the JSON; every error that matters comes back as an error.
	// klog's logger is process-wide, so it is set once, here.
	klog.SetLogger(logr.Discard())
	// SIGINT and SIGTERM end the command, forcibly after a moment
	// (shutdown.go).
	ctx, stop := signalContext(context.Background())
	root := newRootCmd()
	nameForInvocation(root, os.Args[0])
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tapview:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// exitError carries a specific exit status (2 for usage errors such as a
// filter that does not compile) up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, a...)}
}
