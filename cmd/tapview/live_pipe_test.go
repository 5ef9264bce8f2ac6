package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// liveDeadline is what issue 15 promises a person watching live output:
// each record within a second of the packet that completed it.
const liveDeadline = time.Second

// TestLiveOutput runs the real binary on live inputs (a pcap stream on a
// pipe, a tap sink, signals), building it once for all of them.
func TestLiveOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the real-binary live tests")
	}
	bin := buildBinary(t)
	t.Run("open-json-pipe", func(t *testing.T) { testPipeStreams(t, bin, "json") })
	t.Run("open-table-pipe", func(t *testing.T) { testPipeStreams(t, bin, "table") })
	t.Run("sink-json", func(t *testing.T) { testSinkStreams(t, bin) })
	t.Run("stats", func(t *testing.T) { testLiveStats(t, bin) })
	t.Run("stats-command-sigint", func(t *testing.T) { testStatsSignal(t, bin) })
	t.Run("sigterm-busy-decoder", func(t *testing.T) { testSignalEndsBusyRun(t, bin) })
}

// proc is a running tapview whose stdout is read line by line, each line
// stamped with when the test received it.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan line
	done  chan error
}

type line struct {
	text string
	at   time.Time
}

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdin: stdin, lines: make(chan line, 1024), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.lines <- line{sc.Text(), time.Now()}
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("tapview stderr:\n%s", stderr.String())
		}
	})
	return p
}

// next returns the next line accepted by want, failing when none arrives
// within d; lines want rejects are skipped.
func (p *proc) next(t *testing.T, d time.Duration, what string, want func(string) bool) line {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("tapview ended before printing %s", what)
			}
			if want(l.text) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %s within %v", what, d)
		}
	}
}

// rest collects the remaining lines until tapview exits and returns them
// with its exit error.
func (p *proc) rest(t *testing.T, d time.Duration) ([]string, error) {
	t.Helper()
	var out []string
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return out, <-p.done
			}
			out = append(out, l.text)
		case <-timeout:
			t.Fatalf("tapview still running %v after its input ended", d)
		}
	}
}

// capturePackets reads a corpus capture with tapview's own file source.
func capturePackets(t *testing.T, name string) []sources.Packet {
	t.Helper()
	src, err := pcapfile.Open(filepath.Join(corpustest.Dir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	var c packetCollector
	if err := src.Run(context.Background(), &c); err != nil {
		t.Fatal(err)
	}
	return c.pkts
}

// finalCollector records the exchanges that became final, in order.
type finalCollector struct {
	seen  map[uint64]bool
	paths []string
}

func (c *finalCollector) Flow(*decode.Flow)   {}
func (c *finalCollector) Note(sources.Status) {}
func (c *finalCollector) Exchange(e *decode.Exchange) {
	if e.State.Final() && !c.seen[e.ID] {
		c.seen[e.ID] = true
		c.paths = append(c.paths, e.Path())
	}
}

// completions feeds the packets one by one through the same decoders the
// binary runs and returns, for each exchange, the index of the packet
// that made it final and its path: the moments after which the binary
// owes the test a line.
func completions(t *testing.T, pkts []sources.Packet) (idx []int, paths []string) {
	t.Helper()
	c := &finalCollector{seen: map[uint64]bool{}}
	dec := newDecoders(c, keylog.New(), decodeOptions{noOrdinals: true, lanes: 1})
	for i := range pkts {
		p := pkts[i]
		dec.Packet(&p)
		dec.EndBatch(false)
		for len(idx) < len(c.paths) {
			idx = append(idx, i)
		}
	}
	return idx, c.paths
}

// testPipeStreams writes a capture of five keep-alive HTTP/1.1 exchanges
// into `tapview open -o MODE -` packet by packet, stopping after each
// response's last packet until that exchange's line arrives; the pipe
// stays open throughout, as behind `tcpdump -U -w - | tapview open -`.
func testPipeStreams(t *testing.T, bin, mode string) {
	pkts := capturePackets(t, "http11_keepalive_5req_1conn.pcap")
	idx, paths := completions(t, pkts)
	if len(idx) != 5 {
		t.Fatalf("the decoder finished %d exchanges in the capture, want 5", len(idx))
	}
	p := startProc(t, bin, "open", "-o", mode, "-")
	pw, err := pcapw.NewPcap(p.stdin, pkts[0].LinkType, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	write := func(i int) {
		if err := pw.WritePacket(pkts[i], ""); err != nil {
			t.Fatal(err)
		}
		if err := pw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	isRecord := func(path string) func(string) bool {
		if mode == "json" {
			return func(s string) bool {
				var r struct{ Type, Path string }
				return json.Unmarshal([]byte(s), &r) == nil && r.Type == "exchange" && r.Path == path
			}
		}
		return func(s string) bool { return !strings.HasPrefix(s, "TIME ") && strings.HasSuffix(s, path) }
	}
	// The header alone lets tapview start; its start-up is not what is
	// measured, so the first exchange may also wait for it.
	if err := pw.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	next := 0
	var worst time.Duration
	for k, last := range idx {
		for ; next <= last; next++ {
			time.Sleep(2 * time.Millisecond) // a slow producer, not a burst
			write(next)
		}
		sent := time.Now()
		deadline := liveDeadline
		if k == 0 {
			deadline = 10 * time.Second
		}
		l := p.next(t, deadline, "line for exchange "+paths[k], isRecord(paths[k]))
		lat := l.at.Sub(sent)
		if k > 0 {
			worst = max(worst, lat)
		}
		t.Logf("exchange %d %s: line %v after its last packet", k+1, paths[k], lat.Round(time.Millisecond))
	}
	t.Logf("-o %s: worst latency after the first exchange %v", mode, worst.Round(time.Millisecond))
	for ; next < len(pkts); next++ {
		write(next)
	}
	_ = p.stdin.Close()
	rest, err := p.rest(t, 10*time.Second)
	if err != nil {
		t.Fatalf("tapview exited with %v; last lines %q", err, rest)
	}
	if mode == "json" {
		stats := 0
		for _, s := range rest {
			if strings.Contains(s, `"type":"stats"`) {
				stats++
			}
		}
		// stdin is a stream: it gets the final statistics once.
		if stats != 1 {
			t.Errorf("%d stats lines after stdin ended, want 1: %q", stats, rest)
		}
	}
}

// exitStatus returns a finished command's exit status, or -1 when it was
// killed by a signal or the error is something else.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -1
		}
		return ee.ExitCode()
	}
	return -1
}
