package main

import (
	"context"
	"syscall"
	"testing"
	"time"
)

// TestShutdownWaitsForHeldUpload: with an upload finishing (holdExit),
// a signal does not force the exit after the usual grace; the command
// ends on its own once the hold is released.
func TestShutdownWaitsForHeldUpload(t *testing.T) {
	sd := &shutdown{saves: map[int]func() error{}}
	ctx := context.WithValue(context.Background(), shutdownKey{}, sd)
	release := holdExit(ctx, 10*time.Second)
	w := startWatch(sd)
	w.sigs <- syscall.SIGINT
	<-w.cancelled
	select {
	case code := <-w.exited:
		t.Fatalf("forced exit (%d) while an upload held it", code)
	case <-time.After(3 * exitGrace):
	}
	release()
	close(w.done) // the command returns after the upload finished
	select {
	case code := <-w.exited:
		t.Fatalf("forced exit (%d) after the command returned", code)
	case <-w.finished:
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not end after the command returned")
	}
}

// TestShutdownHoldIsBounded: a hold that is never released still ends in
// a forced exit at its bound, and a second signal exits at once.
func TestShutdownHoldIsBounded(t *testing.T) {
	sd := &shutdown{saves: map[int]func() error{}}
	ctx := context.WithValue(context.Background(), shutdownKey{}, sd)
	holdExit(ctx, 1500*time.Millisecond)
	w := startWatch(sd)
	start := time.Now()
	w.sigs <- syscall.SIGTERM
	<-w.cancelled
	select {
	case code := <-w.exited:
		if took := time.Since(start); took < 1500*time.Millisecond || code != 143 {
			t.Errorf("forced exit %d after %v, want 143 after the 1.5 s hold", code, took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no forced exit at the hold's bound")
	}

	sd = &shutdown{saves: map[int]func() error{}}
	holdExit(context.WithValue(context.Background(), shutdownKey{}, sd), time.Minute)
	w = startWatch(sd)
	w.sigs <- syscall.SIGINT
	<-w.cancelled
	time.Sleep(exitGrace + 100*time.Millisecond)
	w.sigs <- syscall.SIGINT
	select {
	case code := <-w.exited:
		if code != 130 {
			t.Errorf("exit %d after a second SIGINT, want 130", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a second signal did not exit while an upload held the exit")
	}
}
