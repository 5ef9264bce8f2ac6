package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	s3store "github.com/tapview/tapview/storage/s3"
)

// s3Flags are the object-store flags. Credentials have no flags: they come
// from the AWS default chain (environment, AWS_PROFILE, IRSA, pod
// identity), as for every other AWS tool. `open`, `export` and `storage`
// register these themselves; live commands that upload register them next
// to sessionFlags.
type s3Flags struct {
	endpoint  string
	pathStyle bool
	caFile    string
	region    string
}

func (f *s3Flags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.endpoint, "s3-endpoint", "", "S3-compatible store `URL` (MinIO, Ceph RGW, SeaweedFS); default AWS S3 or AWS_ENDPOINT_URL_S3")
	fs.BoolVar(&f.pathStyle, "s3-path-style", false, "address buckets as ENDPOINT/BUCKET (most self-hosted stores need this)")
	fs.StringVar(&f.caFile, "s3-ca", "", "trust the CA certificates in this PEM `FILE` for the store's TLS")
	fs.StringVar(&f.region, "s3-region", "", "the bucket's region (default AWS_REGION or the profile's, else us-east-1)")
}

// client builds the store client these flags describe.
func (f *s3Flags) client(ctx context.Context) (*s3store.Client, error) {
	return s3store.New(ctx, s3store.Options{Endpoint: f.endpoint, PathStyle: f.pathStyle, CAFile: f.caFile, Region: f.region})
}

// timeRange is --since/--until for reading stored captures.
type timeRange struct {
	since, until string
}

func (r *timeRange) add(fs *pflag.FlagSet) {
	fs.StringVar(&r.since, "since", "", "s3:// inputs: only traffic from this `TIME` on (RFC 3339, or a duration ago such as 2h)")
	fs.StringVar(&r.until, "until", "", "s3:// inputs: only traffic up to this `TIME` (RFC 3339, or a duration ago)")
}

// parse reads both bounds relative to now.
func (r *timeRange) parse(now time.Time) (since, until time.Time, err error) {
	if since, err = parseWhen("--since", r.since, now); err != nil {
		return
	}
	if until, err = parseWhen("--until", r.until, now); err != nil {
		return
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		err = usageErr("--until %s is before --since %s: swap them", r.until, r.since)
	}
	return
}

func (r *timeRange) set() bool { return r.since != "" || r.until != "" }

// parseWhen accepts RFC 3339 times (with or without fractional seconds),
// "2006-01-02 15:04:05" in UTC, or a Go duration meaning that long ago.
func parseWhen(flag, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageErr("%s %q: give a time such as 2026-12-07T10:00:00Z, or a duration ago such as 90m", flag, s)
}

// errS3Only says a time range was given without anything to apply it to.
func errS3Only(flag string) error {
	return fmt.Errorf("%s selects segments of s3:// inputs; local files are read whole (cut them with editcap -A/-B)", flag)
}
