package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func stamped() *debug.BuildInfo {
	return &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/tapview/tapview", Version: "v0.4.1-0.20261207080810-ddc71642f50b+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "ddc71642f50bd78f02ff665fea6f0fd5762f0822"},
			{Key: "vcs.time", Value: "2026-12-07T08:08:10Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
}

func TestReadVersionLdflagsWin(t *testing.T) {
	v := readVersion("1.2.3", "abc1234", "2026-12-01T00:00:00Z", stamped())
	if v.Version != "1.2.3" || v.Commit != "abc1234" || v.Time != "2026-12-01T00:00:00Z" {
		t.Fatalf("ldflags values not used: %+v", v)
	}
	// vcs.modified is only known to the toolchain; it still comes through.
	if v.Modified == nil || !*v.Modified {
		t.Errorf("modified = %v, want true from vcs.modified", v.Modified)
	}
	if v.GoVersion != "go1.26.8" || v.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("go/platform = %q %q", v.GoVersion, v.Platform)
	}
}

func TestReadVersionFromBuildInfo(t *testing.T) {
	v := readVersion("", "", "", stamped())
	if v.Version != "v0.4.1-0.20261207080810-ddc71642f50b+dirty" {
		t.Errorf("version = %q, want the module version", v.Version)
	}
	if v.Commit != "ddc71642f50bd78f02ff665fea6f0fd5762f0822" || v.Time != "2026-12-07T08:08:10Z" {
		t.Errorf("commit/time = %q %q, want vcs.revision/vcs.time", v.Commit, v.Time)
	}
	var out bytes.Buffer
	if err := v.writeText(&out); err != nil {
		t.Fatal(err)
	}
	want := "tapview v0.4.1-0.20261207080810-ddc71642f50b+dirty\n" +
		"  commit:   ddc71642f50bd78f02ff665fea6f0fd5762f0822 (modified)\n" +
		"  date:     2026-12-07T08:08:10Z\n" +
		"  go:       go1.26.8\n" +
		"  platform: " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if out.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestReadVersionNothingKnown(t *testing.T) {
	// `go run` and test binaries report "(devel)" and no VCS settings.
	v := readVersion("", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}})
	if v.Version != "dev" || v.Commit != "" || v.Modified != nil {
		t.Errorf("got %+v, want dev without commit", v)
	}
	if v := readVersion("", "", "", nil); v.Version != "dev" || v.GoVersion != runtime.Version() {
		t.Errorf("without build info: %+v", v)
	}
}

func TestVersionCommandJSON(t *testing.T) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"version", "-o", "json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("-o json is not JSON: %v: %q", err, out.String())
	}
	for _, k := range []string{"version", "go", "platform"} {
		if s, _ := got[k].(string); s == "" {
			t.Errorf("%s missing in %s", k, out.String())
		}
	}
	if got["platform"] != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("platform = %v", got["platform"])
	}

	root = newRootCmd()
	root.SetArgs([]string{"version", "-o", "yaml"})
	root.SetOut(&out)
	err := root.Execute()
	if err == nil || !strings.Contains(err.Error(), "-o json") {
		t.Errorf("-o yaml: err = %v, want one naming the choices", err)
	}
}

func TestKubectlPluginName(t *testing.T) {
	for _, argv0 := range []string{"/usr/local/bin/kubectl-tapview", "kubectl-tapview.exe"} {
		root := newRootCmd()
		nameForInvocation(root, argv0)
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetArgs([]string{"export", "--help"})
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "kubectl tapview export ") {
			t.Errorf("%s: help does not say 'kubectl tapview export':\n%s", argv0, out.String())
		}
	}
	root := newRootCmd()
	nameForInvocation(root, "/usr/bin/tapview")
	if got := root.Commands()[0].CommandPath(); strings.HasPrefix(got, "kubectl") {
		t.Errorf("plain tapview named %q", got)
	}
}
