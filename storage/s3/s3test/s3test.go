// Package s3test starts a real S3-compatible server (SeaweedFS, through
// scripts/s3-server.sh) on loopback for a test, so storage tests exercise
// a store's real listing, ranges, errors and signatures rather than a
// fake's idea of them. It is imported by tests only.
package s3test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	s3store "github.com/tapview/tapview/storage/s3"
)

// Server is one running store. Its credentials are also set in the test's
// environment (t.Setenv), where the AWS default chain finds them, so tests
// using it cannot run in parallel.
type Server struct {
	Endpoint string // plain HTTP
	// TLSEndpoint is the same store over HTTPS, with a certificate for
	// 127.0.0.1 signed by CAFile, a CA made for this test that no system
	// root trusts (what --s3-ca is for).
	TLSEndpoint string
	CAFile      string
	AccessKey   string
	SecretKey   string
	dir         string
	script      string
	t           testing.TB
}

// Script is the path of scripts/s3-server.sh in this checkout.
func Script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "s3-server.sh")
}

// Start starts a server for t and stops it when t ends. It serves HTTP
// on Endpoint and HTTPS on TLSEndpoint. The test is
// skipped, saying how to get it, when the weed binary has not been built:
// building takes minutes, which no test should spend.
func Start(t testing.TB) *Server {
	t.Helper()
	script := Script()
	out, err := exec.Command(script, "path").Output()
	if err != nil {
		t.Fatalf("%s path: %v", script, err)
	}
	bin := strings.TrimSpace(string(out))
	if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
		t.Skipf("no SeaweedFS binary at %s: run scripts/test-deps.sh (or scripts/s3-server.sh build) once to build it", bin)
	}
	s := &Server{dir: t.TempDir(), script: script, t: t}
	ca := NewCA(t, s.dir, "tapview test CA")
	cert, key := ca.Issue(t, s.dir, "127.0.0.1")
	s.CAFile = ca.File
	s.start("--tls", cert, key)
	t.Cleanup(s.Stop)
	// The AWS chain must find these, and never fall through to the
	// instance metadata service, which is off-loopback traffic.
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(s.dir, "no-aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(s.dir, "no-aws-credentials"))
	t.Setenv("AWS_PROFILE", "")
	return s
}

func (s *Server) start(args ...string) {
	s.t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(s.script, append([]string{"start", s.dir}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		s.t.Fatalf("starting the S3 server: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if !ok {
			continue
		}
		switch k {
		case "TAPVIEW_S3_ENDPOINT":
			s.Endpoint = v
		case "TAPVIEW_S3_ENDPOINT_TLS":
			s.TLSEndpoint = v
		case "AWS_ACCESS_KEY_ID":
			s.AccessKey = v
		case "AWS_SECRET_ACCESS_KEY":
			s.SecretKey = v
		}
	}
	if s.Endpoint == "" || s.TLSEndpoint == "" {
		s.t.Fatalf("s3-server.sh start printed no endpoint:\n%s", out)
	}
}

// Stop stops the server, keeping its data; Restart brings it back on the
// same ports. Stop is safe to call twice.
func (s *Server) Stop() {
	if _, err := os.Stat(filepath.Join(s.dir, "pid")); err != nil {
		return
	}
	if out, err := exec.Command(s.script, "stop", s.dir).CombinedOutput(); err != nil {
		s.t.Errorf("stopping the S3 server: %v\n%s", err, out)
	}
}

// Restart starts a stopped server again with its data and port.
func (s *Server) Restart() { s.start() }

// Options are the client options that reach this server (over HTTP).
func (s *Server) Options() s3store.Options {
	return s3store.Options{Endpoint: s.Endpoint, PathStyle: true}
}

// Client is a client for this server.
func (s *Server) Client(t testing.TB) *s3store.Client {
	t.Helper()
	c, err := s3store.New(context.Background(), s.Options())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Bucket creates a bucket and returns its name.
func (s *Server) Bucket(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := s.Client(t).S3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	return name
}

// Put uploads data as one object.
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := s.Client(t).S3().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("uploading %s/%s: %v", bucket, key, err)
	}
}
