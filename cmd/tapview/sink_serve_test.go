package main

import (
	"strings"
	"testing"
)

// TestSinkServeRefusesOpenWatchers: --serve on a non-loopback address
// without a watcher token or client CA is refused with an error naming
// the fix; a token, loopback or --insecure-serve-open (with a warning)
// let the sink run.
func TestSinkServeRefusesOpenWatchers(t *testing.T) {
	base := []string{"sink", "--headless", "--grpc", "127.0.0.1:0", "--http", "off", "--duration", "200ms"}
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		_, stderr, err := runTapview(t, nil, append(base, "--serve", addr)...)
		if err == nil {
			t.Fatalf("--serve %s without a token ran:\n%s", addr, stderr)
		}
		for _, w := range []string{"--serve-token-file", "--serve-client-ca", "127.0.0.1", "--insecure-serve-open", "raw trace"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("--serve %s: error %q does not mention %s", addr, err, w)
			}
		}
	}
	for name, args := range map[string][]string{
		"token":    {"--serve", "0.0.0.0:0", "--serve-token", "s3cret"},
		"loopback": {"--serve", "127.0.0.1:0"},
		"insecure": {"--serve", "0.0.0.0:0", "--insecure-serve-open"},
	} {
		_, stderr, err := runTapview(t, nil, append(base, args...)...)
		if err != nil {
			t.Errorf("%s: sink refused: %v\n%s", name, err, stderr)
		}
		warned := strings.Contains(stderr, "anyone who reaches it reads every raw trace")
		if warned != (name == "insecure") {
			t.Errorf("%s: warning printed %v:\n%s", name, warned, stderr)
		}
	}
}
