package s3store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Options are what the --s3-* flags set. Everything else (credentials,
// profile, region, even the endpoint via AWS_ENDPOINT_URL_S3) comes from
// the AWS default chain: environment, shared config and credentials files
// with AWS_PROFILE, web identity (IRSA) and EKS pod identity, then the
// instance role, so tapview needs no credential settings of its own.
type Options struct {
	// Endpoint is the base URL of an S3-compatible store
	// ("http://127.0.0.1:8333"); empty means AWS S3 (or AWS_ENDPOINT_URL_S3).
	Endpoint string
	// PathStyle addresses buckets as ENDPOINT/BUCKET/KEY rather than
	// BUCKET.ENDPOINT/KEY, which most self-hosted stores need.
	PathStyle bool
	// CAFile is a PEM file of CA certificates trusted for the endpoint's
	// TLS, in addition to the system's.
	CAFile string
	// Region overrides AWS_REGION and the profile's region. When none is
	// configured anywhere, us-east-1 is used: S3-compatible stores accept
	// any region, and AWS answers a wrong one with a redirect that Explain
	// turns into "use --s3-region".
	Region string
}

// DefaultRegion is used when neither --s3-region nor the AWS configuration
// names one.
const DefaultRegion = "us-east-1"

// Client is an S3 client built from Options. Its methods are the few
// operations readers need; writers use S3 for uploads.
type Client struct {
	api      *s3.Client
	endpoint string
	caFile   string // --s3-ca, for messages
}

// New builds a client. It reads configuration files and the CA file but
// makes no request: credentials are fetched on first use, so errors about
// them come from the first List or Get (and Explain words them).
func New(ctx context.Context, o Options) (*Client, error) {
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--s3-endpoint %q is not a URL of a store: give one such as https://minio.example:9000 or http://127.0.0.1:8333", o.Endpoint)
		}
	}
	var loads []func(*config.LoadOptions) error
	if o.Region != "" {
		loads = append(loads, config.WithRegion(o.Region))
	}
	if o.CAFile != "" {
		hc, err := httpClientWithCA(o.CAFile)
		if err != nil {
			return nil, err
		}
		loads = append(loads, config.WithHTTPClient(hc))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("reading the AWS configuration: %w (check AWS_PROFILE and ~/.aws/config)", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	api := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			// Self-hosted stores differ in which of the newer default
			// integrity checksums they accept; sending them only when an
			// operation requires them works with all of them.
			so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
		so.UsePathStyle = o.PathStyle
	})
	ep := o.Endpoint
	if ep == "" {
		ep = "AWS S3 (" + cfg.Region + ")"
	}
	return &Client{api: api, endpoint: ep, caFile: o.CAFile}, nil
}

// S3 is the underlying SDK client, for operations this package does not
// wrap (uploads).
func (c *Client) S3() *s3.Client { return c.api }

// Endpoint names where requests go, for messages.
func (c *Client) Endpoint() string { return c.endpoint }

// httpClientWithCA trusts the system roots plus the certificates in file.
func httpClientWithCA(file string) (*awshttp.BuildableClient, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--s3-ca: %w (give a PEM file of CA certificates)", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--s3-ca %s: no PEM certificate found in the file (give the CA certificate, BEGIN CERTIFICATE ...)", file)
	}
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tr.TLSClientConfig.RootCAs = pool
	}), nil
}
