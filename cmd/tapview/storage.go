package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	s3store "github.com/tapview/tapview/storage/s3"
)

func newStorageCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "storage",
		Short: "Manage captures kept in an object store (S3)",
		Long: `Commands for captures recorded to an S3-compatible object store with
--upload. Read them back with 'tapview open s3://BUCKET/PREFIX/'.`,
	}
	c.AddCommand(newLifecycleCmd(), newStoragePushCmd())
	return c
}

func newLifecycleCmd() *cobra.Command {
	var (
		s3f    s3Flags
		days   int
		prefix string
		tags   []string
		apply  bool
	)
	cmd := &cobra.Command{
		Use:   "lifecycle s3://BUCKET/PREFIX --days N",
		Short: "Print (or --apply) the rule that deletes stored captures after N days",
		Long: `Retention of stored captures is the object store's job: a lifecycle rule
deletes them on schedule whether or not tapview runs again. This prints
the rule expiring objects under PREFIX (or --prefix) after --days, as the
JSON 'aws s3api put-bucket-lifecycle-configuration --lifecycle-configuration'
takes, so it can be reviewed or merged by hand. --tag narrows it to
objects with a tag (every segment is tagged capture-id, source, user and
masked), e.g. --tag user=alice.

With --apply the rule is added to the bucket's lifecycle configuration
(replacing an earlier tapview rule for the same selection, keeping all
others), which needs s3:GetLifecycleConfiguration and
s3:PutLifecycleConfiguration.`,
		Example: `  tapview storage lifecycle s3://captures/team-a/ --days 7
  tapview storage lifecycle s3://captures/ --days 30 --tag user=alice --apply`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			loc, err := s3store.ParseURL(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			if cmd.Flags().Changed("prefix") {
				loc.Prefix = prefix
			}
			tagMap := map[string]string{}
			for _, t := range tags {
				k, v, ok := strings.Cut(t, "=")
				if !ok || k == "" {
					return usageErr("--tag %q: write KEY=VALUE, e.g. --tag user=alice", t)
				}
				tagMap[k] = v
			}
			rule, err := s3store.ExpiryRule(loc.Prefix, days, tagMap)
			if err != nil {
				return usageErr("%v", err)
			}
			out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if !apply {
				fmt.Fprintf(errw, "tapview: this rule %s.\nApply it with --apply, or: aws s3api put-bucket-lifecycle-configuration --bucket %s --lifecycle-configuration file://rule.json\n(that call replaces the bucket's rules: merge with 'aws s3api get-bucket-lifecycle-configuration --bucket %s' first)\n",
					rule.Describe(loc.Bucket), loc.Bucket, loc.Bucket)
				fmt.Fprint(out, s3store.LifecycleConfig{Rules: []s3store.LifecycleRule{rule}}.JSON())
				return nil
			}
			c, err := s3f.client(cmd.Context())
			if err != nil {
				return err
			}
			cfg, err := c.ApplyRule(cmd.Context(), loc.Bucket, rule)
			if errors.Is(err, s3store.ErrNoLifecycle) {
				fmt.Fprint(out, s3store.LifecycleConfig{Rules: []s3store.LifecycleRule{rule}}.JSON())
				return fmt.Errorf("%w\n(the rule above was not applied)", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(errw, "tapview: applied to s3://%s: the rule %s. The bucket's rules are now:\n", loc.Bucket, rule.Describe(loc.Bucket))
			fmt.Fprint(out, cfg.JSON())
			return nil
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&days, "days", 0, "delete objects this many days after they were written")
	fs.StringVar(&prefix, "prefix", "", "the key `PREFIX` the rule covers (default: the URL's)")
	fs.StringArrayVar(&tags, "tag", nil, "only objects with this tag, `KEY=VALUE` (repeatable)")
	fs.BoolVar(&apply, "apply", false, "set the rule on the bucket instead of printing it")
	s3f.add(fs)
	_ = cmd.MarkFlagRequired("days")
	return cmd
}
