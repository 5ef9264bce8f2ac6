package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	s3store "github.com/tapview/tapview/storage/s3"
	"github.com/tapview/tapview/storage/s3/s3test"
)

// TestStore runs the client against a real SeaweedFS S3 gateway: listing
// order and sizes, streamed and ranged reads, lifecycle rules, and the
// sentences its errors become.
func TestStore(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "tapview-store")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	data := map[string][]byte{}
	for i, key := range []string{"cap/b/2.pcapng", "cap/a/1.pcapng", "cap/b/10.pcapng", "other/x"} {
		data[key] = bytes.Repeat([]byte{byte('a' + i)}, 1000*(i+1))
		srv.Put(t, bucket, key, data[key])
	}
	c := srv.Client(t)

	t.Run("list", func(t *testing.T) {
		objs, err := c.List(ctx, bucket, "cap/")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range objs {
			got = append(got, fmt.Sprintf("%s:%d", o.Key, o.Size))
		}
		want := "cap/a/1.pcapng:2000 cap/b/10.pcapng:3000 cap/b/2.pcapng:1000"
		if strings.Join(got, " ") != want {
			t.Errorf("List = %v, want %s (key order, listed sizes)", got, want)
		}
	})

	t.Run("get and range", func(t *testing.T) {
		for _, off := range []int64{0, 1, 2999} {
			body, err := c.Get(ctx, bucket, "cap/b/10.pcapng", off)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(body)
			_ = body.Close()
			if err != nil || !bytes.Equal(got, data["cap/b/10.pcapng"][off:]) {
				t.Errorf("Get from %d: %d bytes, err %v; want %d", off, len(got), err, 3000-off)
			}
		}
	})

	t.Run("tls and --s3-ca", func(t *testing.T) { testTLS(t, srv, bucket) })

	t.Run("errors are sentences", func(t *testing.T) {
		_, err := c.List(ctx, "no-such-bucket", "x/")
		wantErr(t, err, "bucket \"no-such-bucket\" does not exist", "create it")
		_, err = c.Get(ctx, bucket, "cap/missing.pcapng", 0)
		wantErr(t, err, "no such object", "aws s3 ls")

		t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
		_, err = srv.Client(t).List(ctx, bucket, "")
		wantErr(t, err, "secret key is wrong", "AWS_SECRET_ACCESS_KEY")
		t.Setenv("AWS_ACCESS_KEY_ID", "nobody")
		_, err = srv.Client(t).List(ctx, bucket, "")
		wantErr(t, err, "does not know this access key", "AWS_ACCESS_KEY_ID")
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		_, err = srv.Client(t).List(ctx, bucket, "")
		wantErr(t, err, "no AWS credentials were found", "AWS_PROFILE")

		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + l.Addr().String()
		_ = l.Close()
		dead, err := s3store.New(ctx, s3store.Options{Endpoint: closed, PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err = dead.List(short, bucket, "")
		wantErr(t, err, "cannot reach the store at "+closed, "--s3-endpoint")
	})

	t.Run("lifecycle", func(t *testing.T) {
		rule, err := s3store.ExpiryRule("cap/", 7, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := c.ApplyRule(ctx, bucket, rule)
		if errors.Is(err, s3store.ErrNoLifecycle) {
			t.Skipf("this SeaweedFS does not support lifecycle rules (%v); the printed rule is tested by TestExpiryRule", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Rules) != 1 || cfg.Rules[0].ID != rule.ID || cfg.Rules[0].Expiration.Days != 7 {
			t.Fatalf("rules after apply: %s", cfg.JSON())
		}
		// Applying a second selection keeps the first; re-applying one
		// replaces it.
		other, _ := s3store.ExpiryRule("other/", 1, nil)
		if _, err := c.ApplyRule(ctx, bucket, other); err != nil {
			t.Fatal(err)
		}
		rule.Expiration.Days = 3
		cfg, err = c.ApplyRule(ctx, bucket, rule)
		if err != nil {
			t.Fatal(err)
		}
		days := map[string]int32{}
		for _, r := range cfg.Rules {
			days[r.ID] = r.Expiration.Days
		}
		if len(cfg.Rules) != 2 || days[rule.ID] != 3 || days[other.ID] != 1 {
			t.Errorf("rules after re-apply: %s", cfg.JSON())
		}
	})
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("no error; want one saying %q", parts)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}
