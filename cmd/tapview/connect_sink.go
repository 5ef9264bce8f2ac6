package main

import (
	"crypto/tls"

	"github.com/spf13/cobra"

	"github.com/tapview/tapview/sources/sink/auth"
	"github.com/tapview/tapview/sources/sink/watch"
)

func newConnectSinkCmd() *cobra.Command {
	var f sessionFlags
	var useTLS bool
	var ca, cert, key, serverName, token, tokenFile string
	cmd := &cobra.Command{
		Use:   "sink ADDR",
		Short: "Watch a tapview sink running elsewhere (tapview sink --serve)",
		Long: `Show live what a tapview sink receives, usually one deployed in a cluster
(deploy/sink.yaml) and reached through kubectl port-forward. The sink keeps
a bounded queue per watcher; what a slow watcher misses is counted and
shown as dropped.

Plaintext unless --tls, --ca, --cert or --key is given.`,
		Example: `  kubectl -n gloo-system port-forward svc/tapview-sink 9090:9090 &
  tapview connect sink 127.0.0.1:9090 --token-file ~/.tapview-token
  tapview connect sink sink.example.com:9090 --ca ca.pem --cert me.pem --key me-key.pem -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := tokenFrom(token, tokenFile, "--token")
			if err != nil {
				return err
			}
			var tlsCfg *tls.Config
			if useTLS || ca != "" || cert != "" || key != "" {
				if tlsCfg, err = auth.ClientTLS(ca, cert, key, serverName); err != nil {
					return usageErr("connect sink: %v", err)
				}
			}
			src, err := watch.NewClient(watch.ClientConfig{Addr: args[0], TLS: tlsCfg, Token: tok})
			if err != nil {
				return usageErr("%v", err)
			}
			return runSession(cmd, []input{{src: src, live: true}}, &f)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&useTLS, "tls", false, "connect with TLS, verifying the sink against the system roots")
	fs.StringVar(&ca, "ca", "", "verify the sink's certificate with this CA `FILE` (implies --tls)")
	fs.StringVar(&cert, "cert", "", "client certificate `FILE` for mTLS")
	fs.StringVar(&key, "key", "", "private key `FILE` for --cert")
	fs.StringVar(&serverName, "server-name", "", "name expected in the sink's certificate (default: from ADDR)")
	fs.StringVar(&token, "token", "", "send 'Authorization: Bearer TOKEN'")
	fs.StringVar(&tokenFile, "token-file", "", "like --token, read from `FILE`")
	f.add(cmd)
	return cmd
}
