package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/tapview/tapview/sources/agent/server"
	"github.com/tapview/tapview/sources/agent/tlsconf"
	"github.com/tapview/tapview/sources/sink"
)

// defaultAgentListen is loopback: an agent hands out this host's traffic,
// so reaching it from the network must be asked for with --listen.
const defaultAgentListen = "127.0.0.1:9494"

// agentConnsPerIP and agentConns bound open connections per listener.
const agentConnsPerIP, agentConns = 16, 128

// agentDrainTimeout bounds how long a stopping agent waits for its
// captures to flush and end before it closes their connections.
const agentDrainTimeout = 10 * time.Second

func newAgentCmd() *cobra.Command {
	var (
		listen                      []string
		cert, key, clientCA, origin string
		plaintext                   bool
		insecureAnyClient           bool
		insecurePlaintextRemote     bool
		maxCaptures                 int
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Serve live captures of this host to tapview or a pcap-api (pcap.Agent over gRPC)",
		Long: `Run a capture agent that speaks Cloud Foundry pcap-release's agent protocol
(gRPC service pcap.Agent: Status and Capture). Clients ('tapview connect
agent', a pcap-api) send a device, a tcpdump-style filter and a snaplen; the
agent captures with an AF_PACKET socket (needs CAP_NET_RAW, no libpcap),
filters in the kernel, and streams the packets back. Its own port is never
captured. When a client cannot keep up, packets are dropped and counted and
the client is told with CONGESTED notes.

Whoever can open a capture sees this host's traffic, so the agent is closed
by default: it listens on 127.0.0.1:9494 unless given --listen, and needs
mutual TLS: --cert/--key is the server certificate and --client-ca the CA
whose client certificates may capture. TLS without --client-ca lets any
client capture and is refused unless --insecure-any-client; --plaintext is
for loopback (behind kubectl port-forward or a local proxy) and is refused
on any other address unless --insecure-plaintext-remote. The agent runs
until SIGINT or SIGTERM, then ends running captures cleanly
(CAPTURE_STOPPED) and exits. Logs go to standard error.`,
		Example: `  tapview agent --listen 10.0.1.11:9494 --cert agent.pem --key agent-key.pem --client-ca ca.pem
  sudo tapview agent --plaintext
  tapview agent --listen 10.0.1.11:9494 --listen 127.0.0.1:9494 --cert ... --key ... --client-ca ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var opts []grpc.ServerOption
			switch {
			case plaintext && (cert != "" || key != "" || clientCA != ""):
				return usageErr("--plaintext cannot be combined with --cert, --key or --client-ca")
			case plaintext && insecureAnyClient:
				return usageErr("--insecure-any-client is about TLS without --client-ca; with --plaintext there is no client check at all")
			case !plaintext && clientCA == "" && !insecureAnyClient:
				return usageErr("TLS without --client-ca lets any client that reaches the port capture this host's traffic: give --client-ca with the CA of your clients, or --insecure-any-client to accept that")
			case !plaintext:
				cfg, err := tlsconf.Server{Cert: cert, Key: key, ClientCA: clientCA}.Config()
				if err != nil {
					return usageErr("%v (or use --plaintext)", err)
				}
				opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
			}
			if maxCaptures < 1 {
				return usageErr("--max-captures must be at least 1")
			}
			if origin == "" {
				origin = os.Getenv("NODE_NAME")
			}
			if origin == "" {
				origin, _ = os.Hostname()
			}
			if len(listen) == 0 {
				return usageErr("--listen needs an address")
			}
			var liss []net.Listener
			var ports []uint16
			closeAll := func() {
				for _, l := range liss {
					l.Close()
				}
			}
			for _, a := range listen {
				lis, err := net.Listen("tcp", a)
				if err != nil {
					closeAll()
					return fmt.Errorf("agent: %w", err)
				}
				// Captures are few (--max-captures): 16 connections per
				// address and 128 in all leave room for every client while
				// no one address can hold the port.
				liss = append(liss, sink.LimitListener(lis, agentConnsPerIP, agentConns, nil))
				if plaintext && !insecurePlaintextRemote && !isLoopback(lis.Addr()) {
					closeAll()
					return usageErr("--plaintext on %s lets anyone who reaches that address capture this host's traffic: listen on 127.0.0.1 (the default) and use kubectl port-forward, serve TLS with --client-ca, or add --insecure-plaintext-remote to accept that", a)
				}
				port, err := listenPort(lis.Addr())
				if err != nil {
					closeAll()
					return err
				}
				ports = append(ports, port)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			if insecureAnyClient {
				log.Warn("agent serves TLS without client certificates (--insecure-any-client): any client that reaches it can capture this host's traffic")
			}
			if plaintext && insecurePlaintextRemote {
				log.Warn("agent may serve plaintext beyond loopback (--insecure-plaintext-remote): anyone who reaches it can capture this host's traffic")
			}
			srv := server.New(server.Config{MaxCaptures: maxCaptures, ExcludeTCPPorts: ports, Origin: origin, Log: log})
			g := grpc.NewServer(append(server.GRPCOptions(), opts...)...)
			srv.Register(g)
			return serveAgent(cmd.Context(), g, srv, liss, log, !plaintext && clientCA != "")
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVar(&listen, "listen", []string{defaultAgentListen}, "`ADDR` to serve gRPC on, repeatable (pcap-release agents use port 9494)")
	fs.StringVar(&cert, "cert", "", "PEM server certificate `FILE`")
	fs.StringVar(&key, "key", "", "PEM private key `FILE` of --cert")
	fs.StringVar(&clientCA, "client-ca", "", "PEM `FILE` of CAs; clients must present a certificate they signed")
	fs.BoolVar(&plaintext, "plaintext", false, "serve without TLS (HTTP/2 cleartext); loopback addresses only, unless --insecure-plaintext-remote")
	fs.BoolVar(&insecureAnyClient, "insecure-any-client", false, "serve TLS without --client-ca: any client that reaches the port can capture")
	fs.BoolVar(&insecurePlaintextRemote, "insecure-plaintext-remote", false, "allow --plaintext on non-loopback addresses: anyone who reaches them can capture")
	fs.IntVar(&maxCaptures, "max-captures", server.DefaultMaxCaptures, "concurrent captures; more are refused with LIMIT_REACHED")
	fs.StringVar(&origin, "origin", "", "name of this agent in its notes (default $NODE_NAME, then the host name)")
	return cmd
}

// serveAgent serves on every listener until ctx ends, then drains
// captures and stops.
func serveAgent(ctx context.Context, g *grpc.Server, srv *server.Server, liss []net.Listener, log *slog.Logger, mtls bool) error {
	errc := make(chan error, len(liss))
	for _, lis := range liss {
		go func(lis net.Listener) { errc <- g.Serve(lis) }(lis)
		log.Info("agent listening", "addr", lis.Addr().String(), "mtls", mtls)
	}
	select {
	case err := <-errc:
		g.Stop()
		return fmt.Errorf("agent: %w", err)
	case <-ctx.Done():
	}
	log.Info("agent stopping: ending captures")
	dctx, cancel := context.WithTimeout(context.Background(), agentDrainTimeout)
	defer cancel()
	if err := srv.Drain(dctx); err != nil {
		log.Warn("agent drain incomplete", "err", err)
	}
	stopped := make(chan struct{})
	go func() { g.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-dctx.Done():
		g.Stop()
	}
	for range liss {
		if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("agent: %w", err)
		}
	}
	return nil
}

// listenPort returns the TCP port of a listener address, which the agent
// excludes from its captures.
func listenPort(a net.Addr) (uint16, error) {
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return 0, fmt.Errorf("agent: listen address %v: %w", a, err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("agent: listen port %q: %w", p, err)
	}
	return uint16(n), nil
}

// isLoopback reports whether a bound address accepts loopback connections
// only. A wildcard address (":9494", "0.0.0.0") is not loopback: it
// accepts every interface, including those other namespaces can reach.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
