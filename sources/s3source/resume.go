package s3source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Retries of one object's read after the connection broke; each resumes
// with a Range request where the last read stopped. The count is of
// failures in a row: a read that makes progress starts it again, so a
// long read survives any number of separate drops.
const (
	maxResumes  = 4
	resumeDelay = 200 * time.Millisecond
)

// resumer is an object body read as a stream, resumed after a broken
// connection with a ranged Get from the byte it reached, so a long read
// of a big segment survives a dropped connection without starting over
// or buffering the object. A failure it cannot get past is kept in err
// (the reader sees it as a cut-short file) so Run can report the store's
// error rather than "truncated".
type resumer struct {
	ctx      context.Context
	store    Store
	bucket   string
	key      string
	size     int64
	off      int64
	body     io.ReadCloser
	resumes  int
	err      error
	progress *Progress
}

func newResumer(ctx context.Context, st Store, bucket, key string, size int64, prog *Progress) *resumer {
	return &resumer{ctx: ctx, store: st, bucket: bucket, key: key, size: size, progress: prog}
}

func (r *resumer) Read(p []byte) (int, error) {
	for {
		if r.err != nil {
			return 0, r.err
		}
		if r.body == nil {
			if r.size > 0 && r.off >= r.size {
				return 0, io.EOF
			}
			body, err := r.store.Get(r.ctx, r.bucket, r.key, r.off)
			if err != nil {
				if r.retry(err) {
					continue
				}
				return 0, r.err
			}
			r.body = body
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		r.progress.read(int64(n))
		if n > 0 {
			r.resumes = 0
		}
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, io.EOF) && (r.size <= 0 || r.off >= r.size):
			return n, io.EOF
		}
		// The connection broke, or closed before the listed size.
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("connection closed at byte %d of %d", r.off, r.size)
		}
		_ = r.body.Close()
		r.body = nil
		if !r.retry(err) {
			return n, r.err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// retry waits before the next attempt, or records err as final.
func (r *resumer) retry(err error) bool {
	if r.ctx.Err() != nil {
		r.err = r.ctx.Err()
		return false
	}
	if r.resumes >= maxResumes {
		r.err = fmt.Errorf("gave up after %d retries in a row: %w", r.resumes, err)
		return false
	}
	r.resumes++
	select {
	case <-time.After(resumeDelay * time.Duration(r.resumes)):
		return true
	case <-r.ctx.Done():
		r.err = r.ctx.Err()
		return false
	}
}

// Close releases the connection.
func (r *resumer) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}

// Progress counts bytes read from the store against the total listed,
// for a status line; it is safe for concurrent use by the sources.
type Progress struct {
	done, total atomic.Int64
}

func (p *Progress) read(n int64) {
	if p != nil {
		p.done.Add(n)
	}
}

func (p *Progress) addTotal(srcs []*Source) {
	for _, s := range srcs {
		p.total.Add(s.size)
	}
}

// Bytes reports bytes read so far and the total to read.
func (p *Progress) Bytes() (done, total int64) { return p.done.Load(), p.total.Load() }
