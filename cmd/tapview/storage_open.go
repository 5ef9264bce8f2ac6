package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/s3source"
	s3store "github.com/tapview/tapview/storage/s3"
)

// s3Inputs lists an s3:// argument and returns its sources (one per
// recorded source, each reading its segments in order) and what they add
// up to, for the progress line.
func s3Inputs(ctx context.Context, arg string, f *s3Flags, r *timeRange, prog *s3source.Progress) ([]sources.Source, error) {
	loc, err := s3store.ParseURL(arg)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	since, until, err := r.parse(time.Now())
	if err != nil {
		return nil, err
	}
	c, err := f.client(ctx)
	if err != nil {
		return nil, err
	}
	srcs, err := s3source.Plan(ctx, c, loc, s3source.Range{Since: since, Until: until}, prog)
	if err != nil {
		return nil, err
	}
	out := make([]sources.Source, len(srcs))
	for i, s := range srcs {
		out[i] = s
	}
	return out, nil
}

// s3Progress prints how much of the stored segments has been read to w
// every interval while a headless run reads them, when w is a terminal
// (scripts get the summary line only), and a summary at the end.
type s3Progress struct {
	prog  *s3source.Progress
	w     io.Writer
	tty   bool
	stop  chan struct{}
	done  sync.WaitGroup
	start time.Time
}

func startS3Progress(prog *s3source.Progress, w io.Writer, every time.Duration) *s3Progress {
	p := &s3Progress{prog: prog, w: w, stop: make(chan struct{}), start: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		p.done.Add(1)
		go p.loop(every)
	}
	return p
}

func (p *s3Progress) loop(every time.Duration) {
	defer p.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			done, total := p.prog.Bytes()
			fmt.Fprintf(p.w, "\rtapview: read %s of %s from the store (%d%%)  ", mb(done), mb(total), percent(done, total))
		}
	}
}

// finish stops the ticker and prints the summary.
func (p *s3Progress) finish() {
	close(p.stop)
	p.done.Wait()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	done, total := p.prog.Bytes()
	fmt.Fprintf(p.w, "tapview: read %s of %s from the store in %s\n", mb(done), mb(total), time.Since(p.start).Round(time.Millisecond))
}

func mb(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

func percent(done, total int64) int64 {
	if total <= 0 {
		return 0
	}
	return min(100, done*100/total)
}

// openInputs opens `open`'s arguments: files, stdin, and s3:// URLs. The
// returned finish prints the store's read summary (headless runs only,
// where the UI's status line is not there to show progress).
func openInputs(cmd *cobra.Command, args []string, f *s3Flags, r *timeRange, headless bool) ([]input, func(), error) {
	var inputs []input
	prog := &s3source.Progress{}
	stored := false
	for _, a := range args {
		if s3store.IsURL(a) {
			srcs, err := s3Inputs(cmd.Context(), a, f, r, prog)
			if err != nil {
				return nil, nil, err
			}
			for _, s := range srcs {
				inputs = append(inputs, input{src: s})
			}
			stored = true
			continue
		}
		src, err := openFile(a)
		if err != nil {
			return nil, nil, err
		}
		inputs = append(inputs, input{src: src})
	}
	if r.set() && !stored {
		return nil, nil, usageErr("%v", errS3Only("--since/--until"))
	}
	if !stored || !headless {
		return inputs, func() {}, nil
	}
	p := startS3Progress(prog, cmd.ErrOrStderr(), 2*time.Second)
	return inputs, p.finish, nil
}

// exportInputs opens `export`'s arguments. Stored sources are spooled in
// pass one like stdin, so pass two does not fetch them from the store
// again.
func exportInputs(cmd *cobra.Command, args []string, f *exportFlags) ([]exportInput, error) {
	var ins []exportInput
	names := map[string]string{}
	stored := false
	for _, a := range args {
		var more []exportInput
		if s3store.IsURL(a) {
			srcs, err := s3Inputs(cmd.Context(), a, &f.s3, &f.span, nil)
			if err != nil {
				return nil, err
			}
			for _, s := range srcs {
				more = append(more, exportInput{path: a, src: s, spool: true})
			}
			stored = true
		} else {
			var err error
			if more, err = openExportInputs([]string{a}); err != nil {
				return nil, err
			}
		}
		for _, in := range more {
			if prev, dup := names[in.src.Name()]; dup {
				return nil, usageErr("%s and %s both hold a source named %q: export tells packets apart by source name, so export them separately", prev, a, in.src.Name())
			}
			names[in.src.Name()] = a
		}
		ins = append(ins, more...)
	}
	if f.span.set() && !stored {
		return nil, usageErr("%v", errS3Only("--since/--until"))
	}
	return ins, nil
}
