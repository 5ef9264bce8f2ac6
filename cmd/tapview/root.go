package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	var f sessionFlags
	root := &cobra.Command{
		Use:   "tapview",
		Short: "Look at live and recorded network traffic in the terminal",
		Long: `tapview shows TCP/UDP flows and HTTP/1.x, HTTP/2, gRPC, DNS and WebSocket
exchanges from capture files, Envoy tap sinks, pcap-release agents and
Kubernetes pods. Run it without arguments to explore an embedded demo capture.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := demoSource()
			if err != nil {
				return err
			}
			return runSession(cmd, []input{{src: src, reread: demoSource}}, &f)
		},
	}
	f.add(root)
	addProfileFlags(root)
	root.AddCommand(newOpenCmd(), newSinkCmd(), newConnectCmd(), newAgentCmd(), newVersionCmd(), newFiltersHelp(), newMaskingHelp())
	root.AddCommand(newExportCmd(), newAttachCmd(), newStatsCmd())
	root.AddCommand(newStorageCmd())
	registerCompletions(root)
	explainUsage(root)
	return root
}

// newConnectCmd groups the clients of remote sources.
func newConnectCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "connect",
		Short: "Connect to a remote source: pcap agents, a pcap-api, an Envoy admin /tap, a tapview sink",
	}
	c.AddCommand(newConnectAgentCmd(), newConnectAPICmd(), newConnectEnvoyCmd(), newConnectSinkCmd())
	return c
}
