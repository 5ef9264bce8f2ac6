package main

import (
	"context"
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/filter"
	"github.com/tapview/tapview/decode/spill"
	"github.com/tapview/tapview/decode/store"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/ui"
)

// runUI decodes into a memory-bounded store in the background and runs
// the terminal UI over it; quitting the UI stops the sources, and a source
// error is reported after the screen is restored. opts reach bubbletea
// (tests run the real program loop without a terminal).
func runUI(ctx context.Context, cancel context.CancelFunc, inputs []input, keys *keylog.KeyLog, f *sessionFlags, mask func(*decode.Exchange) *decode.Exchange, opts ...tea.ProgramOption) error {
	uiCollector()
	so := store.Options{Budget: f.mem.storeBudget()}
	sp, spillErr := spill.Open(spill.Options{MaxBytes: int64(f.mem.spillMax)})
	if spillErr == nil {
		defer sp.Close()
		// A forced exit (signal, busy decoder) skips defers: remove the
		// spill directory then too rather than leave it to the next start.
		defer onForcedExit(ctx, sp.Close)()
		so.Spill = sp
	}
	both := store.New(so)
	if spillErr != nil {
		both.Note(sources.Status{Time: time.Now(), Source: "tapview", Level: sources.Warning, Kind: "spill",
			Message: "cannot keep whole exchanges on disk (" + spillErr.Error() + "): the detail shows summaries only; set TMPDIR to a writable directory"})
	}
	out, stats, meshUI := f.mesh.ui(inputs, both)
	errc := make(chan error, 1)
	go func() {
		err := runPipelineWith(ctx, inputs, keys, out, stats, decodeOptions{maxFlows: f.mem.maxFlows(), lanes: f.lanes})
		if err != nil && ctx.Err() == nil {
			// Said in the UI's notes (key E) while it still runs, not
			// only on stderr after quitting.
			both.Note(sources.Status{Time: time.Now(), Source: "tapview", Level: sources.Error, Kind: "failed", Message: err.Error()})
		}
		errc <- err
	}()
	// A capture arriving through a pipe (tcpdump -w - | tapview open -)
	// is watched as it comes, like a live source: the list follows the
	// newest row and the status says live rather than spinning.
	live := streams(inputs)
	title := ""
	if len(inputs) > 0 {
		title = inputs[0].src.Name()
	}
	cfg := ui.Config{
		Title:    title,
		Live:     live,
		Filter:   f.filter,
		Unmasked: f.noMask,
		Compile: func(expr string) (ui.Matcher, error) {
			p, err := filter.Compile(expr)
			if err != nil {
				return nil, err
			}
			return p, nil
		},
		Mask:       mask,
		Memory:     int64(f.mem.memory),
		MemoryUsed: processMemory,
	}
	meshUI(&cfg)
	again := capturesOf(inputs)
	cfg.Export = exportShownWith(f, again)
	cfg.Stream = streamReader{maskRules: f.maskRules, again: again}
	cfg.HistoryPath = ui.DefaultHistoryPath()
	uiErr := ui.Run(ctx, cfg, opts...)
	cancel()
	perr := <-errc
	if uiErr != nil && !errors.Is(uiErr, context.Canceled) {
		return uiErr
	}
	return perr
}
