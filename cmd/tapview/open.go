package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
	"github.com/tapview/tapview/sources/taptrace"
)

func newOpenCmd() *cobra.Command {
	var f sessionFlags
	var s3f s3Flags
	var tr timeRange
	cmd := &cobra.Command{
		Use:   "open FILE...",
		Short: "Open capture files (pcap, pcapng, - for stdin)",
		Long: `Open one or more capture files and show their flows and exchanges.
FILE may be a pcap or pcapng file (any byte order, several interfaces and
link types), an Envoy file-per-tap trace (.json, .pb, .pb_length_delimited,
.pb_text), or - to read a capture from standard input:

  tcpdump -i any -U -w - port 8080 | tapview open -

FILE may also be s3://BUCKET/PREFIX: the segments a recorder uploaded
(--upload) are listed and streamed from the store, one capture
(s3://BUCKET/PREFIX/CAPTURE-ID/), a time range of several (--since,
--until), or a single capture object. Credentials come from the AWS
default chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, IRSA, pod identity).`,
		Example: `  tapview open trace.pcapng
  tapview open -o json --filter 'status >= 500' trace.pcap
  tapview open --flows -o table trace.pcap
  tapview open s3://captures/team-a/ --since 2h -o json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			headless := f.output != "" || !isTerminal(cmd.OutOrStdout())
			inputs, finish, err := openInputs(cmd, args, &s3f, &tr, headless)
			if err != nil {
				return err
			}
			defer finish()
			return runSession(cmd, inputs, &f)
		},
	}
	f.add(cmd)
	s3f.add(cmd.Flags())
	tr.add(cmd.Flags())
	return cmd
}

// openFile picks the reader for a path: Envoy file-per-tap traces by
// their extension (as Envoy names them), captures by content.
func openFile(path string) (sources.Source, error) {
	if err := stdinTerminal([]string{path}); err != nil {
		return nil, err
	}
	if _, ok := taptrace.FormatOf(path); ok {
		src, err := taptrace.Open(path)
		if err != nil {
			return nil, fmt.Errorf("%w\n(Envoy tap traces are read by extension: .json, .pb, .pb_length_delimited, .pb_text)", err)
		}
		return src, nil
	}
	src, err := pcapfile.Open(path)
	switch {
	case errors.Is(err, pcapfile.ErrNotCapture):
		return nil, fmt.Errorf("%w\n(tapview open reads pcap and pcapng captures; record one with: tcpdump -w file.pcap)", err)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: no such file (check the path, or use - to read a capture from stdin)", path)
	case err != nil:
		return nil, err
	}
	return src, nil
}
