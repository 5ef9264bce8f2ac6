package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// profiler holds the hidden --cpuprofile/--memprofile flags, so a slow
// or memory-hungry run of any command can be profiled with pprof without
// a special build (bench/README.md shows how).
type profiler struct {
	cpuPath, memPath string
	cpu              *os.File
}

// addProfileFlags registers the hidden profiling flags on root and
// installs the hooks that start the CPU profile before any command runs
// and write both profiles after it returns successfully.
func addProfileFlags(root *cobra.Command) {
	p := &profiler{}
	fs := root.PersistentFlags()
	fs.StringVar(&p.cpuPath, "cpuprofile", "", "write a CPU profile to `FILE`")
	fs.StringVar(&p.memPath, "memprofile", "", "write a heap profile to `FILE` at exit")
	_ = fs.MarkHidden("cpuprofile")
	_ = fs.MarkHidden("memprofile")
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return p.start() }
	root.PersistentPostRunE = func(*cobra.Command, []string) error { return p.stop() }
}

func (p *profiler) start() error {
	if p.cpuPath == "" {
		return nil
	}
	f, err := os.Create(p.cpuPath)
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	p.cpu = f
	return nil
}

func (p *profiler) stop() error {
	if p.cpu != nil {
		pprof.StopCPUProfile()
		err := p.cpu.Close()
		p.cpu = nil
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	if p.memPath == "" {
		return nil
	}
	f, err := os.Create(p.memPath)
	if err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("--memprofile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	return nil
}
