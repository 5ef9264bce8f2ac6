package upload

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	s3store "github.com/tapview/tapview/storage/s3"
)

// Multipart settings: segments up to multipartAbove go in one PutObject,
// larger ones in parts of partSize, two at a time, so a 64 MiB segment is
// 8 requests that the SDK retries one by one and that never hold more
// than two parts in memory.
const (
	partSize       = 8 << 20
	multipartAbove = 16 << 20
)

// S3Putter uploads files with the SDK's transfer manager (the successor
// of feature/s3/manager).
type S3Putter struct {
	bucket string
	tm     *transfermanager.Client
	store  *s3store.Client // words errors; nil: the SDK's text
}

// NewStorePutter uploads to bucket through c, and words failures as c's
// List and Get do (the cause, then what to do: --s3-ca, credentials).
func NewStorePutter(c *s3store.Client, bucket string) *S3Putter {
	p := NewS3Putter(c.S3(), bucket)
	p.store = c
	return p
}

// NewS3Putter uploads to bucket through api.
func NewS3Putter(api *s3.Client, bucket string) *S3Putter {
	tm := transfermanager.New(api, func(o *transfermanager.Options) {
		o.PartSizeBytes = partSize
		o.MultipartUploadThreshold = multipartAbove
		o.Concurrency = 2
		// Self-hosted stores differ in which of the newer integrity
		// checksums they accept; send one only where required.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	return &S3Putter{bucket: bucket, tm: tm}
}

// Put uploads path as key with the given tags (URL-query encoded).
func (p *S3Putter) Put(ctx context.Context, key, path string, size int64, tagging string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	in := &transfermanager.UploadObjectInput{Bucket: aws.String(p.bucket), Key: aws.String(key), Body: f,
		ContentType: aws.String("application/octet-stream")}
	if tagging != "" {
		in.Tagging = aws.String(tagging)
	}
	if _, err := p.tm.UploadObject(ctx, in); err != nil {
		if p.store != nil && ctx.Err() == nil {
			return p.store.Explain(err, fmt.Sprintf("uploading %s (%d bytes) to", path, size), s3store.Location{Bucket: p.bucket, Prefix: key})
		}
		return fmt.Errorf("uploading %s (%d bytes) to s3://%s/%s: %w", path, size, p.bucket, key, err)
	}
	return nil
}
