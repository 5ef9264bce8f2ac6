package keylog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// WatchInterval is how often Watch looks at the key log file's size.
const WatchInterval = 500 * time.Millisecond

// maxReadPerPoll bounds one poll's read so a huge file is consumed in
// steps without holding a large buffer.
const maxReadPerPoll = 1 << 20

// Watch reads the key log file at path and keeps reading what is appended
// to it until ctx is cancelled, so a live capture can decrypt connections
// whose keys a browser or service writes while tapview runs. A file that
// shrinks (truncated) or is replaced (rotated: another inode at the path)
// is read again from its start. A missing file is waited for. Errors are
// reported in Stats().WatchError, never returned: a key log that cannot
// be read only means fewer decrypted flows. Watch returns nil when ctx
// ends.
func (k *KeyLog) Watch(ctx context.Context, path string) error {
	return k.WatchEvery(ctx, path, WatchInterval)
}

// WatchEvery is Watch with another polling interval (tests, or a CLI flag
// trading latency against wake-ups).
func (k *KeyLog) WatchEvery(ctx context.Context, path string, every time.Duration) error {
	if path == "" {
		return errors.New("key log watch: empty path")
	}
	if every <= 0 {
		every = WatchInterval
	}
	k.watches.Add(1)
	defer k.watches.Add(-1)
	w := &watcher{k: k, path: path}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.poll()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// watcher is the state of one Watch: where it is in which file, and the
// unfinished last line.
type watcher struct {
	k       *KeyLog
	path    string
	info    os.FileInfo // of the file being followed
	offset  int64
	partial []byte // bytes after the last newline
	long    bool   // partial overflowed MaxLine: skip to the next newline
}

func (w *watcher) setErr(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	w.k.count(func(s *Stats) { s.WatchError = msg })
}

// poll reads whatever the file gained since the last poll.
func (w *watcher) poll() {
	st, err := os.Stat(w.path)
	if err != nil {
		w.setErr(fmt.Errorf("key log %s: %w", w.path, err))
		return
	}
	if w.info != nil && (!os.SameFile(w.info, st) || st.Size() < w.offset) {
		// Rotated or truncated: start over. Secrets already stored stay.
		w.offset, w.partial, w.long = 0, nil, false
	}
	w.info = st
	if st.Size() == w.offset {
		w.setErr(nil)
		return
	}
	f, err := os.Open(w.path)
	if err != nil {
		w.setErr(fmt.Errorf("key log %s: %w", w.path, err))
		return
	}
	defer f.Close()
	if _, err := f.Seek(w.offset, io.SeekStart); err != nil {
		w.setErr(fmt.Errorf("key log %s: %w", w.path, err))
		return
	}
	buf := make([]byte, min(st.Size()-w.offset, maxReadPerPoll))
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		w.setErr(fmt.Errorf("key log %s: %w", w.path, err))
		return
	}
	w.offset += int64(n)
	w.feed(buf[:n])
	w.setErr(nil)
}

// feed parses complete lines, keeping the unfinished tail for the next
// poll (a writer may be in the middle of a line).
func (w *watcher) feed(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if w.long || len(w.partial)+len(b) > MaxLine {
				w.long, w.partial = true, nil
			} else {
				w.partial = append(w.partial, b...)
			}
			return
		}
		line := b[:i]
		b = b[i+1:]
		if w.long {
			w.long = false
			w.k.count(func(s *Stats) { s.Lines++; s.Bad++ })
			continue
		}
		if len(w.partial) > 0 {
			line = append(w.partial, line...)
			w.partial = nil
		}
		w.k.AddLine(line)
	}
}
