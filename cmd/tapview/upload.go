package main

import (
	"context"
	"fmt"
	"io"
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

// uploadFlags are --upload (and -w s3://...) with what tunes it. They are
// registered on the live commands only: a file opened with `tapview open`
// is already on disk, and `aws s3 cp` ships it better.
type uploadFlags struct {
	url      string
	segSize  byteSize
	segTime  time.Duration
	spoolMax byteSize
	spoolDir string
	user     string
	wait     time.Duration
	s3       s3Flags // storage_flags.go
	on       bool    // registered on this command
}

// liveCommand reports whether the command named so captures live:
// connect agent|api|envoy|sink, attach and sink.
func liveCommand(name string) bool {
	switch name {
	case "agent", "api", "envoy", "sink", "attach":
		return true
	}
	return false
}

func (u *uploadFlags) add(cmd *cobra.Command) {
	name, _, _ := strings.Cut(cmd.Use, " ")
	if !liveCommand(name) {
		return
	}
	u.on = true
	u.segSize = segment.DefaultMaxBytes
	u.spoolMax = 1 << 30
	fs := cmd.Flags()
	fs.StringVar(&u.url, "upload", "", "also record to object storage, in rolling segments: `s3://BUCKET/PREFIX` (same as -w s3://...)")
	fs.Var(&u.segSize, "segment-size", "with --upload: start a new segment at this size")
	fs.DurationVar(&u.segTime, "segment-time", segment.DefaultMaxAge, "with --upload: start a new segment after this long")
	fs.Var(&u.spoolMax, "spool-max", "with --upload: local disk that segments waiting for the store may use; beyond it they are dropped and counted")
	fs.StringVar(&u.spoolDir, "spool-dir", "", "with --upload: `DIR` for segments waiting for the store (default: the user cache directory)")
	fs.StringVar(&u.user, "user", "", "with --upload: who records, for the object tags (default: service account, BOSH_CLIENT, kube context user or $USER)")
	fs.DurationVar(&u.wait, "upload-wait", time.Minute, "with --upload: how long to keep uploading after the capture ends")
	u.s3.add(fs)
}

// uploadRun is one session's --upload.
type uploadRun struct {
	rec     *upload.Recorder
	dest    string
	wait    time.Duration
	stderr  io.Writer
	release func()
}

// startUpload starts --upload for a live session, or returns nil when it
// was not asked for. -w s3://... is taken from f.write here, before -w
// opens a file. notes receives what the user should hear while the
// capture runs (nil: stderr).
func startUpload(cmd *cobra.Command, inputs []input, f *sessionFlags, notes func(sources.Status)) (*uploadRun, error) {
	u := &f.up
	if s3store.IsURL(f.write) {
		if u.url != "" && u.url != f.write {
			return nil, usageErr("-w %s and --upload %s: give one destination in object storage", f.write, u.url)
		}
		u.url, f.write = f.write, ""
	}
	if u.url == "" {
		return nil, nil
	}
	if !u.on {
		return nil, usageErr("%s: recording to object storage works on live captures (connect, attach, sink); copy a file there with 'aws s3 cp'", u.url)
	}
	loc, err := s3store.ParseURL(u.url)
	if err != nil {
		return nil, usageErr("--upload: %v", err)
	}
	cli, err := u.s3.client(cmd.Context())
	if err != nil {
		return nil, err
	}
	dir := u.spoolDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir = filepath.Join(base, "tapview", "spool")
	}
	id := s3store.NewCaptureID(time.Now())
	meta := segment.Meta{CaptureID: id, Source: sourceNames(inputs), User: upload.User(u.user), Masked: !f.noMask}
	opts := upload.Options{
		Dir: filepath.Join(dir, id), SpoolMax: int64(u.spoolMax), MaxBytes: int64(u.segSize), MaxAge: u.segTime,
		Meta: meta, Application: "tapview " + versionString(),
		Putter: upload.NewS3Putter(cli.S3(), loc.Bucket),
		Key: func(s segment.Segment) string {
			return s3store.Segment{CaptureID: id, Source: meta.Source, Seq: s.Seq, Start: s.First, End: s.Last, Ext: s.Kind.Ext()}.Key(loc.Prefix)
		},
		Tags: func(segment.Segment) string { return s3store.Tags(id, meta.Source, meta.User, meta.Masked) },
		Note: notes,
	}
	if meta.Masked {
		masker, err := buildMasker(f.maskRules)
		if err != nil {
			return nil, err
		}
		opts.Sealer = &exportSealer{masker: masker, meta: meta}
	}
	stderr := cmd.ErrOrStderr()
	if opts.Note == nil && f.output == "" && isTerminal(cmd.OutOrStdout()) {
		// Lines on stderr would tear the UI; the summary at exit says
		// what happened.
		opts.Note = func(sources.Status) {}
	}
	if opts.Note == nil {
		opts.Note = func(s sources.Status) { fmt.Fprintf(stderr, "tapview: %s: %s\n", s.Source, s.Message) }
	}
	rec, err := upload.Start(opts)
	if err != nil {
		return nil, fmt.Errorf("--upload: %w", err)
	}
	state := "masked"
	if !meta.Masked {
		state = "NOT masked (--no-mask)"
	}
	fmt.Fprintf(stderr, "tapview: recording capture %s to %s (%s, user %s); segments wait in %s\n", id, loc.Join(id), state, meta.User, opts.Dir)
	return &uploadRun{rec: rec, dest: loc.Join(id).String(), wait: u.wait, stderr: stderr,
		release: holdExit(cmd.Context(), u.wait+10*time.Second)}, nil
}

// sourceNames names what is recorded, for the key and the tags.
func sourceNames(inputs []input) string {
	names := make([]string, 0, len(inputs))
	for _, in := range inputs {
		names = append(names, in.src.Name())
	}
	s := strings.Join(names, ",")
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

func (u *uploadRun) wrap(inputs []input) []input {
	if u == nil {
		return inputs
	}
	return teeInputs(inputs, u)
}

func (u *uploadRun) packet(p sources.Packet)          { u.rec.Packet(p) }
func (u *uploadRun) trace(t sources.Trace)            { u.rec.Trace(t) }
func (u *uploadRun) secrets(kind uint32, data []byte) { u.rec.Secrets(kind, data) }

// close ships the last segments and says what reached the store; an
// error (exit status 1) when anything was dropped or left on disk.
func (u *uploadRun) close(ctx context.Context) error {
	if u == nil {
		return nil
	}
	defer u.release()
	if ctx.Err() != nil {
		fmt.Fprintf(u.stderr, "tapview: finishing the upload (up to %v; interrupt again to stop now and keep the segments on disk)\n", u.wait)
	}
	msg, problem := u.rec.Close(u.wait).Summary(u.dest)
	if problem {
		return fmt.Errorf("--upload: %s", msg)
	}
	fmt.Fprintf(u.stderr, "tapview: %s\n", msg)
	return nil
}
