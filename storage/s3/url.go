package s3store

import (
	"fmt"
	"strings"
)

// Location is a bucket and a key prefix (or a whole key) from an s3:// URL.
type Location struct {
	Bucket string
	// Prefix is everything after the bucket, without the leading "/". It
	// may name a folder-like prefix ("captures/"), a capture, or a single
	// object.
	Prefix string
}

// IsURL reports whether arg is an s3:// URL, so the CLI can route it to
// this package before trying it as a file name.
func IsURL(arg string) bool {
	return strings.HasPrefix(strings.ToLower(arg), "s3://")
}

// ParseURL splits s3://BUCKET/PREFIX. The bucket must be a valid S3 bucket
// name; the prefix is kept as written (keys are case-sensitive and may
// hold any character).
func ParseURL(raw string) (Location, error) {
	if !IsURL(raw) {
		return Location{}, fmt.Errorf("%q is not an s3:// URL (write s3://BUCKET/PREFIX)", raw)
	}
	rest := raw[len("s3://"):]
	bucket, prefix, _ := strings.Cut(rest, "/")
	if err := checkBucket(bucket); err != nil {
		return Location{}, fmt.Errorf("%s: %w", raw, err)
	}
	return Location{Bucket: bucket, Prefix: prefix}, nil
}

// String writes the location back as a URL.
func (l Location) String() string { return "s3://" + l.Bucket + "/" + l.Prefix }

// Join appends a key part to the prefix with exactly one "/" between.
func (l Location) Join(part string) Location {
	p := l.Prefix
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return Location{Bucket: l.Bucket, Prefix: p + strings.TrimPrefix(part, "/")}
}

// checkBucket applies the S3 bucket naming rules that matter for telling
// a typo from a name: 3-63 characters of lower-case letters, digits, dots
// and hyphens, starting and ending with a letter or digit.
func checkBucket(b string) error {
	if b == "" {
		return fmt.Errorf("no bucket name (write s3://BUCKET/PREFIX)")
	}
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q must be 3 to 63 characters long", b)
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (c == '.' || c == '-') && i > 0 && i < len(b)-1
		if !ok {
			return fmt.Errorf("bucket name %q may hold only lower-case letters, digits, '.' and '-', starting and ending with a letter or digit", b)
		}
	}
	return nil
}
