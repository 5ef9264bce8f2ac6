package soak

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RSS returns the resident memory of process pid in bytes: VmRSS from
// /proc/PID/status, or for pid 0 (this process) the resident pages of
// /proc/self/statm, which is cheaper to read.
func RSS(pid int) (int64, error) {
	if pid == 0 {
		b, err := os.ReadFile("/proc/self/statm")
		if err != nil {
			return 0, err
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return 0, fmt.Errorf("soak: /proc/self/statm: %q", b)
		}
		pages, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, err
		}
		return pages * int64(os.Getpagesize()), nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil {
					return 0, err
				}
				return kb << 10, nil
			}
		}
	}
	return 0, fmt.Errorf("soak: no VmRSS in /proc/%d/status", pid)
}

// Sample is one reading of the sampler.
type Sample struct {
	At      time.Duration // since the sampler started
	RSS     int64         // bytes
	Written int64         // traces the flood had written by then
}

// Sampler reads a process's RSS every interval.
type Sampler struct {
	mu      sync.Mutex
	samples []Sample
	err     error
	done    chan struct{}
}

// StartSampler samples pid (0: this process) every interval until ctx
// ends; written, when set, is read with each sample (the flood's
// progress). The first sample is taken at once.
func StartSampler(ctx context.Context, pid int, every time.Duration, written func() int64) *Sampler {
	s := &Sampler{done: make(chan struct{})}
	begin := time.Now()
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			rss, err := RSS(pid)
			var w int64
			if written != nil {
				w = written()
			}
			s.mu.Lock()
			if err != nil {
				if s.err == nil {
					s.err = err
				}
			} else {
				s.samples = append(s.samples, Sample{At: time.Since(begin), RSS: rss, Written: w})
			}
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Wait waits for the sampler to stop (its ctx ended) and returns the
// samples and the first read error (a process that exited).
func (s *Sampler) Wait() ([]Sample, error) {
	<-s.done
	return s.Samples(), s.err
}

// Samples returns the samples so far.
func (s *Sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.samples...)
}

// Peak is the largest RSS sampled.
func Peak(ss []Sample) int64 {
	var p int64
	for _, s := range ss {
		p = max(p, s.RSS)
	}
	return p
}

// Growth is the growth check of a soak: the samples after warm-up are
// cut in thirds, and the largest RSS of the last third is compared with
// the largest of the middle third. Maxima rather than single samples or
// means, because RSS saws up and down with each garbage collection; a
// process whose memory is bounded reaches its sawtooth's top in the
// middle third already, a leaking one keeps raising it.
type Growth struct {
	Warm        int     // samples skipped as warm-up
	MiddleMax   int64   // largest RSS of the middle third
	LastMax     int64   // largest RSS of the last third
	Ratio       float64 // LastMax / MiddleMax
	FirstWarm   int64   // the first sample after warm-up
	EnoughData  bool    // at least three samples per third
	Description string
}

// CheckGrowth computes Growth over ss after skipping the first warm
// samples.
func CheckGrowth(ss []Sample, warm int) Growth {
	g := Growth{Warm: warm}
	if warm >= len(ss) {
		g.Description = fmt.Sprintf("only %d samples, all within warm-up", len(ss))
		return g
	}
	rest := ss[warm:]
	g.FirstWarm = rest[0].RSS
	n := len(rest) / 3
	g.EnoughData = n >= 3
	if n == 0 {
		g.Description = fmt.Sprintf("only %d samples after warm-up", len(rest))
		return g
	}
	g.MiddleMax = Peak(rest[n : 2*n])
	g.LastMax = Peak(rest[len(rest)-n:])
	g.Ratio = float64(g.LastMax) / float64(max(g.MiddleMax, 1))
	g.Description = fmt.Sprintf("max RSS of the last third %s vs the middle third %s (%+.1f%%), first after warm-up %s",
		MiB(g.LastMax), MiB(g.MiddleMax), (g.Ratio-1)*100, MiB(g.FirstWarm))
	return g
}

// MiB formats bytes as mebibytes.
func MiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// WriteCSV writes the samples as t_s,rss_bytes,rss_mib,written.
func WriteCSV(w io.Writer, ss []Sample) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "t_s,rss_bytes,rss_mib,written")
	for _, s := range ss {
		fmt.Fprintf(bw, "%.1f,%d,%.1f,%d\n", s.At.Seconds(), s.RSS, float64(s.RSS)/(1<<20), s.Written)
	}
	return bw.Flush()
}

// Table writes one row per every-th sample (and the last): time, RSS, and
// the traces written in that interval per second.
func Table(w io.Writer, ss []Sample, every time.Duration) {
	fmt.Fprintf(w, "%8s  %10s  %12s  %12s\n", "t", "RSS", "written", "traces/s")
	var last Sample
	for i, s := range ss {
		if i > 0 && s.At-last.At < every && i != len(ss)-1 {
			continue
		}
		rate := 0.0
		if dt := (s.At - last.At).Seconds(); i > 0 && dt > 0 {
			rate = float64(s.Written-last.Written) / dt
		}
		fmt.Fprintf(w, "%7.0fs  %10s  %12d  %12.0f\n", s.At.Seconds(), MiB(s.RSS), s.Written, rate)
		last = s
	}
}
