package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	tapsvc "github.com/envoyproxy/go-control-plane/envoy/service/tap/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	s3store "github.com/tapview/tapview/storage/s3"
	"github.com/tapview/tapview/storage/s3/s3test"
)

// TestUploadLeftBehindOverTLS records with the real binary (`sink
// --headless --upload`, masked) to a real S3 server (SeaweedFS) over
// HTTPS with a private CA given by --s3-ca, through outages of the store:
//
//   - run 1 starts while the store is away, records, and exits with its
//     segments on disk, naming 'tapview storage push';
//   - run 2, with the same spool directory and the store back, uploads
//     run 1's segments alongside its own and says so at exit; the store
//     goes away before run 2 ends, so it leaves segments too;
//   - 'tapview storage push' uploads those.
//
// Then every trace sent is in the store exactly once (each one an
// exchange of 'open s3://', none twice), every object is tagged masked,
// and the spool directory is empty. Without --s3-ca, and with another
// CA, the store's certificate is refused with a sentence naming --s3-ca;
// --upload says so before the capture starts.
//
// The outages cut a TCP relay in front of the store (a network outage,
// as a recorder meets one): stopping and restarting weed costs 15 s.
func TestUploadLeftBehindOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the real-binary upload test")
	}
	srv := s3test.Start(t)
	srv.Bucket(t, "pushed")
	link := newStoreLink(t, strings.TrimPrefix(srv.TLSEndpoint, "https://"))
	bin := buildBinary(t)
	spool := t.TempDir()
	endpoint := "https://" + link.addr
	tlsFlags := []string{"--s3-endpoint", endpoint, "--s3-path-style", "--s3-ca", srv.CAFile}
	record := func(from, to int, wait string, midway func()) (stderr string, err error, id string) {
		t.Helper()
		args := append([]string{"sink", "--headless", "--grpc", "127.0.0.1:0", "--http", "off",
			"--upload", "s3://pushed/rec", "--segment-size", "4KiB", "--segment-time", "300ms",
			"--spool-dir", spool, "--upload-wait", wait, "--user", "push-test"}, tlsFlags...)
		r := startRecorderProc(t, bin, args...)
		for n := from; n <= to; n++ {
			sendTrace(t, r.stream, n, fmt.Sprintf("/push/%d", n))
			if n == (from+to)/2 && midway != nil {
				midway()
			}
		}
		time.Sleep(time.Second) // the last segments end (--segment-time)
		return r.stop(t)
	}

	// Run 1: the store is away from the start.
	stderr, err, id1 := record(1, 20, "1s", nil)
	if exitStatus(err) != 1 || !strings.Contains(stderr, "tapview storage push "+filepath.Join(spool, id1)) {
		t.Fatalf("run 1 with the store away: %v\n%s", err, stderr)
	}

	// Run 2: the store is back; it goes away again halfway through.
	link.up(t)
	stderr, err, id2 := record(21, 40, "2s", func() {
		waitObjects(t, srv, "pushed", "rec/"+id1+"/", filepath.Join(spool, id1))
		link.down()
	})
	if exitStatus(err) != 1 || !strings.Contains(stderr, "earlier capture "+id1+": uploaded") {
		t.Fatalf("run 2 did not upload run 1's segments: %v\n%s", err, stderr)
	}

	link.up(t)
	_, pstderr, err := runTapview(t, nil, "storage", "push", spool)
	if err != nil || !strings.Contains(pstderr, "capture "+id2+": uploaded") {
		t.Fatalf("storage push: %v\n%s", err, pstderr)
	}
	if left, _ := os.ReadDir(spool); len(left) != 0 {
		t.Errorf("spool %s not empty after the push: %v", spool, left)
	}

	// Every trace once, masked.
	seen := map[string]int{}
	for _, id := range []string{id1, id2} {
		out, ostderr, err := runTapview(t, nil, append([]string{"open", "-o", "json", "s3://pushed/rec/" + id + "/"}, tlsFlags...)...)
		if err != nil {
			t.Fatalf("open s3://pushed/rec/%s/: %v\n%s", id, err, ostderr)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if r, ok := parseRecord(l); ok && r.Type == "exchange" {
				seen[r.Path]++
			}
		}
	}
	for n := 1; n <= 40; n++ {
		if c := seen[fmt.Sprintf("/push/%d", n)]; c != 1 {
			t.Errorf("trace /push/%d is in the store %d times", n, c)
		}
	}
	if len(seen) != 40 {
		t.Errorf("%d distinct exchanges in the store, 40 traces sent: %v", len(seen), seen)
	}
	checkMaskedTags(t, srv, "pushed", "rec/")

	// The store's certificate without its CA, and with another CA.
	_, _, err = runTapview(t, nil, "open", "-o", "json", "s3://pushed/rec/", "--s3-endpoint", endpoint, "--s3-path-style")
	if err == nil || !strings.Contains(err.Error(), "unknown authority") || !strings.Contains(err.Error(), "--s3-ca FILE") {
		t.Errorf("open s3:// without --s3-ca: %v", err)
	}
	wrong := s3test.NewCA(t, t.TempDir(), "tapview test CA").File
	_, _, err = runTapview(t, nil, "open", "-o", "json", "s3://pushed/rec/", "--s3-endpoint", endpoint, "--s3-path-style", "--s3-ca", wrong)
	if err == nil || !strings.Contains(err.Error(), "neither the CA in --s3-ca "+wrong) {
		t.Errorf("open s3:// with another CA: %v", err)
	}
	_, _, err = runTapview(t, nil, "sink", "--headless", "--grpc", "127.0.0.1:0", "--http", "off", "--upload", "s3://pushed/rec",
		"--spool-dir", t.TempDir(), "--s3-endpoint", endpoint, "--s3-path-style")
	if err == nil || !strings.Contains(err.Error(), "--upload") || !strings.Contains(err.Error(), "--s3-ca FILE") {
		t.Errorf("--upload without --s3-ca: %v", err)
	}
}

// recorderProc is a running `tapview sink --headless --upload` with one
// tap stream open to it.
type recorderProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	stream tapsvc.TapSinkService_StreamTapsClient
	lines  chan string
	done   chan error
}

func startRecorderProc(t *testing.T, bin string, args ...string) *recorderProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	r := &recorderProc{cmd: cmd, stderr: &syncBuffer{}, lines: make(chan string, 1024), done: make(chan error, 1)}
	cmd.Stderr = r.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
		r.done <- cmd.Wait()
	}()
	timeout := time.After(30 * time.Second)
	var addr string
	for addr == "" {
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("tapview %v ended before listening: %v\n%s", args, <-r.done, r.stderr.String())
			}
			if rec, ok := parseRecord(l); ok && rec.Kind == "listening" {
				if m := grpcAddrRe.FindStringSubmatch(rec.Message); m != nil {
					addr = m[1]
				}
			}
		case <-timeout:
			t.Fatalf("tapview %v did not listen within 30 s\n%s", args, r.stderr.String())
		}
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	if r.stream, err = tapsvc.NewTapSinkServiceClient(cc).StreamTaps(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

var captureIDRe = regexp.MustCompile(`recording capture (\S+) to`)

// stop ends the stream and interrupts tapview, and returns its stderr,
// its exit and the capture id it announced.
func (r *recorderProc) stop(t *testing.T) (string, error, string) {
	t.Helper()
	if _, err := r.stream.CloseAndRecv(); err != nil {
		t.Fatalf("closing the tap stream: %v", err)
	}
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range r.lines {
		}
	}()
	var err error
	select {
	case err = <-r.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("tapview did not exit within 60 s of SIGINT\n%s", r.stderr.String())
	}
	s := r.stderr.String()
	m := captureIDRe.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no capture id announced:\n%s", s)
	}
	return s, err, m[1]
}

// waitObjects waits until capture dir's spool directory is gone, which
// the resumed push does once all of it is in the store, and checks that
// the store lists the capture.
func waitObjects(t *testing.T, srv *s3test.Server, bucket, prefix, dir string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there 60 s after the store came back", dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
	objs, err := srv.Client(t).List(context.Background(), bucket, prefix)
	if err != nil || len(objs) == 0 {
		t.Fatalf("listing %s after the resumed push: %d objects, %v", prefix, len(objs), err)
	}
}

// checkMaskedTags checks every object under prefix is tagged masked=true.
func checkMaskedTags(t *testing.T, srv *s3test.Server, bucket, prefix string) {
	t.Helper()
	cli := srv.Client(t)
	objs, err := cli.List(context.Background(), bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if _, ok := s3store.ParseKey(o.Key); !ok {
			t.Errorf("object %s is not in the key layout", o.Key)
		}
		tags, err := cli.S3().GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(o.Key)})
		if err != nil {
			t.Fatal(err)
		}
		masked := ""
		for _, tg := range tags.TagSet {
			if aws.ToString(tg.Key) == s3store.TagMasked {
				masked = aws.ToString(tg.Value)
			}
		}
		if masked != "true" {
			t.Errorf("%s: tag masked=%q, want true", o.Key, masked)
		}
	}
}

// storeLink is a TCP relay on loopback in front of the store that the
// test cuts and restores at once. It starts down.
type storeLink struct {
	addr, target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func newStoreLink(t *testing.T, target string) *storeLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &storeLink{addr: ln.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	ln.Close()
	t.Cleanup(l.down)
	return l
}

// up listens again on the link's address.
func (l *storeLink) up(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago; another may hold it briefly
		if ln, err = net.Listen("tcp", l.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("restoring the link on %s: %v", l.addr, err)
	}
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go l.relay(c)
		}
	}()
}

func (l *storeLink) relay(c net.Conn) {
	s, err := net.Dial("tcp", l.target)
	if err != nil {
		c.Close()
		return
	}
	l.mu.Lock()
	if l.ln == nil {
		l.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	l.conns[c], l.conns[s] = true, true
	l.mu.Unlock()
	go func() { _, _ = io.Copy(s, c); s.Close() }()
	_, _ = io.Copy(c, s)
	c.Close()
}

// down stops listening and cuts every relayed connection.
func (l *storeLink) down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	for c := range l.conns {
		c.Close()
		delete(l.conns, c)
	}
}
