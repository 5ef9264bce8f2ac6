package s3store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Retention is the store's job: a lifecycle rule expires stored captures
// on schedule whether or not any tapview runs again. These types are the
// JSON shape `aws s3api put-bucket-lifecycle-configuration
// --lifecycle-configuration` takes, so a printed rule can be reviewed and
// applied by hand, or merged into a bucket's existing rules.

// LifecycleConfig is a bucket's lifecycle configuration.
type LifecycleConfig struct {
	Rules []LifecycleRule `json:"Rules"`
}

// LifecycleRule is one rule: expire objects matching Filter after Days.
type LifecycleRule struct {
	ID         string          `json:"ID"`
	Filter     LifecycleFilter `json:"Filter"`
	Status     string          `json:"Status"`
	Expiration struct {
		Days int32 `json:"Days"`
	} `json:"Expiration"`
	// Multipart uploads a recorder never finished hold storage but are no
	// object, so Expiration never removes them. S3 refuses it in rules
	// that filter by tag (unfinished uploads have no tags yet).
	AbortIncompleteMultipartUpload *AbortMultipart `json:"AbortIncompleteMultipartUpload,omitempty"`
}

// AbortMultipart ends unfinished multipart uploads.
type AbortMultipart struct {
	DaysAfterInitiation int32 `json:"DaysAfterInitiation"`
}

// LifecycleFilter selects by prefix, or by prefix and tags (And).
type LifecycleFilter struct {
	Prefix *string       `json:"Prefix,omitempty"`
	And    *LifecycleAnd `json:"And,omitempty"`
	Tag    *LifecycleTag `json:"Tag,omitempty"`
}

// LifecycleAnd combines a prefix with tags.
type LifecycleAnd struct {
	Prefix string         `json:"Prefix,omitempty"`
	Tags   []LifecycleTag `json:"Tags"`
}

// LifecycleTag is one tag condition.
type LifecycleTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// ExpiryRule expires objects under prefix (and carrying every tag in
// tags, e.g. TagUser) days after they were written. Its ID is derived from
// the selection, so applying the same selection again replaces the rule
// instead of adding another.
func ExpiryRule(prefix string, days int, tags map[string]string) (LifecycleRule, error) {
	if days < 1 || days > 1<<30 {
		return LifecycleRule{}, fmt.Errorf("--days %d: give a number of days, 1 or more", days)
	}
	var r LifecycleRule
	r.Status = "Enabled"
	r.Expiration.Days = int32(days)
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	id := "tapview-expire:" + prefix
	switch len(keys) {
	case 0:
		r.Filter.Prefix = aws.String(prefix)
		r.AbortIncompleteMultipartUpload = &AbortMultipart{DaysAfterInitiation: 1}
	default:
		and := &LifecycleAnd{Prefix: prefix}
		for _, k := range keys {
			and.Tags = append(and.Tags, LifecycleTag{Key: k, Value: tags[k]})
			id += ":" + k + "=" + tags[k]
		}
		if prefix == "" && len(keys) == 1 {
			r.Filter.Tag = &and.Tags[0]
		} else {
			r.Filter.And = and
		}
	}
	// S3 limits rule IDs to 255 characters.
	if len(id) > 255 {
		id = id[:255]
	}
	r.ID = id
	return r, nil
}

// JSON renders a configuration holding rules, indented for reading.
func (c LifecycleConfig) JSON() string {
	b, _ := json.MarshalIndent(c, "", "  ") // plain structs: cannot fail
	return string(b) + "\n"
}

// ApplyRule adds rule to the bucket's lifecycle configuration, replacing
// a rule with the same ID and keeping every other rule: the S3 call sets
// the whole configuration at once, so writing only ours would delete the
// bucket owner's rules.
func (c *Client) ApplyRule(ctx context.Context, bucket string, rule LifecycleRule) (LifecycleConfig, error) {
	loc := Location{Bucket: bucket}
	var rules []types.LifecycleRule
	cur, err := c.api.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)})
	var api smithy.APIError
	switch {
	case err == nil:
		for _, r := range cur.Rules {
			if aws.ToString(r.ID) != rule.ID {
				rules = append(rules, r)
			}
		}
	case errors.As(err, &api) && api.ErrorCode() == "NoSuchLifecycleConfiguration":
	default:
		return LifecycleConfig{}, c.lifecycleErr(err, "reading the lifecycle rules of", loc)
	}
	rules = append(rules, rule.sdk())
	_, err = c.api.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
		Bucket:                 aws.String(bucket),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules},
	})
	if err != nil {
		return LifecycleConfig{}, c.lifecycleErr(err, "setting the lifecycle rules of", loc)
	}
	return c.Lifecycle(ctx, bucket)
}

// Lifecycle reads the bucket's rules back, as the store keeps them.
func (c *Client) Lifecycle(ctx context.Context, bucket string) (LifecycleConfig, error) {
	out, err := c.api.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return LifecycleConfig{}, c.lifecycleErr(err, "reading the lifecycle rules of", Location{Bucket: bucket})
	}
	var cfg LifecycleConfig
	for _, r := range out.Rules {
		cfg.Rules = append(cfg.Rules, fromSDK(r))
	}
	return cfg, nil
}

// ErrNoLifecycle is wrapped when the store does not implement lifecycle
// configuration at all (some S3-compatible stores), so the CLI can say
// to apply the printed rule another way.
var ErrNoLifecycle = errors.New("this store does not support S3 lifecycle rules")

func (c *Client) lifecycleErr(err error, doing string, loc Location) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NotImplemented", "MethodNotAllowed", "NotSupported":
			return fmt.Errorf("%s %s: %w: expire old captures with the store's own retention settings instead\n(%v)", doing, loc, ErrNoLifecycle, err)
		}
	}
	return c.explain(err, doing, loc)
}

func (r LifecycleRule) sdk() types.LifecycleRule {
	out := types.LifecycleRule{
		ID:         aws.String(r.ID),
		Status:     types.ExpirationStatus(r.Status),
		Expiration: &types.LifecycleExpiration{Days: aws.Int32(r.Expiration.Days)},
		Filter:     &types.LifecycleRuleFilter{},
	}
	if a := r.AbortIncompleteMultipartUpload; a != nil {
		out.AbortIncompleteMultipartUpload = &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(a.DaysAfterInitiation)}
	}
	switch {
	case r.Filter.And != nil:
		and := &types.LifecycleRuleAndOperator{Prefix: aws.String(r.Filter.And.Prefix)}
		for _, t := range r.Filter.And.Tags {
			and.Tags = append(and.Tags, types.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
		}
		out.Filter.And = and
	case r.Filter.Tag != nil:
		out.Filter.Tag = &types.Tag{Key: aws.String(r.Filter.Tag.Key), Value: aws.String(r.Filter.Tag.Value)}
	default:
		out.Filter.Prefix = r.Filter.Prefix
	}
	return out
}

func fromSDK(r types.LifecycleRule) LifecycleRule {
	var out LifecycleRule
	out.ID, out.Status = aws.ToString(r.ID), string(r.Status)
	if r.Expiration != nil {
		out.Expiration.Days = aws.ToInt32(r.Expiration.Days)
	}
	if a := r.AbortIncompleteMultipartUpload; a != nil {
		out.AbortIncompleteMultipartUpload = &AbortMultipart{DaysAfterInitiation: aws.ToInt32(a.DaysAfterInitiation)}
	}
	switch f := r.Filter; {
	case f == nil:
		out.Filter.Prefix = r.Prefix //nolint:staticcheck // old stores answer with the deprecated top-level prefix
	case f.And != nil:
		and := &LifecycleAnd{Prefix: aws.ToString(f.And.Prefix)}
		for _, t := range f.And.Tags {
			and.Tags = append(and.Tags, LifecycleTag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
		}
		out.Filter.And = and
	case f.Tag != nil:
		out.Filter.Tag = &LifecycleTag{Key: aws.ToString(f.Tag.Key), Value: aws.ToString(f.Tag.Value)}
	default:
		out.Filter.Prefix = aws.String(aws.ToString(f.Prefix))
	}
	return out
}

// Describe says in words what a rule does, for the CLI.
func (r LifecycleRule) Describe(bucket string) string {
	what := "every object in s3://" + bucket + "/"
	switch {
	case r.Filter.Prefix != nil && *r.Filter.Prefix != "":
		what = "objects under s3://" + bucket + "/" + *r.Filter.Prefix
	case r.Filter.Tag != nil:
		what = fmt.Sprintf("objects in s3://%s/ tagged %s=%s", bucket, r.Filter.Tag.Key, r.Filter.Tag.Value)
	case r.Filter.And != nil:
		var tags []string
		for _, t := range r.Filter.And.Tags {
			tags = append(tags, t.Key+"="+t.Value)
		}
		what = fmt.Sprintf("objects under s3://%s/%s tagged %s", bucket, r.Filter.And.Prefix, strings.Join(tags, " and "))
	}
	s := fmt.Sprintf("expires %s %d days after they were written", what, r.Expiration.Days)
	if a := r.AbortIncompleteMultipartUpload; a != nil {
		s += fmt.Sprintf(", and abandoned multipart uploads after %d days", a.DaysAfterInitiation)
	}
	return s
}
