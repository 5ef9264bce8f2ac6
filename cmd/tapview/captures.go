package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tapview/tapview/sources/pcapfile"
)

// captures finds where the packets of a source can be read again, for
// the UI's bytes view (key s) and its pcap exports (key x): inputs that
// say how (the embedded demo reads its bytes again), else the capture
// file the source was read from. A nil captures knows files only.
type captures map[string]func() (*pcapfile.Source, error)

// capturesOf collects the inputs that know how to read their packets
// again, by source name.
func capturesOf(inputs []input) captures {
	c := captures{}
	for _, in := range inputs {
		if in.reread != nil {
			c[in.src.Name()] = in.reread
		}
	}
	return c
}

// opener returns what opens source's packets again, or false for stdin,
// live sources and files that cannot be found.
func (c captures) opener(source string) (func() (*pcapfile.Source, error), bool) {
	if open, ok := c[source]; ok {
		return open, true
	}
	path, ok := captureFile(source)
	if !ok {
		return nil, false
	}
	return func() (*pcapfile.Source, error) {
		src, err := pcapfile.Open(path)
		if err != nil {
			return nil, fmt.Errorf("reading %s again: %w", path, err)
		}
		return src, nil
	}, true
}

// captureFile finds the capture a source name came from, so its packets
// can be read again. Sources name captures by base name, so the path is
// looked for among the command line's arguments, then in the working
// directory. It returns false for stdin and live sources.
func captureFile(source string) (string, bool) {
	if source == "" || source == "stdin" {
		return "", false
	}
	for _, a := range os.Args[1:] {
		if filepath.Base(a) == source && isRegular(a) {
			return a, true
		}
	}
	if isRegular(source) {
		return source, true
	}
	return "", false
}

func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
