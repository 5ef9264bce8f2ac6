package spool

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func file(t *testing.T, dir, name string, size int) Item {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	return Item{Path: p, Size: int64(size)}
}

// TestBound keeps at most Max bytes: a file past the bound is removed
// and counted, and uploading one makes room again.
func TestBound(t *testing.T) {
	dir := t.TempDir()
	s := New(100)
	a, b, c := file(t, dir, "a", 60), file(t, dir, "b", 60), file(t, dir, "c", 30)
	if !s.Add(a) {
		t.Fatal("a refused in an empty spool")
	}
	if s.Add(b) {
		t.Fatal("b accepted past the bound")
	}
	if _, err := os.Stat(b.Path); !os.IsNotExist(err) {
		t.Errorf("dropped file still on disk: %v", err)
	}
	if !s.Add(c) {
		t.Fatal("c refused though it fits")
	}
	if st := s.Stats(); st.Used != 90 || st.Dropped != 1 || st.DroppedBytes != 60 || st.Queued != 2 {
		t.Fatalf("stats %+v", st)
	}
	if s.Room() != 10 {
		t.Errorf("Room %d, want 10", s.Room())
	}
	got, ok := s.Next(context.Background())
	if !ok || got.Path != a.Path {
		t.Fatalf("Next = %v %v, want the oldest file", got, ok)
	}
	// In flight still counts.
	if s.Room() != 10 {
		t.Errorf("Room %d with a file in flight, want 10", s.Room())
	}
	if err := s.Done(got); err != nil {
		t.Fatal(err)
	}
	if s.Room() != 70 {
		t.Errorf("Room %d after an upload, want 70", s.Room())
	}
	if _, err := os.Stat(a.Path); !os.IsNotExist(err) {
		t.Errorf("uploaded file still on disk")
	}
}

// TestReturnAndLeft puts an interrupted upload back first, and Left
// lists every file still on disk.
func TestReturnAndLeft(t *testing.T) {
	dir := t.TempDir()
	s := New(0)
	a, b := file(t, dir, "a", 1), file(t, dir, "b", 1)
	s.Add(a)
	s.Add(b)
	got, _ := s.Next(context.Background())
	s.Return(got)
	if again, _ := s.Next(context.Background()); again.Path != a.Path {
		t.Fatalf("after Return, Next gave %s, want %s", again.Path, a.Path)
	}
	left := s.Left()
	if len(left) != 2 {
		t.Fatalf("Left = %v, want both files", left)
	}
}

// TestNextWaitsAndCloses blocks Next until a file comes, and ends it
// when the spool is closed and empty.
func TestNextWaitsAndCloses(t *testing.T) {
	dir := t.TempDir()
	s := New(0)
	got := make(chan bool)
	go func() {
		_, ok := s.Next(context.Background())
		got <- ok
	}()
	time.Sleep(20 * time.Millisecond)
	s.Add(file(t, dir, "a", 1))
	if !<-got {
		t.Fatal("Next did not get the added file")
	}
	go func() {
		_, ok := s.Next(context.Background())
		got <- ok
	}()
	s.Close()
	select {
	case ok := <-got:
		if ok {
			t.Fatal("Next returned a file from a closed, empty spool")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next kept waiting after Close")
	}
}
