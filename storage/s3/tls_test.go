package s3store_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	s3store "github.com/tapview/tapview/storage/s3"
	"github.com/tapview/tapview/storage/s3/s3test"
)

// testTLS runs the client against SeaweedFS serving HTTPS with a
// certificate of a CA made for the test: with that CA in --s3-ca the
// store answers; without it, with another CA, and https:// to the plain
// port the error is a sentence naming the cause and --s3-ca or the
// scheme. (http:// to a TLS port is TestExplainPlainToTLS's.)
func testTLS(t *testing.T, srv *s3test.Server, bucket string) {
	ca := srv.CAFile
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	list := func(o s3store.Options) error {
		c, err := s3store.New(ctx, o)
		if err != nil {
			return err
		}
		objs, err := c.List(ctx, bucket, "cap/")
		if err == nil && len(objs) != 3 {
			t.Errorf("listed %d objects over TLS, want 3", len(objs))
		}
		return err
	}
	if err := list(s3store.Options{Endpoint: srv.TLSEndpoint, PathStyle: true, CAFile: ca}); err != nil {
		t.Fatalf("with --s3-ca: %v", err)
	}
	err := list(s3store.Options{Endpoint: srv.TLSEndpoint, PathStyle: true})
	if err == nil || !strings.Contains(err.Error(), "unknown authority") || !strings.Contains(err.Error(), "give that CA certificate (PEM) with --s3-ca") {
		t.Errorf("without --s3-ca: %v", err)
	}
	wrong := s3test.NewCA(t, t.TempDir(), "tapview test CA").File
	err = list(s3store.Options{Endpoint: srv.TLSEndpoint, PathStyle: true, CAFile: wrong})
	if err == nil || !strings.Contains(err.Error(), "neither the CA in --s3-ca "+wrong) {
		t.Errorf("with another CA: %v", err)
	}
	tlsToPlain := "https://" + strings.TrimPrefix(srv.Endpoint, "http://")
	err = list(s3store.Options{Endpoint: tlsToPlain, PathStyle: true, CAFile: ca})
	if err == nil || !strings.Contains(err.Error(), "does not speak TLS: use http://") {
		t.Errorf("https:// to the plain HTTP port: %v", err)
	}
}

// TestExplainPlainToTLS: plain HTTP to a TLS port (Go's TLS server, as
// SeaweedFS and MinIO are, answers a bare 400 and hangs up) says to use
// https://.
func TestExplainPlainToTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	noAWS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := s3store.New(ctx, s3store.Options{Endpoint: "http://" + strings.TrimPrefix(srv.URL, "https://"), PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(ctx, "b", "")
	if err == nil || !strings.Contains(err.Error(), "if it serves HTTPS, use https:// in --s3-endpoint") {
		t.Errorf("http:// to a TLS port: %v", err)
	}
}

// TestExplainCertificate: a certificate for another host, and an expired
// one, signed by the CA given with --s3-ca, say which (a Go TLS server on
// loopback, as SeaweedFS's gateway is, serves them).
func TestExplainCertificate(t *testing.T) {
	noAWS(t)
	dir := t.TempDir()
	ca := s3test.NewCA(t, dir, "tapview test CA")
	for _, tc := range []struct {
		name, host string
		until      time.Time
		want       string
	}{
		{"other host", "store.example", time.Now().Add(time.Hour), "is not for the host in"},
		{"expired", "127.0.0.1", time.Now().Add(-time.Hour), "is not valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certFile, keyFile := ca.IssueUntil(t, t.TempDir(), tc.host, tc.until)
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(http.NotFoundHandler())
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
			srv.StartTLS()
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := s3store.New(ctx, s3store.Options{Endpoint: srv.URL, PathStyle: true, CAFile: ca.File})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.List(ctx, "b", "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v", tc.name, err)
			}
		})
	}
}

// noAWS gives the AWS chain static test credentials and nothing else to
// read (no files, no instance metadata).
func noAWS(t *testing.T) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_REGION", "us-east-1")
}
