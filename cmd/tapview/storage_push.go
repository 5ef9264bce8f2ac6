package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapview/tapview/sources"
	s3store "github.com/tapview/tapview/storage/s3"
	"github.com/tapview/tapview/storage/segment"
	"github.com/tapview/tapview/storage/upload"
)

// defaultSpoolDir is where --upload keeps segments waiting for the store
// when --spool-dir is not given.
func defaultSpoolDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "tapview", "spool")
}

// segmentKey is a segment's object key: the capture's destination prefix
// and the storage/s3 key layout. Recording and pushing use it alike, so
// a segment pushed later lands where the run would have put it.
func segmentKey(m upload.Manifest, s segment.Segment) string {
	loc, _ := s3store.ParseURL(m.Dest)
	return s3store.Segment{CaptureID: m.CaptureID, Source: m.Source, Seq: s.Seq, Start: s.First, End: s.Last, Ext: s.Kind.Ext()}.Key(loc.Prefix)
}

// segmentTags are the object tags of a capture's segments. masked is the
// capture's: Push uploads only masked copies of a masked capture.
func segmentTags(m upload.Manifest, _ segment.Segment) string {
	return s3store.Tags(m.CaptureID, m.Source, m.User, m.Masked)
}

// pushSealer masks a masked capture's raw segments left behind with the
// rules the capture was recorded with (or rules, when given); nil for a
// --no-mask capture.
func pushSealer(m upload.Manifest, rules string) (upload.Sealer, error) {
	if !m.Masked {
		return nil, nil
	}
	if rules == "" {
		rules = m.MaskRules
	}
	masker, err := buildMasker(rules)
	if err != nil {
		return nil, fmt.Errorf("capture %s was masked with --mask-rules %s, which cannot be read now (%w): give the rules with --mask-rules", m.CaptureID, rules, err)
	}
	return &exportSealer{masker: masker, meta: segment.Meta{CaptureID: m.CaptureID, Source: m.Source, User: m.User, Masked: true}}, nil
}

func newStoragePushCmd() *cobra.Command {
	var (
		s3f   s3Flags
		rules string
		wait  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "push [DIR...]",
		Short: "Upload the segments an --upload run left on disk",
		Long: `When the store is away at the end of an --upload run, the segments that
could not be uploaded stay in the spool directory (--spool-dir, by default
the user cache directory), and the exit names them. 'storage push' uploads
them as the run would have: under the same keys and tags, to the bucket
and prefix the run was given, and masked as the run masked: segments the
run had masked go up as they are; segments it had not masked yet are
masked first (with the rules the run used, or --mask-rules), and one that
cannot be masked stays on disk, never uploaded. Segments of a --no-mask
run go up as recorded, tagged masked=false. A segment still being written
when the run was killed is not uploaded (its end may be torn); it is named
so it can be opened locally.

DIR is a spool directory or one capture's directory in it (the exit
names it); without DIR the default spool directory is pushed. Each
uploaded file is removed; a capture that a running tapview is still
recording is left alone. The next --upload run with the same spool
directory does the same, alongside its own segments, for captures bound
for its store.

The store is reached with the --s3-* flags the run was given (recorded in
the capture's capture.json) unless they are given here; credentials come
from the AWS default chain as always.`,
		Example: `  tapview storage push
  tapview storage push /var/spool/tapview --s3-ca /etc/ssl/store-ca.pem`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{defaultSpoolDir()}
			}
			var dirs []string
			for _, a := range args {
				if _, err := os.Stat(filepath.Join(a, upload.ManifestFile)); err == nil {
					dirs = append(dirs, a)
					continue
				}
				if _, err := os.Stat(a); err != nil {
					return usageErr("%s: %v (give the --spool-dir of the run, or the capture directory its exit named)", a, err)
				}
				dirs = append(dirs, upload.Captures(a, "")...)
			}
			errw := cmd.ErrOrStderr()
			if len(dirs) == 0 {
				fmt.Fprintf(errw, "tapview: nothing to push: no capture directories in %s\n", strings.Join(args, ", "))
				return nil
			}
			var failed []string
			for _, dir := range dirs {
				rep, err := pushDir(cmd.Context(), dir, &s3f, cmd.Flags().Changed, rules, wait, func(key string, n int64) {
					fmt.Fprintf(errw, "tapview: uploaded %s (%d bytes)\n", key, n)
				})
				if err != nil {
					failed = append(failed, fmt.Sprintf("%s: %v", dir, err))
					continue
				}
				msg, problem := pushSummary(rep)
				fmt.Fprintf(errw, "tapview: %s\n", msg)
				if problem {
					failed = append(failed, dir)
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("storage push: not everything was uploaded (see above): %s", strings.Join(failed, "; "))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&rules, "mask-rules", "", "YAML `FILE` of masking rules for segments not masked yet (default: the rules the run used)")
	fs.DurationVar(&wait, "wait", 30*time.Second, "how long to retry one segment while the store does not answer")
	s3f.add(fs)
	return cmd
}

// pushDir pushes one capture directory with the store flags the run
// recorded, each overridden by the same flag when changed is true for it.
func pushDir(ctx context.Context, dir string, f *s3Flags, changed func(string) bool, rules string, wait time.Duration, uploaded func(string, int64)) (upload.PushReport, error) {
	m, err := upload.ReadManifest(dir)
	if err != nil {
		return upload.PushReport{}, fmt.Errorf("not a capture directory of an --upload run (%w)", err)
	}
	loc, err := s3store.ParseURL(m.Dest)
	if err != nil {
		return upload.PushReport{}, err
	}
	o := s3store.Options{Endpoint: m.Endpoint, PathStyle: m.PathStyle, Region: m.Region, CAFile: m.CAFile}
	if changed("s3-endpoint") {
		o.Endpoint = f.endpoint
	}
	if changed("s3-path-style") {
		o.PathStyle = f.pathStyle
	}
	if changed("s3-region") {
		o.Region = f.region
	}
	if changed("s3-ca") {
		o.CAFile = f.caFile
	}
	cli, err := s3store.New(ctx, o)
	if err != nil {
		return upload.PushReport{}, err
	}
	sealer, err := pushSealer(m, rules)
	if err != nil {
		return upload.PushReport{}, err
	}
	return upload.Push(ctx, dir, upload.PushOptions{
		Putter: upload.NewStorePutter(cli, loc.Bucket), Sealer: sealer,
		Key: segmentKey, Tags: segmentTags, Wait: wait, Uploaded: uploaded,
	}), nil
}

// pushSummary says what a push did, naming what is still on disk.
func pushSummary(rep upload.PushReport) (string, bool) {
	m := rep.Manifest
	if rep.Busy {
		return fmt.Sprintf("capture %s in %s is being recorded or pushed by a running tapview: left alone", m.CaptureID, rep.Dir), false
	}
	loc, _ := s3store.ParseURL(m.Dest)
	var b strings.Builder
	fmt.Fprintf(&b, "capture %s: uploaded %d segment(s), %d bytes, from %s to %s", m.CaptureID, rep.Uploaded, rep.Bytes, rep.Dir, loc.Join(m.CaptureID))
	if rep.Err != nil && len(rep.Left) == 0 {
		fmt.Fprintf(&b, "; %v", rep.Err)
	}
	if len(rep.Left) > 0 {
		fmt.Fprintf(&b, "; %d file(s) are still on disk:", len(rep.Left))
		for _, l := range rep.Left {
			fmt.Fprintf(&b, "\n  %s (%v)", l.Path, l.Cause)
		}
		if rep.Err != nil && !errors.Is(rep.Err, context.Canceled) {
			b.WriteString("\nrun 'tapview storage push' again when the store answers")
		}
	}
	return b.String(), rep.Err != nil || len(rep.Left) > 0
}

// earlierPush uploads, while a new capture records, what earlier
// captures left in the same spool directory for the same store, as
// fluent-bit replays its filesystem buffer at start: a recorder pod
// restarted on the same volume ships what its last run could not.
type earlierPush struct {
	cancel context.CancelFunc
	done   chan struct{}
	reps   []upload.PushReport
}

// resumeEarlier starts pushing the earlier captures under root bound for
// this run's store (the same --s3-endpoint, so this run's client and
// credentials reach it), each to its own recorded bucket and prefix,
// masked as it was recorded. Captures bound elsewhere are announced with
// the command that uploads them.
func (u *uploadRun) resumeEarlier(root, self string, cli *s3store.Client, uf *uploadFlags, note func(sources.Status)) {
	var mine []upload.Manifest
	var dirs []string
	for _, dir := range upload.Captures(root, self) {
		m, err := upload.ReadManifest(dir)
		if err != nil {
			continue
		}
		if m.Endpoint != uf.s3.endpoint {
			note(sources.Status{Time: time.Now(), Source: "upload", Level: sources.Warning, Kind: "upload",
				Message: fmt.Sprintf("capture %s left segments in %s for another store (%s): upload them with 'tapview storage push %s'", m.CaptureID, dir, orAWS(m.Endpoint), dir)})
			continue
		}
		mine, dirs = append(mine, m), append(dirs, dir)
	}
	if len(dirs) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &earlierPush{cancel: cancel, done: make(chan struct{})}
	u.earlier = e
	for i, dir := range dirs {
		loc, _ := s3store.ParseURL(mine[i].Dest)
		note(sources.Status{Time: time.Now(), Source: "upload", Level: sources.Info, Kind: "upload",
			Message: fmt.Sprintf("uploading what capture %s left in %s to %s", mine[i].CaptureID, dir, loc.Join(mine[i].CaptureID))})
	}
	go func() {
		defer close(e.done)
		for i, dir := range dirs {
			m := mine[i]
			loc, _ := s3store.ParseURL(m.Dest)
			sealer, err := pushSealer(m, "")
			if err != nil {
				e.reps = append(e.reps, upload.PushReport{Dir: dir, Manifest: m, Err: err})
				continue
			}
			e.reps = append(e.reps, upload.Push(ctx, dir, upload.PushOptions{
				Putter: upload.NewStorePutter(cli, loc.Bucket), Sealer: sealer, Key: segmentKey, Tags: segmentTags}))
		}
	}()
}

// wait gives the earlier captures' push up to d more, then stops it, and
// says what it did. Files it did not upload stay for the next run or
// 'storage push'; they do not make this run fail.
func (e *earlierPush) wait(d time.Duration) (string, bool) {
	if e == nil {
		return "", false
	}
	t := time.NewTimer(max(d, time.Second))
	select {
	case <-e.done:
	case <-t.C:
		e.cancel()
		<-e.done
	}
	t.Stop()
	e.cancel()
	var lines []string
	for _, rep := range e.reps {
		if rep.Busy {
			continue
		}
		msg, _ := pushSummary(rep)
		if rep.Err != nil && len(rep.Left) == 0 {
			msg += " (upload them with 'tapview storage push " + rep.Dir + "')"
		}
		lines = append(lines, "earlier "+msg)
	}
	return strings.Join(lines, "\n"), false
}

func orAWS(endpoint string) string {
	if endpoint == "" {
		return "AWS S3"
	}
	return endpoint
}
