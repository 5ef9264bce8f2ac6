package spill

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestStaleDirectoryCleanup(t *testing.T) {
	if !canLock {
		t.Skip("no file locking on this platform: stale directories are kept")
	}
	parent := t.TempDir()
	live := openTest(t, Options{Dir: parent})
	liveRef, err := live.Put(http1Exchange(1))
	if err != nil {
		t.Fatal(err)
	}
	// A dead process's store: lock file present, nobody holds it.
	dead := filepath.Join(parent, dirPrefix+"99999-dead")
	noLock := filepath.Join(parent, dirPrefix+"99998-nolock")
	other := filepath.Join(parent, "unrelated")
	for _, d := range []string{dead, noLock, other} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "seg-00000001"), []byte(segMagic), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dead, lockName), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	s2 := openTest(t, Options{Dir: parent})
	for _, d := range []string{dead, noLock} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s not removed: %v", filepath.Base(d), err)
		}
	}
	for _, d := range []string{other, live.Dir(), s2.Dir()} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(d), err)
		}
	}
	checkGet(t, live, liveRef, normalized(http1Exchange(1)))
}

// TestLockDirNoticesRemoval covers the race with a concurrent cleaner:
// a directory that vanished, or whose lock someone else holds, makes
// lockDir report errLockRace so Open tries a fresh directory.
func TestLockDirNoticesRemoval(t *testing.T) {
	if !canLock {
		t.Skip("no file locking on this platform")
	}
	if _, err := lockDir(filepath.Join(t.TempDir(), "gone")); !errors.Is(err, errLockRace) {
		t.Errorf("missing directory: %v, want errLockRace", err)
	}
	dir := t.TempDir()
	f, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Someone (a cleaner) holds the lock of a directory we try to take.
	other := t.TempDir()
	held, err := os.Create(filepath.Join(other, lockName))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if ok, err := tryLock(held); !ok || err != nil {
		t.Fatalf("tryLock: %v %v", ok, err)
	}
	if err := os.Remove(filepath.Join(other, lockName)); err != nil {
		t.Fatal(err)
	}
	if _, err := lockDir(other); err != nil {
		t.Errorf("directory whose old lock file was removed: %v", err)
	}
	// The second lock on a held file fails without waiting.
	g, err := os.Open(filepath.Join(dir, lockName))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if ok, err := tryLock(g); ok || err != nil {
		t.Errorf("second lock of a held file: ok %v err %v, want false, nil", ok, err)
	}
}
