package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/spf13/cobra"
)

// Set by the release build (-ldflags "-X main.version=... -X main.commit=...
// -X main.date=..."). A plain `go build` or `go install` leaves them empty
// and the answer comes from the build information the Go toolchain embeds.
var (
	version = ""
	commit  = ""
	date    = ""
)

// versionInfo is what `tapview version` says, as text or as JSON: enough to
// tell exactly which source a bug report's binary was built from.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Time      string `json:"commit_time,omitempty"`
	Modified  *bool  `json:"modified,omitempty"`
	GoVersion string `json:"go"`
	Platform  string `json:"platform"`
}

// readVersion merges the release's ldflags with the toolchain's build
// information: ldflags win where set (goreleaser knows the tag), the module
// version and vcs.* settings fill the rest (`go install ...@v1.2.3` stamps
// the module version, a build in a git checkout stamps the revision), and
// "dev" is left only when neither knows.
func readVersion(ldVersion, ldCommit, ldDate string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{
		Version:   ldVersion,
		Commit:    ldCommit,
		Time:      ldDate,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi != nil {
		if bi.GoVersion != "" {
			v.GoVersion = bi.GoVersion
		}
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.time":
				if v.Time == "" {
					v.Time = s.Value
				}
			case "vcs.modified":
				if m, err := strconv.ParseBool(s.Value); err == nil {
					v.Modified = &m
				}
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	return v
}

// currentVersion is readVersion for this binary.
func currentVersion() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return readVersion(version, commit, date, bi)
}

// writeText prints the version line first (what scripts grep) and the
// details after it, one per line.
func (v versionInfo) writeText(w io.Writer) error {
	var err error
	pf := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	pf("tapview %s\n", v.Version)
	if v.Commit != "" {
		c := v.Commit
		if v.Modified != nil && *v.Modified {
			c += " (modified)"
		}
		pf("  commit:   %s\n", c)
	}
	if v.Time != "" {
		pf("  date:     %s\n", v.Time)
	}
	pf("  go:       %s\n", v.GoVersion)
	pf("  platform: %s\n", v.Platform)
	return err
}

func newVersionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the tapview version, commit, Go version and platform",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := currentVersion()
			switch output {
			case "", "text":
				return v.writeText(cmd.OutOrStdout())
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				return enc.Encode(v)
			default:
				return usageErr("version: unknown output %q; use -o text or -o json", output)
			}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "text (default) or json")
	return cmd
}

// versionString is the short form written into files tapview makes (pcapng
// application, HAR creator): the version and, when known, the first 12
// characters of the commit.
func versionString() string {
	v := currentVersion()
	c := v.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if c == "" {
		return v.Version
	}
	return v.Version + " (" + c + ")"
}
