package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode/link/corpustest"
)

// startTmuxSize is startTmux at a chosen terminal size, with the filter
// history kept in a private state directory.
func startTmuxSize(t *testing.T, w, h int, bin string, args ...string) *tmuxSession {
	t.Helper()
	return startTmuxFed(t, w, h, "", bin, args...)
}

// startTmuxFed is startTmuxSize with tapview's standard input coming
// from the shell command feed through a pipe (none when empty).
func startTmuxFed(t *testing.T, w, h int, feed, bin string, args ...string) *tmuxSession {
	t.Helper()
	// A server per session: a session killed by the previous case's
	// cleanup takes a shared server down while the next one connects.
	id := time.Now().UnixNano()
	s := &tmuxSession{t: t, socket: fmt.Sprintf("tapview-ui-%d-%d", os.Getpid(), id), name: fmt.Sprintf("s%d", id)}
	state := t.TempDir()
	pipe := ""
	if feed != "" {
		pipe = "(" + feed + ") | "
	}
	cmdline := "cd " + t.TempDir() + " && " + pipe + "TERM=xterm-256color XDG_STATE_HOME=" + state + " " +
		strings.Join(append([]string{bin}, args...), " ") + "; echo tapview exited with $?; sleep 30"
	s.tmux("new-session", "-d", "-s", s.name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), cmdline)
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

// TestTmuxUI runs the real binary in tmux on a corpus capture for the
// keys of issue 19: sort, mark + export of the marked rows, the bytes of
// a flow with Wireshark's frame numbers, a failed export at 80 columns
// and help scrolling at 80x24. One build serves every case.
func TestTmuxUI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the tmux test")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (bash .ci/run installs it)")
	}
	capture, err := filepath.Abs(filepath.Join(corpustest.Dir(t), "http11_keepalive_5req_1conn.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(capture); err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	bin := buildBinary(t)
	loaded := func(s string) bool { return strings.Contains(s, "✓") && strings.Contains(s, "enhanced.css") }

	t.Run("sort", func(t *testing.T) {
		s := startTmuxSize(t, 120, 40, bin, "open", capture)
		s.waitFor("the capture", loaded)
		s.keys("o", "o") // latency, then size: largest first
		scr := s.waitFor("the size sort", func(s string) bool { return strings.Contains(s, "sort SIZE ↓") })
		sizes := columnValues(t, scr, "SIZE")
		if len(sizes) != 5 {
			t.Fatalf("want 5 rows, got %v:\n%s", sizes, scr)
		}
		for i := 1; i < len(sizes); i++ {
			if parseSize(sizes[i-1]) < parseSize(sizes[i]) {
				t.Errorf("not largest first: %v", sizes)
			}
		}
	})

	t.Run("mark and export marked", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "marked.json")
		s := startTmuxSize(t, 120, 40, bin, "open", capture)
		s.waitFor("the capture", loaded)
		s.keys("M", "j", "M") // rows 1 and 3
		s.waitFor("two marks", func(s string) bool { return strings.Contains(s, "2 marked") })
		s.keys("x")
		s.waitFor("the export prompt", func(s string) bool { return strings.Contains(s, "export 2 marked to›") })
		s.keys("C-u", out, "Enter")
		s.waitFor("the export result", func(s string) bool { return strings.Contains(s, "(marked only)") })
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		exchanges := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"type":"exchange"`) {
				exchanges++
			}
		}
		if exchanges != 2 {
			t.Errorf("the export holds %d exchanges, want the 2 marked", exchanges)
		}
	})

	t.Run("follow stream", func(t *testing.T) {
		s := startTmuxSize(t, 120, 40, bin, "open", capture)
		s.waitFor("the capture", loaded)
		s.keys("s")
		scr := s.waitFor("the bytes view", func(s string) bool { return strings.Contains(s, "GET /style/enhanced.css HTTP/1.1") })
		// Frame numbers are Wireshark's: the first request is frame 4
		// (tshark -Y http.request -T fields -e frame.number).
		want := "frame 4 "
		if out, err := exec.Command("tshark", "-r", capture, "-Y", "http.request", "-T", "fields", "-e", "frame.number").Output(); err == nil {
			want = "frame " + strings.Fields(string(out))[0] + " "
		}
		if !strings.Contains(scr, want) || !strings.Contains(scr, "client → server") || !strings.Contains(scr, "server → client") {
			t.Errorf("bytes view lacks %q or a direction:\n%s", want, scr)
		}
		s.keys("v")
		s.waitFor("the hex view", func(s string) bool { return strings.Contains(s, "0000  47 45 54 20") })
		s.keys("q")
		s.waitFor("the list again", func(s string) bool { return strings.Contains(s, "HOST+PATH") })
	})

	t.Run("failed export at 80 columns", func(t *testing.T) {
		s := startTmuxSize(t, 80, 24, bin, "open", capture)
		s.waitFor("the capture", loaded)
		s.keys("x")
		s.keys("C-u", "/nonexistent/dir/a.pcap", "Enter")
		scr := s.waitFor("the failure", func(s string) bool { return strings.Contains(s, "export failed") })
		flat := strings.Join(strings.Fields(scr), " ")
		if !strings.Contains(flat, "the folder /nonexistent/dir does not exist; press x and type a path in an existing folder") {
			t.Errorf("no whole sentence naming the cause and the next step:\n%s", scr)
		}
		if strings.Contains(scr, ".tmp-") || strings.Contains(scr, "-w ") {
			t.Errorf("the message names a temp file or a CLI flag:\n%s", scr)
		}
	})

	t.Run("help scrolls at 80x24", func(t *testing.T) {
		s := startTmuxSize(t, 80, 24, bin, "open", capture)
		s.waitFor("the capture", loaded)
		s.keys("?")
		top := s.waitFor("help", func(s string) bool { return strings.Contains(s, "Move") })
		if strings.Contains(top, "grpc_method") {
			t.Fatalf("help fits unscrolled at 80x24; nothing to test:\n%s", top)
		}
		s.keys("G")
		s.waitFor("the end of help", func(s string) bool { return strings.Contains(s, "grpc_method") })
		s.keys("q")
		scr := s.waitFor("the list again", func(s string) bool { return strings.Contains(s, "HOST+PATH") })
		if strings.Contains(scr, "tapview exited") {
			t.Errorf("q in help quit the program:\n%s", scr)
		}
		s.keys("Q")
		s.waitFor("the exit", func(s string) bool { return strings.Contains(s, "tapview exited with 0") })
	})

	// A capture arriving through a pipe is watched like a live source:
	// the list follows the newest row, so the 40th request of a
	// 40-request capture is on screen at 80x24 without a key pressed,
	// and the status says live while the pipe stays open.
	t.Run("piped capture follows the newest row", func(t *testing.T) {
		piped, err := filepath.Abs(filepath.Join(corpustest.Dir(t), "http11_pipelined_40req_retrans.pcap"))
		if err != nil {
			t.Fatal(err)
		}
		s := startTmuxFed(t, 80, 24, "cat "+piped+"; sleep 60", bin, "open", "-")
		scr := s.waitFor("40 exchanges, live and followed", func(s string) bool {
			return strings.Contains(s, "40 exchanges") && strings.Contains(s, "● live") && strings.Contains(s, "follow")
		})
		if !strings.Contains(scr, "/.bzr/README") {
			t.Errorf("the newest row (/.bzr/README) is not on screen:\n%s", scr)
		}
		if strings.Contains(scr, "/postinfo.html") {
			t.Errorf("the list stayed on the first row (/postinfo.html):\n%s", scr)
		}
	})
}

// columnValues reads one column of the list from a captured screen, by
// the position of its title.
func columnValues(t *testing.T, scr, title string) []string {
	t.Helper()
	lines := strings.Split(scr, "\n")
	for i, l := range lines {
		col := strings.Index(l, title)
		if col < 0 || !strings.Contains(l, "HOST+PATH") {
			continue
		}
		var out []string
		for _, r := range lines[i+1:] {
			if !strings.Contains(r, "GET") || len(r) < col+len(title) {
				break
			}
			out = append(out, strings.TrimSpace(r[max(col-2, 0):col+len(title)]))
		}
		return out
	}
	t.Fatalf("no %s column:\n%s", title, scr)
	return nil
}

var sizeRE = regexp.MustCompile(`^([0-9.]+)([BkM])$`)

func parseSize(s string) float64 {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return -1
	}
	var f float64
	fmt.Sscanf(m[1], "%g", &f)
	switch m[2] {
	case "k":
		f *= 1024
	case "M":
		f *= 1 << 20
	}
	return f
}
