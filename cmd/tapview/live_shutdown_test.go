package main

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// watchRun drives shutdown.watch with real channels and records what it
// did instead of exiting the test process.
type watchRun struct {
	sigs      chan os.Signal
	done      chan struct{}
	cancelled chan struct{}
	exited    chan int
	finished  chan struct{}
}

func startWatch(sd *shutdown) *watchRun {
	w := &watchRun{sigs: make(chan os.Signal, 2), done: make(chan struct{}), cancelled: make(chan struct{}),
		exited: make(chan int, 1), finished: make(chan struct{})}
	go func() {
		defer close(w.finished)
		sd.watch(w.sigs, func() { close(w.cancelled) }, w.done, func(code int) { w.exited <- code })
	}()
	return w
}

func TestShutdownForcesExitAfterGrace(t *testing.T) {
	sd := &shutdown{saves: map[int]func() error{}}
	ctx := context.WithValue(context.Background(), shutdownKey{}, sd)
	saved := make(chan struct{}, 2)
	onForcedExit(ctx, func() error { saved <- struct{}{}; return nil })
	remove := onForcedExit(ctx, func() error { t.Error("a removed save ran"); return nil })
	remove()

	w := startWatch(sd)
	start := time.Now()
	w.sigs <- syscall.SIGTERM
	<-w.cancelled
	select {
	case code := <-w.exited:
		if took := time.Since(start); took < exitGrace {
			t.Errorf("forced exit after %v, before the %v grace", took, exitGrace)
		}
		if code != 143 {
			t.Errorf("exit status %d after SIGTERM, want 143", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no forced exit while the command kept running")
	}
	select {
	case <-saved:
	default:
		t.Error("the registered output was not saved before the forced exit")
	}
}

func TestShutdownSecondSignalExitsAtOnce(t *testing.T) {
	w := startWatch(&shutdown{saves: map[int]func() error{}})
	w.sigs <- syscall.SIGINT
	<-w.cancelled
	start := time.Now()
	w.sigs <- syscall.SIGINT
	select {
	case code := <-w.exited:
		if took := time.Since(start); took >= exitGrace {
			t.Errorf("second signal took %v to exit", took)
		}
		if code != 130 {
			t.Errorf("exit status %d after SIGINT, want 130", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a second signal did not exit")
	}
}

func TestShutdownLeavesFinishedCommandAlone(t *testing.T) {
	w := startWatch(&shutdown{saves: map[int]func() error{}})
	w.sigs <- syscall.SIGTERM
	<-w.cancelled
	close(w.done) // the command returned within the grace period
	<-w.finished
	select {
	case code := <-w.exited:
		t.Fatalf("exited with %d although the command finished", code)
	case <-time.After(exitGrace + 100*time.Millisecond):
	}

	// No signal at all: stop ends the watcher without cancelling.
	w = startWatch(&shutdown{saves: map[int]func() error{}})
	close(w.done)
	<-w.finished
	select {
	case <-w.cancelled:
		t.Fatal("cancelled without a signal")
	default:
	}
}

// A save that blocks (stdout nobody reads) delays the forced exit by at
// most saveTimeout.
func TestShutdownSaveIsBounded(t *testing.T) {
	sd := &shutdown{saves: map[int]func() error{}}
	block := make(chan struct{})
	defer close(block)
	onForcedExit(context.WithValue(context.Background(), shutdownKey{}, sd), func() error { <-block; return nil })
	start := time.Now()
	sd.save(saveTimeout)
	if took := time.Since(start); took > saveTimeout+500*time.Millisecond {
		t.Errorf("a blocked save held the exit for %v", took)
	}
}
