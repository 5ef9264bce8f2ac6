package main

import (
	"github.com/spf13/cobra"

	"github.com/tapview/tapview/sources/envoyadmin"
)

func newConnectEnvoyCmd() *cobra.Command {
	var f sessionFlags
	var c envoyadmin.Config
	cmd := &cobra.Command{
		Use:   "envoy URL --config-id ID",
		Short: "Stream traces from an Envoy admin /tap endpoint",
		Long: `Attach to an Envoy's admin /tap endpoint and show its traces live.

The Envoy needs a tap filter (or tap transport socket) whose common_config
has admin_config.config_id ID; /tap exists only then. Envoy allows one
attached stream at a time, and detaches the tap when tapview exits.
HTTP traces become exchanges; socket taps are decoded like captures.

For a pod's sidecar, port-forward its admin port first:
  kubectl port-forward pod/NAME 15000:15000   # Istio's admin port`,
		Example: `  tapview connect envoy http://127.0.0.1:9901 --config-id tapview
  tapview connect envoy 127.0.0.1:15000 --config-id tap --max-bytes 65536 --streaming
  tapview connect envoy http://127.0.0.1:9901 --config-id tapview \
    --match '{"http_request_headers_match":{"headers":[{"name":":path","string_match":{"prefix":"/api"}}]}}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c.URL = args[0]
			src, err := envoyadmin.New(c)
			if err != nil {
				return usageErr("%v", err)
			}
			return runSession(cmd, []input{{src: src, live: true}}, &f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&c.ConfigID, "config-id", "", "the tap's admin_config.config_id (required)")
	fs.StringVar(&c.Match, "match", "", "MatchPredicate in JSON selecting what to tap (default: everything)")
	fs.BoolVar(&c.Streaming, "streaming", false, "ask for streamed segments (long requests show up while they run)")
	fs.Uint32Var(&c.MaxBytes, "max-bytes", 64<<10, "body bytes Envoy buffers per direction before truncating (0: Envoy's 1 KiB default)")
	fs.BoolVar(&c.BodyAsString, "body-as-string", false, "ask Envoy for JSON_BODY_AS_STRING instead of base64 bodies")
	requireFlag(cmd, "config-id", "give the config_id of the tap filter in the Envoy configuration (its admin_config.config_id), e.g. --config-id tapview")
	f.add(cmd)
	return cmd
}
