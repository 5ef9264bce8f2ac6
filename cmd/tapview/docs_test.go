package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/man and docs/cli from the command tree")

// docsDir is the repository's docs/ seen from this package's directory,
// where `go test` runs.
const docsDir = "../../docs"

// manDate matches the date field of the .TH line; it is blanked so the
// pages change only when the commands do, not every month.
var manDate = regexp.MustCompile(`(?m)^(\.TH "[^"]*" "[^"]*" )"[^"]*"`)

// genDocs renders one man page and one Markdown page per visible command
// into a map from path (man/tapview-open.1, cli/tapview_open.md) to content.
func genDocs(t *testing.T) map[string][]byte {
	t.Helper()
	root := newRootCmd()
	out := map[string][]byte{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c != root && !c.IsAdditionalHelpTopicCommand() {
			return
		}
		c.DisableAutoGenTag = true
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	var gen func(c *cobra.Command)
	gen = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c != root && !c.IsAdditionalHelpTopicCommand() {
			return
		}
		// File names follow cobra's own trees: man pages refer to each
		// other as tapview-open(1), Markdown pages link tapview_open.md.
		path := c.CommandPath()
		var man, md bytes.Buffer
		hdr := &doc.GenManHeader{Section: "1", Source: "tapview", Manual: "tapview manual"}
		if err := doc.GenMan(c, hdr, &man); err != nil {
			t.Fatalf("man page of %s: %v", c.CommandPath(), err)
		}
		if err := doc.GenMarkdownCustom(c, &md, func(s string) string { return s }); err != nil {
			t.Fatalf("markdown of %s: %v", c.CommandPath(), err)
		}
		out["man/"+strings.ReplaceAll(path, " ", "-")+".1"] = manDate.ReplaceAll(man.Bytes(), []byte(`$1""`))
		out["cli/"+strings.ReplaceAll(path, " ", "_")+".md"] = md.Bytes()
		for _, sub := range c.Commands() {
			gen(sub)
		}
	}
	gen(root)
	return out
}

func TestCLIDocs(t *testing.T) {
	want := genDocs(t)
	if len(want) < 20 {
		t.Fatalf("only %d pages generated; the command tree looks wrong", len(want))
	}
	if *updateDocs {
		for _, sub := range []string{"man", "cli"} {
			if err := os.RemoveAll(filepath.Join(docsDir, sub)); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(docsDir, sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for name, b := range want {
			if err := os.WriteFile(filepath.Join(docsDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	have := map[string]bool{}
	for _, sub := range []string{"man", "cli"} {
		ents, err := os.ReadDir(filepath.Join(docsDir, sub))
		if err != nil {
			t.Fatalf("%v: run go generate ./cmd/tapview", err)
		}
		for _, e := range ents {
			have[sub+"/"+e.Name()] = true
		}
	}
	var stale []string
	for name, b := range want {
		got, err := os.ReadFile(filepath.Join(docsDir, name))
		if err != nil || !bytes.Equal(got, b) {
			stale = append(stale, name)
		}
		delete(have, name)
	}
	for name := range have {
		stale = append(stale, name+" (no such command)")
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("docs/ is stale for %d pages, run `go generate ./cmd/tapview`: %s", len(stale), strings.Join(stale, ", "))
	}
	// The pages are real pages: the root man page names its subcommands.
	root := string(want["man/tapview.1"])
	for _, s := range []string{".TH \"TAPVIEW\" \"1\" \"\"", "tapview-open(1)", "tapview-attach(1)"} {
		if !strings.Contains(root, s) {
			t.Errorf("man/tapview.1 lacks %q", s)
		}
	}
}
