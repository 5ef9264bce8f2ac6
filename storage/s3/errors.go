package s3store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// explain turns an SDK error into a sentence naming the cause and what to
// do next. The SDK's own text ("operation error S3: ListObjectsV2, https
// response error StatusCode: 404, RequestID: ..., api error NoSuchBucket")
// is kept after it for bug reports, since the store's wording varies.
func (c *Client) explain(err error, doing string, loc Location) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var hint string
	var api smithy.APIError
	var resp *awshttp.ResponseError
	var op *net.OpError
	msg := err.Error()
	switch {
	case c.tlsHint(err) != "":
		hint = c.tlsHint(err)
	case strings.Contains(msg, "failed to refresh cached credentials") || strings.Contains(msg, "failed to retrieve credentials"):
		hint = "no AWS credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where an IAM role is available (IRSA, EKS pod identity, instance role)"
	case errors.As(err, &api):
		hint = apiHint(api.ErrorCode(), loc)
	case errors.As(err, &op):
		hint = fmt.Sprintf("cannot reach the store at %s: check --s3-endpoint (or AWS_ENDPOINT_URL_S3) and that the store is running", c.endpoint)
	}
	if hint == "" && errors.As(err, &resp) {
		hint = statusHint(resp.HTTPStatusCode(), loc)
	}
	if hint == "" {
		return fmt.Errorf("%s %s: %w", doing, loc, err)
	}
	return fmt.Errorf("%s %s: %s\n(%w)", doing, loc, hint, err)
}

// tlsHint words why the store's TLS certificate was refused, naming
// --s3-ca: a self-hosted store's certificate is usually signed by a
// private CA that the system does not trust. Empty when err is not about
// TLS.
func (c *Client) tlsHint(err error) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var rec tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown):
		if c.caFile != "" {
			return fmt.Sprintf("the store's TLS certificate is signed by an unknown authority: neither the CA in --s3-ca %s nor a system CA signed it; give the CA certificate that signed the store's certificate (PEM) with --s3-ca", c.caFile)
		}
		return "the store's TLS certificate is signed by an unknown authority (this machine does not trust its CA): give that CA certificate (PEM) with --s3-ca FILE"
	case errors.As(err, &host):
		return fmt.Sprintf("the store's TLS certificate is not for the host in %s (%v): give --s3-endpoint a name the certificate lists", c.endpoint, host.Error())
	case errors.As(err, &invalid):
		return fmt.Sprintf("the store's TLS certificate is not valid (%v): renew it on the store, or check this machine's clock", invalid.Error())
	case errors.As(err, &rec):
		return fmt.Sprintf("the store at %s does not speak TLS: use http:// in --s3-endpoint", c.endpoint)
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Sprintf("the store at %s does not speak TLS: use http:// in --s3-endpoint", c.endpoint)
	}
	// Go servers (SeaweedFS, MinIO) answer plain HTTP on a TLS port with
	// a bare 400 and close the connection: no S3 error code comes back.
	var resp *awshttp.ResponseError
	var api smithy.APIError
	if strings.HasPrefix(c.endpoint, "http://") && errors.As(err, &resp) && resp.HTTPStatusCode() == 400 && !errors.As(err, &api) {
		return fmt.Sprintf("the store at %s refused a plain HTTP request (400 without an S3 error): if it serves HTTPS, use https:// in --s3-endpoint (and --s3-ca for a private CA)", c.endpoint)
	}
	return ""
}

// apiHint words the S3 error codes a reader meets.
func apiHint(code string, loc Location) string {
	switch code {
	case "NoSuchBucket":
		return fmt.Sprintf("bucket %q does not exist on this store: check the name and --s3-endpoint, or create it (aws s3 mb s3://%s)", loc.Bucket, loc.Bucket)
	case "NoSuchKey", "NotFound":
		return "no such object: list what is there with 'aws s3 ls " + loc.String() + "'"
	case "InvalidAccessKeyId":
		return "the store does not know this access key: check AWS_ACCESS_KEY_ID or the profile's aws_access_key_id (and --s3-endpoint: keys belong to one store)"
	case "SignatureDoesNotMatch":
		return "the store rejected the request signature, so the secret key is wrong: check AWS_SECRET_ACCESS_KEY or the profile's aws_secret_access_key"
	case "AccessDenied", "Forbidden":
		return "access denied: the credentials lack permission for this bucket (s3:ListBucket to list, s3:GetObject to read); ask for them or use another profile"
	case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
		return "the bucket is in another region: pass --s3-region (or set AWS_REGION) to the bucket's region"
	case "InvalidBucketName":
		return "the store rejects this bucket name: check it"
	}
	return ""
}

// statusHint covers stores that answer with a bare status code.
func statusHint(code int, loc Location) string {
	switch code {
	case 301:
		return apiHint("PermanentRedirect", loc)
	case 403:
		return apiHint("AccessDenied", loc)
	case 404:
		return fmt.Sprintf("not found: check the bucket %q and the prefix", loc.Bucket)
	}
	return ""
}

// Permanent reports whether err is one that retrying cannot cure: the
// store's certificate is refused, there are no credentials or the store
// rejects them, or the bucket does not exist. Uploads stop retrying on
// these and say so; a store that is away or slow is worth waiting for.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var rec tls.RecordHeaderError
	if errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) || errors.As(err, &rec) {
		return true
	}
	msg := err.Error()
	if strings.Contains(msg, "failed to refresh cached credentials") || strings.Contains(msg, "failed to retrieve credentials") ||
		strings.Contains(msg, "server gave HTTP response to HTTPS client") {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidBucketName":
			return true
		}
	}
	return false
}

// Explain words an error of an operation on loc (as List and Get do) for
// callers that use the SDK directly, such as uploads.
func (c *Client) Explain(err error, doing string, loc Location) error {
	return c.explain(err, doing, loc)
}
