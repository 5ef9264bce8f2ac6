package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	tapsvc "github.com/envoyproxy/go-control-plane/envoy/service/tap/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	s3store "github.com/tapview/tapview/storage/s3"
	"github.com/tapview/tapview/storage/s3/s3test"
)

// TestUploadSinkFloodStoreAway runs the in-cluster recorder as users
// would (`tapview sink --headless --upload s3://...`, the real binary)
// against a real S3 server (SeaweedFS on loopback), floods it with Envoy
// traces, stops the store for 10 s in the middle and starts it again:
// every trace reaches the store (each one is counted as an exchange by
// `tapview open` on the downloaded segments), and the exit says so.
func TestUploadSinkFloodStoreAway(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the real-binary upload test")
	}
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "flood")
	bin := buildBinary(t)
	spool := t.TempDir()
	cmd := exec.Command(bin, "sink", "--headless", "--grpc", "127.0.0.1:0", "--http", "off",
		"--upload", "s3://flood/rec", "--s3-endpoint", srv.Endpoint, "--s3-path-style",
		"--no-mask", "--segment-size", "32KiB", "--segment-time", "1s", "--spool-dir", spool, "--upload-wait", "60s", "--user", "flood-test")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("tapview stderr:\n%s", stderr.String())
		}
	})
	p := &proc{cmd: cmd, lines: make(chan line, 1024), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.lines <- line{sc.Text(), time.Now()}
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	l := p.next(t, 10*time.Second, "the listening status line", func(s string) bool {
		r, ok := parseRecord(s)
		return ok && r.Kind == "listening"
	})
	r, _ := parseRecord(l.text)
	m := grpcAddrRe.FindStringSubmatch(r.Message)
	if m == nil {
		t.Fatalf("no gRPC address in %q", r.Message)
	}
	cc, err := grpc.NewClient(m[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	st, err := tapsvc.NewTapSinkServiceClient(cc).StreamTaps(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 2 s with the store up, 10 s with it stopped, 2 s after it is back,
	// at 150 traces a second.
	sent := 0
	send := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			for range 15 {
				sent++
				sendTrace(t, st, sent, fmt.Sprintf("/flood/%d", sent))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	send(2 * time.Second)
	srv.Stop()
	send(10 * time.Second)
	srv.Restart()
	send(2 * time.Second)
	if _, err := st.CloseAndRecv(); err != nil {
		t.Fatalf("closing the tap stream: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, werr := p.rest(t, 80*time.Second)
	if werr != nil {
		t.Fatalf("tapview sink --upload: %v\nstderr:\n%s", werr, stderr.String())
	}
	stats := statsLines(rest)
	if len(stats) == 0 {
		t.Fatal("no stats line at exit")
	}
	final := stats[len(stats)-1]
	if fr, _ := parseRecord(final); !fr.Done || fr.Packets != int64(sent) {
		t.Fatalf("the sink received %d of %d traces (final stats %s)", fr.Packets, sent, final)
	}
	// The headless recorder's notes are JSON status lines for the pod
	// log; the summary is on stderr.
	notes := strings.Join(rest, "\n")
	if !strings.Contains(notes, "retrying") || !strings.Contains(notes, "answers again") {
		t.Errorf("status lines do not tell the outage and the recovery:\n%s", notes)
	}
	if log := stderr.String(); !strings.Contains(log, "uploaded ") {
		t.Errorf("stderr does not say what was uploaded:\n%s", log)
	}

	// Download every segment and count the exchanges in them.
	cli := srv.Client(t)
	objs, err := cli.List(context.Background(), bucket, "rec/")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var files []string
	for i, o := range objs {
		seg, ok := s3store.ParseKey(o.Key)
		if !ok || seg.Ext != s3store.ExtTraces {
			t.Errorf("object %s is not a trace segment of the key layout", o.Key)
			continue
		}
		f := filepath.Join(dir, fmt.Sprintf("%04d.pb_length_delimited", i))
		download(t, cli, bucket, o.Key, f)
		files = append(files, f)
	}
	out, err := exec.Command(bin, append([]string{"open", "-o", "json"}, files...)...).Output()
	if err != nil {
		t.Fatalf("tapview open on the %d downloaded segments: %v", len(files), err)
	}
	paths := map[string]bool{}
	for _, s := range strings.Split(string(out), "\n") {
		if r, ok := parseRecord(s); ok && r.Type == "exchange" {
			paths[r.Path] = true
		}
	}
	if len(paths) != sent {
		missing := 0
		for i := 1; i <= sent; i++ {
			if !paths[fmt.Sprintf("/flood/%d", i)] {
				missing++
			}
		}
		t.Fatalf("%d distinct exchanges in %d segments, %d traces sent (%d missing)", len(paths), len(files), sent, missing)
	}
	// The same capture through `tapview open s3://`, which merges the
	// segments straight from the store.
	out, err = exec.Command(bin, "open", "-o", "json", "--s3-endpoint", srv.Endpoint, "--s3-path-style", "s3://flood/rec/").Output()
	if err != nil {
		t.Fatalf("tapview open s3://flood/rec/: %v", err)
	}
	opened := map[string]bool{}
	for _, s := range strings.Split(string(out), "\n") {
		if r, ok := parseRecord(s); ok && r.Type == "exchange" {
			opened[r.Path] = true
		}
	}
	if len(opened) != sent {
		t.Errorf("tapview open s3://flood/rec/ shows %d distinct exchanges, %d traces sent", len(opened), sent)
	}
	left, _ := os.ReadDir(spool)
	if len(left) != 0 {
		t.Errorf("spool %s not empty after a complete upload: %v", spool, left)
	}
	t.Logf("%d traces through a 10 s store outage: all %d in %d segments", sent, len(paths), len(files))
}
