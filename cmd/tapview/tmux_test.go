package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmuxSession drives the real tapview binary in a detached tmux session
// on a private socket, as a person at a 120x40 terminal would.
type tmuxSession struct {
	t      *testing.T
	socket string
	name   string
}

func startTmux(t *testing.T, bin string, args ...string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, socket: fmt.Sprintf("tapview-test-%d", os.Getpid()), name: fmt.Sprintf("s%d", time.Now().UnixNano())}
	// The shell keeps the pane after tapview exits, so a crash shows
	// its message on the captured screen instead of a vanished pane.
	cmdline := "TERM=xterm-256color " + strings.Join(append([]string{bin}, args...), " ") + "; echo tapview exited with $?; sleep 30"
	s.tmux("new-session", "-d", "-s", s.name, "-x", "120", "-y", "40", cmdline)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-session", "-t", s.name).Run() })
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p", "-t", s.name) }

func (s *tmuxSession) keys(k ...string) {
	s.tmux(append([]string{"send-keys", "-t", s.name}, k...)...)
	time.Sleep(150 * time.Millisecond)
}

// waitFor polls the screen until ok accepts it (a deadline, not a timing
// assertion: it only bounds how long a broken UI can hang the test).
func (s *tmuxSession) waitFor(what string, ok func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var scr string
	for time.Now().Before(deadline) {
		scr = s.screen()
		if ok(scr) {
			return scr
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("screen never showed %s:\n%s", what, scr)
	return ""
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tapview")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestTmuxFilterAndMasking runs the real binary in tmux: the filter
// `status >= 500` leaves only 5xx rows, and `m` reveals a planted token
// and hides it again.
func TestTmuxFilterAndMasking(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the tmux test")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (bash .ci/run installs it)")
	}
	bin := buildBinary(t)

	demo := startTmux(t, bin)
	demo.waitFor("the demo's exchanges", func(s string) bool { return strings.Contains(s, "/api/orders") })
	demo.keys("/")
	demo.keys("status >= 500", "Enter")
	scr := demo.waitFor("the filtered list", func(s string) bool { return strings.Contains(s, "status >= 500") && !strings.Contains(s, "/api/pets") })
	rows := 0
	for _, line := range strings.Split(scr, "\n") {
		if !strings.Contains(line, "petstore") {
			continue
		}
		rows++
		if !strings.Contains(line, " 500 ") && !strings.Contains(line, " 503 ") {
			t.Errorf("non-5xx row after filtering: %q", line)
		}
	}
	if rows != 2 {
		t.Errorf("want the 2 5xx rows of the demo, got %d:\n%s", rows, scr)
	}

	jwt := planted["bearer jwt"]
	sess := startTmux(t, bin, "open", plantedCapture(t))
	sess.waitFor("the planted capture", func(s string) bool { return strings.Contains(s, "/api/signup") })
	sess.keys("Enter")
	scr = sess.waitFor("the request detail", func(s string) bool { return strings.Contains(s, "Authorization") })
	if strings.Contains(scr, jwt[:20]) || !strings.Contains(scr, "Bearer ••••••••") {
		t.Fatalf("masked detail should show Bearer •••••••• and not the token:\n%s", scr)
	}
	sess.keys("m")
	scr = sess.waitFor("the unmasked token", func(s string) bool { return strings.Contains(s, jwt[:20]) })
	if !strings.Contains(scr, "UNMASKED") {
		t.Errorf("an unmasked screen must say UNMASKED:\n%s", scr)
	}
	sess.keys("m")
	scr = sess.waitFor("the token masked again", func(s string) bool { return !strings.Contains(s, jwt[:20]) })
	if strings.Contains(scr, "UNMASKED") {
		t.Errorf("masked again, the screen still says UNMASKED:\n%s", scr)
	}
}
