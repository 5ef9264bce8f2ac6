package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode/link/corpustest"
)

// TestUsageErrorsNameTheNextStep runs each usage mistake of issue 19 and
// checks the message names the cause and the next step, and that usage
// mistakes exit with status 2.
func TestUsageErrorsNameTheNextStep(t *testing.T) {
	cases := []struct {
		args []string
		want []string // every one must appear
	}{
		{[]string{"open"}, []string{"open needs an argument", "tapview open FILE...", "tapview open --help"}},
		{[]string{"opne", "x.pcap"}, []string{`"opne" is not a tapview command`, `did you mean "open"?`, "tapview --help"}},
		{[]string{"connect", "agnt", "x"}, []string{`"agnt" is not a tapview connect command`, `did you mean "agent"?`}},
		{[]string{"sink", "extra"}, []string{`sink does not take "extra"`, "tapview sink --help"}},
		{[]string{"export", "x.pcap"}, []string{"--write is missing", "-w out.pcapng", "tapview export --help"}},
		{[]string{"connect", "envoy", "127.0.0.1:9901"}, []string{"--config-id is missing", "admin_config.config_id", "--config-id tapview"}},
		{[]string{"open", "--bogus", "x.pcap"}, []string{"unknown flag: --bogus", "tapview open --help"}},
	}
	for _, c := range cases {
		_, _, err := runTapview(t, nil, c.args...)
		if err == nil {
			t.Errorf("tapview %v: no error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("tapview %v: %q does not say %q", c.args, err, w)
			}
		}
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("tapview %v: %v is not a usage error (exit status 2)", c.args, err)
		}
	}
}

// TestEmptyResultHints: a run that prints nothing says why on stderr —
// no exchanges (with --flows and, for TLS, --keylog as the next steps),
// nothing matched the filter, or no connections at all.
func TestEmptyResultHints(t *testing.T) {
	dir := corpustest.Dir(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"open", "-o", "json", filepath.Join(dir, "tls12_clienthello_split_3segments_sni.pcap")},
			"no exchanges decoded from 1 connection; list them with --flows; 1 of them is TLS: give the session keys with --keylog FILE"},
		{[]string{"open", "-o", "table", filepath.Join(dir, "nsec_sll_tcp_handshake.pcap")},
			"no exchanges decoded from 1 connection; list them with --flows\n"},
		{[]string{"open", "-o", "json", "--filter", "status == 999", filepath.Join(dir, "http11_get_plain.pcap")},
			`none of the 1 exchanges matched --filter "status == 999"; check the variables with 'tapview help filters'`},
		{[]string{"open", "-o", "json", "--flows", "--filter", "server_port == 1", filepath.Join(dir, "http11_get_plain.pcap")},
			`no flow matched --filter "server_port == 1"`},
	}
	for _, c := range cases {
		out, stderr, err := runTapview(t, nil, c.args...)
		if err != nil {
			t.Fatalf("tapview %v: %v", c.args, err)
		}
		if len(out) != 0 {
			t.Errorf("tapview %v printed %q, want nothing", c.args, out)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("tapview %v: stderr %q, want %q", c.args, stderr, c.want)
		}
	}
	// A run that printed something has nothing to explain.
	_, stderr, err := runTapview(t, nil, "open", "-o", "json", filepath.Join(dir, "http11_get_plain.pcap"))
	if err != nil || stderr != "" {
		t.Errorf("open http11_get_plain.pcap: err %v, stderr %q, want neither", err, stderr)
	}
}

// TestStdinTerminal: `tapview open -` on a terminal says how to pipe a
// capture in instead of waiting silently (the real binary in tmux, which
// gives it a terminal).
func TestStdinTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the tmux test")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (bash .ci/run installs it)")
	}
	s := startTmux(t, buildBinary(t), "open", "-")
	s.waitFor("the exit", func(s string) bool { return strings.Contains(s, "tapview exited with") })
	scr := s.tmux("capture-pane", "-p", "-J", "-t", s.name) // -J: wrapped lines joined
	flat := strings.Join(strings.Fields(scr), " ")
	for _, w := range []string{"standard input, which is a terminal", "tcpdump -U -w - | tapview open -", "tapview exited with 2"} {
		if !strings.Contains(flat, w) {
			t.Errorf("screen does not say %q:\n%s", w, scr)
		}
	}
}
