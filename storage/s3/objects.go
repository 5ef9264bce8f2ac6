package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Object is one listed object.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
}

// List returns every object whose key starts with prefix, in key order
// (S3 lists lexicographically, which the key layout makes write order).
func (c *Client) List(ctx context.Context, bucket, prefix string) ([]Object, error) {
	var out []Object
	p := s3.NewListObjectsV2Paginator(c.api, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket),
		Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.explain(err, "listing", Location{bucket, prefix})
		}
		for _, o := range page.Contents {
			out = append(out, Object{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), Modified: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// Get opens an object's body from byte offset on, as a stream: nothing is
// buffered beyond what the caller reads. A non-zero offset sends a Range
// request, which is how a reader resumes after a broken connection.
func (c *Client) Get(ctx context.Context, bucket, key string, offset int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := c.api.GetObject(ctx, in)
	if err != nil {
		return nil, c.explain(err, "reading", Location{bucket, key})
	}
	return out.Body, nil
}

// Probe asks the store whether bucket is there (HeadBucket), so that a
// recorder can refuse to start when uploads could never succeed. fatal
// says retrying cannot help (Permanent, or no such bucket); other errors
// (the store is away, or the credentials may write but not list) are
// worth starting anyway, with segments waiting in the spool.
func (c *Client) Probe(ctx context.Context, bucket string) (fatal bool, err error) {
	_, err = c.api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return false, nil
	}
	loc := Location{Bucket: bucket}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() == 404 {
		// A HEAD answer has no body, so no NoSuchBucket code.
		return true, fmt.Errorf("reaching %s: %s\n(%w)", loc, apiHint("NoSuchBucket", loc), err)
	}
	return Permanent(err), c.explain(err, "reaching", loc)
}
