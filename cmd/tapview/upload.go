package main

import (
	"context"
	"fmt"
	"io"
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
	earlier *earlierPush // storage_push.go
}

// absPath makes a flag's file path absolute for the manifest, so that
// 'storage push' from another directory finds it.
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
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
	// A store that refuses this machine (TLS, credentials, no bucket)
	// would refuse every segment: say so now, not at exit. A store that
	// does not answer is what the spool is for, and is not waited for
	// long: the capture should start.
	pctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
	fatal, perr := cli.Probe(pctx, loc.Bucket)
	cancel()
	if fatal {
		return nil, fmt.Errorf("--upload: %w", perr)
	}
	dir := u.spoolDir
	if dir == "" {
		dir = defaultSpoolDir()
	}
	id := s3store.NewCaptureID(time.Now())
	meta := segment.Meta{CaptureID: id, Source: sourceNames(inputs), User: upload.User(u.user), Masked: !f.noMask}
	man := &upload.Manifest{Version: 1, CaptureID: id, Source: meta.Source, User: meta.User, Masked: meta.Masked,
		Dest: u.url, Endpoint: u.s3.endpoint, PathStyle: u.s3.pathStyle, Region: u.s3.region, CAFile: absPath(u.s3.caFile),
		Started: time.Now().UTC()}
	if meta.Masked {
		man.MaskRules = absPath(f.maskRules)
	}
	opts := upload.Options{
		Dir: filepath.Join(dir, id), SpoolMax: int64(u.spoolMax), MaxBytes: int64(u.segSize), MaxAge: u.segTime,
		Meta: meta, Application: "tapview " + versionString(),
		Putter:   upload.NewStorePutter(cli, loc.Bucket),
		Key:      func(s segment.Segment) string { return segmentKey(*man, s) },
		Tags:     func(s segment.Segment) string { return segmentTags(*man, s) },
		Note:     notes,
		Manifest: man,
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
	if perr != nil {
		opts.Note(sources.Status{Time: time.Now(), Source: "upload", Level: sources.Warning, Kind: "upload",
			Message: fmt.Sprintf("%v\nrecording anyway: segments wait in %s and upload when the store answers", perr, opts.Dir)})
	}
	run := &uploadRun{rec: rec, dest: loc.Join(id).String(), wait: u.wait, stderr: stderr,
		release: holdExit(cmd.Context(), u.wait+10*time.Second)}
	run.resumeEarlier(dir, id, cli, u, opts.Note)
	return run, nil
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
	start := time.Now()
	msg, problem := u.rec.Close(u.wait).Summary(u.dest)
	if emsg, eproblem := u.earlier.wait(u.wait - time.Since(start)); emsg != "" {
		msg += "\n" + emsg
		problem = problem || eproblem
	}
	if problem {
		return fmt.Errorf("--upload: %s", msg)
	}
	fmt.Fprintf(u.stderr, "tapview: %s\n", msg)
	return nil
}
