package main

import (
	"context"
	"errors"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/filter"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/ui"
)

// runUI decodes into a Store in the background and runs the terminal UI
// over it; quitting the UI stops the sources, and a source error is
// reported after the screen is restored.
func runUI(ctx context.Context, cancel context.CancelFunc, inputs []input, keys *keylog.KeyLog, f *sessionFlags, mask func(*decode.Exchange) *decode.Exchange) error {
	store := decode.NewStore()
	out, stats, meshUI := f.mesh.ui(inputs, store)
	errc := make(chan error, 1)
	go func() { errc <- runPipeline(ctx, inputs, keys, out, stats) }()
	live := false
	title := ""
	for i, in := range inputs {
		live = live || in.live
		if i == 0 {
			title = in.src.Name()
		}
	}
	cfg := ui.Config{
		Store:    store,
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
		Mask: mask,
	}
	meshUI(&cfg)
	cfg.Export = exportShownWith(f)
	uiErr := ui.Run(ctx, cfg)
	cancel()
	perr := <-errc
	if uiErr != nil && !errors.Is(uiErr, context.Canceled) {
		return uiErr
	}
	return perr
}
