package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

func newOpenCmd() *cobra.Command {
	var f sessionFlags
	cmd := &cobra.Command{
		Use:   "open FILE...",
		Short: "Open capture files (pcap, pcapng, - for stdin)",
		Long: `Open one or more capture files and show their flows and exchanges.
FILE may be a pcap or pcapng file (any byte order, several interfaces and
link types), or - to read a capture from standard input:

  tcpdump -i any -U -w - port 8080 | tapview open -`,
		Example: `  tapview open trace.pcapng
  tapview open -o json --filter 'status >= 500' trace.pcap
  tapview open --flows -o table trace.pcap`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var inputs []input
			for _, a := range args {
				src, err := openFile(a)
				if err != nil {
					return err
				}
				inputs = append(inputs, input{src: src})
			}
			return runSession(cmd, inputs, &f)
		},
	}
	f.add(cmd)
	return cmd
}

// openFile picks the reader for a path.
func openFile(path string) (sources.Source, error) {
	src, err := pcapfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w\n(tapview open reads pcap and pcapng captures; record one with: tcpdump -w file.pcap)", err)
	}
	return src, nil
}
