package main

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/grpc/credentials"

	"github.com/tapview/tapview/sources/agent"
	"github.com/tapview/tapview/sources/agent/tlsconf"
)

// agentCaptureFlags are what to capture on every pcap target.
type agentCaptureFlags struct {
	device  string
	bpf     string
	snaplen uint32
}

func (c *agentCaptureFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&c.device, "device", agent.DefaultDevice, "network interface to capture on, on every target")
	fs.StringVar(&c.bpf, "bpf", "", "capture filter in tcpdump syntax, applied by the agents (e.g. 'tcp port 8080')")
	fs.Uint32Var(&c.snaplen, "snaplen", agent.DefaultSnapLen, "bytes kept of each packet")
}

func (c *agentCaptureFlags) capture() agent.Capture {
	return agent.Capture{Device: c.device, Filter: c.bpf, SnapLen: c.snaplen}
}

// agentClientTLSFlags are the client side of pcap-release's mutual TLS.
type agentClientTLSFlags struct {
	ca, cert, key, serverName string
	insecure                  bool
}

func (t *agentClientTLSFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&t.ca, "ca", "", "PEM `FILE` of CAs that sign the server certificate (default: system roots)")
	fs.StringVar(&t.cert, "cert", "", "PEM client certificate `FILE` for mutual TLS")
	fs.StringVar(&t.key, "key", "", "PEM private key `FILE` of --cert")
	fs.StringVar(&t.serverName, "server-name", "", "name expected in the server certificate (pcap-release: pcap-agent.service.cf.internal)")
}

func (t *agentClientTLSFlags) creds() (credentials.TransportCredentials, error) {
	cfg, err := tlsconf.Client{CA: t.ca, Cert: t.cert, Key: t.key, ServerName: t.serverName, Insecure: t.insecure}.Config()
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return credentials.NewTLS(cfg), nil
}

func newConnectAgentCmd() *cobra.Command {
	var (
		f         sessionFlags
		cf        agentCaptureFlags
		tf        agentClientTLSFlags
		plaintext bool
	)
	cmd := &cobra.Command{
		Use:   "agent ADDR...",
		Short: "Capture through pcap-release agents (pcap.Agent), merged into one timeline",
		Long: `Open a capture on every agent (host:port of a Cloud Foundry pcap-release
pcap-agent, or of 'tapview agent') and show the packets of all of them as one
stream ordered by capture time, each tagged with its agent. Agent notes
(CONGESTED, LIMIT_REACHED, CAPTURE_STOPPED, ...) show in the status bar and as
{"type":"status",...} lines with -o json. An agent that fails or goes away is
reported; the others keep capturing. Ctrl-C stops every capture cleanly.

Connections use TLS (mutual TLS with --cert/--key, as pcap-release agents
expect); --plaintext talks HTTP/2 without TLS (h2c).`,
		Example: `  tapview connect agent 10.0.16.5:9494 10.0.16.6:9494 --bpf 'tcp port 8080' \
      --ca ca.pem --cert client.pem --key client-key.pem --server-name pcap-agent.service.cf.internal
  tapview connect agent --plaintext localhost:9494 -o json -w capture.pcapng`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tr := agent.Transport{}
			if !plaintext {
				creds, err := tf.creds()
				if err != nil {
					return err
				}
				tr.Creds = creds
			} else if tf.ca != "" || tf.cert != "" || tf.key != "" || tf.serverName != "" {
				return usageErr("--plaintext cannot be combined with --ca, --cert, --key or --server-name")
			}
			src, err := agent.New(agent.Config{Addrs: args, Capture: cf.capture(), Transport: tr})
			if err != nil {
				return usageErr("%v", err)
			}
			return runSession(cmd, []input{{src: src, live: true}}, &f)
		},
	}
	fs := cmd.Flags()
	cf.add(fs)
	tf.add(fs)
	fs.BoolVar(&plaintext, "plaintext", false, "connect without TLS (HTTP/2 cleartext)")
	f.add(cmd)
	return cmd
}

func newConnectAPICmd() *cobra.Command {
	var (
		f          sessionFlags
		cf         agentCaptureFlags
		tf         agentClientTLSFlags
		token      string
		deployment string
		groups     []string
		instances  []string
		app        string
		appType    string
		indices    []int32
	)
	cmd := &cobra.Command{
		Use:   "api URL",
		Short: "Capture through a pcap-release pcap-api (BOSH deployments or CF apps)",
		Long: `Ask a Cloud Foundry pcap-release pcap-api to capture on the VMs of a BOSH
deployment (--bosh-deployment, optionally --bosh-group/--bosh-instance) or on
the instances of a CF app (--cf-app, optionally --cf-index). The API merges its
agents' streams; its notes (INSTANCE_UNAVAILABLE, CONGESTED, ...) show in the
status bar. An https URL uses TLS (-k skips verification), http uses h2c.
The UAA access token comes from --token or $PCAP_TOKEN.`,
		Example: `  PCAP_TOKEN=$(bosh_token) tapview connect api https://pcap.sys.example.com \
      --bosh-deployment cf --bosh-group router --bpf 'port 443'
  tapview connect api http://localhost:8080 --cf-app 5f2c... --cf-index 0 -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				token = os.Getenv("PCAP_TOKEN")
			}
			cfg := agent.APIConfig{URL: args[0], Token: token, Capture: cf.capture()}
			switch {
			case deployment != "" && app != "":
				return usageErr("give --bosh-deployment or --cf-app, not both")
			case deployment != "":
				cfg.Bosh = &agent.Bosh{Deployment: deployment, Groups: groups, Instances: instances}
			case app != "":
				cfg.CF = &agent.CF{AppID: app, AppType: appType, Indices: indices}
			default:
				return usageErr("say what to capture: --bosh-deployment NAME or --cf-app GUID")
			}
			if len(groups)+len(instances) > 0 && deployment == "" || len(indices) > 0 && app == "" {
				return usageErr("--bosh-group/--bosh-instance need --bosh-deployment, --cf-index needs --cf-app")
			}
			if _, secure, err := agent.ParseAPIURL(args[0]); err != nil {
				return usageErr("%v", err)
			} else if secure {
				creds, err := tf.creds()
				if err != nil {
					return err
				}
				cfg.Creds = creds
			}
			src, err := agent.NewAPI(cfg)
			if err != nil {
				return usageErr("%v", err)
			}
			return runSession(cmd, []input{{src: src, live: true}}, &f)
		},
	}
	fs := cmd.Flags()
	cf.add(fs)
	tf.add(fs)
	fs.BoolVarP(&tf.insecure, "insecure", "k", false, "do not verify the API's TLS certificate")
	fs.StringVar(&token, "token", "", "UAA access token (default $PCAP_TOKEN)")
	fs.StringVar(&deployment, "bosh-deployment", "", "BOSH deployment to capture on")
	fs.StringArrayVar(&groups, "bosh-group", nil, "instance group of the deployment (repeatable)")
	fs.StringArrayVar(&instances, "bosh-instance", nil, "instance id within the groups (repeatable)")
	fs.StringVar(&app, "cf-app", "", "Cloud Foundry app GUID to capture on")
	fs.StringVar(&appType, "cf-app-type", "", "process type of the app (e.g. web)")
	fs.Int32SliceVar(&indices, "cf-index", nil, "app instance index (repeatable or comma-separated)")
	f.add(cmd)
	return cmd
}
