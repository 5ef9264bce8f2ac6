package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// A signal first cancels the command's context, which stops every source
// and lets the decoder finish what it has. A decoder can be busy for much
// longer than a person waits (a pathological capture, a stuck write), so
// when the command has not returned exitGrace later the process saves
// the output already produced (within saveTimeout, in case stdout itself
// is blocked) and exits with the shell's status for the signal. A second
// signal exits at once. Together they end any command within a second.
const (
	exitGrace   = 750 * time.Millisecond
	saveTimeout = 150 * time.Millisecond
)

// signalContext returns a context cancelled by SIGINT or SIGTERM, with a
// shutdown in it for writers to register their buffers with. stop must
// be called when the command returned.
func signalContext(parent context.Context) (ctx context.Context, stop func()) {
	sd := &shutdown{saves: map[int]func() error{}}
	ctx, cancel := context.WithCancel(context.WithValue(parent, shutdownKey{}, sd))
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go sd.watch(sigs, cancel, done, os.Exit)
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel()
		})
	}
}

// shutdown holds what must be written out before a forced exit.
type shutdown struct {
	mu    sync.Mutex
	next  int
	saves map[int]func() error
	// hold, while set, makes the forced exit wait (until holdEnd) for
	// work that must not be cut short, such as uploads (holdExit).
	hold    chan struct{}
	holdFor time.Duration
}

// holdExit makes a forced exit wait up to max after the signal for
// release, for work that a signal must not cut short (the last uploads of
// --upload). A second signal still exits at once. Without a shutdown in
// ctx it does nothing.
func holdExit(ctx context.Context, max time.Duration) (release func()) {
	sd, _ := ctx.Value(shutdownKey{}).(*shutdown)
	if sd == nil {
		return func() {}
	}
	ch := make(chan struct{})
	sd.mu.Lock()
	sd.hold, sd.holdFor = ch, max
	sd.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

type shutdownKey struct{}

// onForcedExit registers save (a writer's Sync) to run if the process is
// forced to exit; call the returned function once the writer is done.
// Without a shutdown in ctx (tests running commands in-process) it does
// nothing.
func onForcedExit(ctx context.Context, save func() error) (remove func()) {
	sd, _ := ctx.Value(shutdownKey{}).(*shutdown)
	if sd == nil {
		return func() {}
	}
	sd.mu.Lock()
	defer sd.mu.Unlock()
	id := sd.next
	sd.next++
	sd.saves[id] = save
	return func() {
		sd.mu.Lock()
		defer sd.mu.Unlock()
		delete(sd.saves, id)
	}
}

// watch waits for the first signal, cancels, and forces the exit if the
// command is still running after exitGrace or a second signal arrives.
func (sd *shutdown) watch(sigs <-chan os.Signal, cancel func(), done <-chan struct{}, exit func(int)) {
	var first os.Signal
	select {
	case first = <-sigs:
	case <-done:
		return
	}
	cancel()
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		if !sd.wait(sigs, done, exit) {
			return
		}
		sd.save(saveTimeout)
		exit(signalStatus(first))
	case again := <-sigs:
		exit(signalStatus(again))
	}
}

// wait lets a holdExit finish before the forced exit; it reports false
// when the command ended meanwhile.
func (sd *shutdown) wait(sigs <-chan os.Signal, done <-chan struct{}, exit func(int)) bool {
	sd.mu.Lock()
	hold, d := sd.hold, sd.holdFor
	sd.mu.Unlock()
	if hold == nil {
		return true
	}
	// The grace after the signal already passed.
	t := time.NewTimer(max(d-exitGrace, 0))
	defer t.Stop()
	select {
	case <-done:
		return false
	case <-hold:
		// Released: the command returns in a moment.
		select {
		case <-done:
			return false
		case <-time.After(exitGrace):
		}
	case <-t.C:
	case again := <-sigs:
		exit(signalStatus(again))
	}
	return true
}

// save runs the registered saves, giving up after timeout: a save waits
// for the writer's lock and for stdout, and a reader that stopped reading
// must not keep the process alive.
func (sd *shutdown) save(timeout time.Duration) {
	sd.mu.Lock()
	fns := make([]func() error, 0, len(sd.saves))
	for _, fn := range sd.saves {
		fns = append(fns, fn)
	}
	sd.mu.Unlock()
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(func() { _ = fn() })
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(timeout):
	}
}

// signalStatus is the exit status shells report for a process killed by
// sig: 128 plus the signal number (130 for SIGINT, 143 for SIGTERM).
func signalStatus(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}
