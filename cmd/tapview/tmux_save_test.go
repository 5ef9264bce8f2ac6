package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTmuxSaveAndPager drives the real binary at 80x24: P hands the
// request tab to $PAGER unwrapped, so a JWT too long for the screen
// arrives whole on one line; w saves the request body as decoded.
func TestTmuxSaveAndPager(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the tmux test")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (bash .ci/run installs it)")
	}
	dir := t.TempDir()
	paged := filepath.Join(dir, "paged.txt")
	pager := filepath.Join(dir, "pager.sh")
	if err := os.WriteFile(pager, []byte("#!/bin/sh\ncp \"$1\" "+paged+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := startTmuxSize(t, 80, 24, "PAGER="+pager+" "+buildBinary(t), "open", "--no-mask", plantedCapture(t))
	s.waitFor("the planted capture", func(scr string) bool { return strings.Contains(scr, "shop.test/login") })
	s.keys("g", "Enter")
	s.waitFor("the request detail", func(scr string) bool { return strings.Contains(scr, "Authorization") })

	s.keys("P")
	deadline := time.Now().Add(15 * time.Second)
	var got []byte
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(paged); err == nil && len(b) > 0 {
			got = b
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(string(got), "\nAuthorization: Bearer "+planted["bearer jwt"]+"\n") {
		t.Errorf("the pager did not get the whole token on one line:\n%s", got)
	}
	if !strings.Contains(string(got), "POST /api/signup") {
		t.Errorf("the pager did not get the request tab:\n%s", got)
	}
	s.waitFor("the UI back after the pager", func(scr string) bool { return strings.Contains(scr, "Authorization") })

	saved := filepath.Join(dir, "body.json")
	s.keys("w")
	s.waitFor("the save prompt", func(scr string) bool { return strings.Contains(scr, "save request body to") })
	s.keys("C-u")
	s.keys(saved, "Enter")
	s.waitFor("the saved message", func(scr string) bool { return strings.Contains(scr, "saved") })
	b, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"user":`) || !strings.Contains(string(b), planted["json card"]) {
		t.Errorf("saved body %q, want the request's JSON as sent (--no-mask)", b)
	}
}
