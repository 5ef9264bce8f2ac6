package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/export/jsonl"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/sink"
	"github.com/tapview/tapview/sources/sink/auth"
	"github.com/tapview/tapview/sources/sink/watch"
)

// sinkFlags are `tapview sink`'s own flags; the session flags (-o,
// --filter, -w, ...) come from sessionFlags.
type sinkFlags struct {
	grpc, http                   string
	tlsCert, tlsKey, clientCA    string
	token, tokenFile             string
	headless                     bool
	queue                        int
	serve                        string
	serveCert, serveKey, serveCA string
	serveToken, serveTokenFile   string
	insecureServeOpen            bool
}

func newSinkCmd() *cobra.Command {
	var f sessionFlags
	var sf sinkFlags
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "Be an Envoy / Gloo tap server and show the traces live",
		Long: `Listen for Envoy tap traces and show them as they arrive.

gRPC (--grpc): envoy.service.tap.v3.TapSinkService/StreamTaps and Gloo
Gateway's envoy.service.tap.v3.TapService/ReportTap, on one port.
HTTP (--http): POST a binary TapRequest (Gloo's HTTP tap sink) on any path,
or JSON TraceWrapper / TapRequest objects with Content-Type application/json.

Both listen on 127.0.0.1 unless told otherwise; "off" disables one. HTTP
traces become exchanges directly, streamed segments are merged by trace id,
and socket traces are decoded by the same parsers as captured packets.

A flood never grows memory without bound: traces beyond the queue are
dropped and counted (status bar, and "dropped" notes in -o json).

In a cluster, run it --headless with --serve ADDR and watch from a laptop
with 'tapview connect sink' (see deploy/sink.yaml). Watchers get every raw
trace, so --serve on a non-loopback address needs --serve-token-file or
--serve-client-ca (or --insecure-serve-open to accept the risk).

Each listener admits 64 connections per address and 1024 in all; a
connection must finish its handshake (or HTTP headers) within 5 s, a
request within 30 s, and one idle for 30 s is closed.`,
		Example: `  tapview sink
  tapview sink --grpc 0.0.0.0:8080 --http off --token-file /etc/tap/token
  tapview sink -o json --filter 'status >= 500'
  tapview sink -w taps.pb_length_delimited
  tapview sink --headless --grpc 0.0.0.0:8080 --http 0.0.0.0:8081 --serve 0.0.0.0:9090 --serve-token-file /etc/tapview/token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSink(cmd, &sf, &f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&sf.grpc, "grpc", sink.DefaultGRPCAddr, "gRPC listen `ADDR` (StreamTaps, ReportTap); off to disable")
	fs.StringVar(&sf.http, "http", sink.DefaultHTTPAddr, "HTTP listen `ADDR` (POST TapRequest); off to disable")
	fs.StringVar(&sf.tlsCert, "tls-cert", "", "serve TLS with this certificate `FILE` (PEM)")
	fs.StringVar(&sf.tlsKey, "tls-key", "", "private key `FILE` for --tls-cert")
	fs.StringVar(&sf.clientCA, "client-ca", "", "require client certificates signed by this CA `FILE` (mTLS)")
	fs.StringVar(&sf.token, "token", "", "require 'Authorization: Bearer TOKEN' from senders")
	fs.StringVar(&sf.tokenFile, "token-file", "", "like --token, read from `FILE` (keeps it out of ps)")
	fs.BoolVar(&sf.headless, "headless", false, "no UI: relay to --serve watchers and print status and stats lines (add -o json to also print exchanges)")
	fs.IntVar(&sf.queue, "queue", sink.DefaultQueueTraces, "traces held for the decoder before dropping")
	fs.StringVar(&sf.serve, "serve", "", "also re-stream raw traces to 'tapview connect sink' watchers on `ADDR`")
	fs.StringVar(&sf.serveCert, "serve-tls-cert", "", "TLS certificate `FILE` for --serve")
	fs.StringVar(&sf.serveKey, "serve-tls-key", "", "private key `FILE` for --serve-tls-cert")
	fs.StringVar(&sf.serveCA, "serve-client-ca", "", "require watcher certificates signed by this CA `FILE`")
	fs.StringVar(&sf.serveToken, "serve-token", "", "require 'Authorization: Bearer TOKEN' from watchers")
	fs.StringVar(&sf.serveTokenFile, "serve-token-file", "", "like --serve-token, read from `FILE`")
	fs.BoolVar(&sf.insecureServeOpen, "insecure-serve-open", false, "allow --serve on a non-loopback address without --serve-token or --serve-client-ca: anyone who reaches it reads every raw trace")
	f.add(cmd)
	return cmd
}

func runSink(cmd *cobra.Command, sf *sinkFlags, f *sessionFlags) error {
	tlsCfg, err := auth.ServerTLS(sf.tlsCert, sf.tlsKey, sf.clientCA)
	if err != nil {
		return usageErr("sink: %v", err)
	}
	token, err := tokenFrom(sf.token, sf.tokenFile, "--token")
	if err != nil {
		return err
	}
	// Traces waiting for the decoder count against --memory: a sixteenth
	// of it (32MiB at the default), never more than the sink's own cap.
	qbytes := min(int64(f.mem.memory)/16, sink.DefaultQueueBytes)
	cfg := sink.Config{GRPCAddr: sf.grpc, HTTPAddr: sf.http, TLS: tlsCfg, Token: token, QueueTraces: sf.queue, QueueBytes: qbytes}

	var hub *watch.Hub
	var serveLn net.Listener
	var serveTLS *tls.Config
	var serveToken string
	if sf.serve != "" {
		if serveTLS, err = auth.ServerTLS(sf.serveCert, sf.serveKey, sf.serveCA); err != nil {
			return usageErr("sink --serve: %v", err)
		}
		if serveToken, err = tokenFrom(sf.serveToken, sf.serveTokenFile, "--serve-token"); err != nil {
			return err
		}
		if serveLn, err = net.Listen("tcp", sf.serve); err != nil {
			return fmt.Errorf("sink --serve: %w", err)
		}
		defer serveLn.Close()
		// Watchers are few: 8 connections per address, 64 in all, so
		// idle connections from anyone cannot lock the relay.
		serveLn = sink.LimitListener(serveLn, 8, 64, nil)
		if err := checkServeExposure(cmd.ErrOrStderr(), serveLn.Addr(), sf.serve, serveToken != "", serveTLS != nil && sf.serveCA != "", sf.insecureServeOpen); err != nil {
			return err
		}
	}
	var s *sink.Sink
	if serveLn != nil {
		// Watchers connect only once Serve runs, after s is set.
		hub = watch.NewHub(watch.HubOptions{Counts: func() sources.Counts { return s.Counts() }})
		cfg.Tee = hub
	}
	if s, err = sink.New(cfg); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	if hub != nil {
		wg.Go(func() {
			if err := hub.Serve(ctx, serveLn, serveTLS, serveToken); err != nil {
				serveErr <- err
				cancel()
			}
		})
	}
	inputs := []input{{src: s, live: true}}
	if sf.headless && f.output == "" {
		err = runRelay(ctx, cmd, cmd.OutOrStdout(), inputs, s, hub, f)
	} else {
		err = runSession(cmd, inputs, f)
	}
	cancel()
	wg.Wait()
	select {
	case e := <-serveErr:
		return e
	default:
	}
	return err
}

// checkServeExposure refuses to re-stream raw traces (bodies, headers,
// tokens of the tapped traffic) on a non-loopback address to watchers
// nobody authenticates, unless the operator says so with
// --insecure-serve-open. Loopback is left open: reaching it already takes
// a shell on the host or a port-forward.
func checkServeExposure(stderr io.Writer, bound net.Addr, given string, token, mtls, insecure bool) error {
	if token || mtls || isLoopback(bound) {
		return nil
	}
	if insecure {
		fmt.Fprintf(stderr, "tapview: warning: sink --serve %s has no token and no client certificates (--insecure-serve-open): anyone who reaches it reads every raw trace\n", given)
		return nil
	}
	return usageErr("sink --serve %s would hand every raw trace to anyone who reaches that address: set --serve-token-file (or --serve-client-ca for mutual TLS), listen on 127.0.0.1, or add --insecure-serve-open to accept that", given)
}

// tokenFrom returns the token given directly or in a file.
func tokenFrom(token, file, flag string) (string, error) {
	if token != "" && file != "" {
		return "", usageErr("%s and %s-file: give one", flag, flag)
	}
	if file == "" {
		return token, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s-file: %w", flag, err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", usageErr("%s-file %s is empty", flag, file)
	}
	return t, nil
}

// runRelay is --headless without -o: no decoding, traces only go to the
// watchers (and -w); status notes and counters are printed as JSON Lines
// for the pod log.
func runRelay(ctx context.Context, cmd *cobra.Command, stdout io.Writer, inputs []input, s *sink.Sink, hub *watch.Hub, f *sessionFlags) error {
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	out := &relayOutput{w: bufio.NewWriter(stdout)}
	up, err := startUpload(cmd, inputs, f, out.status)
	if err != nil {
		return err
	}
	inputs = up.wrap(inputs)
	rec, err := newRecorder(f.write)
	if err != nil {
		up.close(ctx)
		return err
	}
	if rec != nil {
		defer rec.Close()
		inputs = rec.wrap(inputs)
	}
	done := make(chan error, 1)
	go func() { done <- inputs[0].src.Run(ctx, out) }()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	stats := func(final bool) {
		c := s.Counts()
		out.stats(decode.SourceStats{Name: s.Name(), Packets: c.Received, Dropped: c.Dropped, Done: final})
		if hub != nil {
			out.status(sources.Status{Time: time.Now(), Source: s.Name(), Level: sources.Info, Kind: "watchers",
				Message: fmt.Sprintf("%d watchers; %d malformed, %d refused so far", hub.Watchers(), c.Malformed, c.Refused)})
		}
	}
	for {
		select {
		case err := <-done:
			stats(true)
			if rec != nil {
				if cerr := rec.Close(); cerr != nil && err == nil {
					err = cerr
				}
			}
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			if uerr := up.close(ctx); uerr != nil && err == nil {
				err = uerr
			}
			return err
		case <-tick.C:
			stats(false)
		}
	}
}

// relayOutput is the relay's emitter: traces are dropped here (the sink
// already handed them to the watchers), notes are printed.
type relayOutput struct {
	mu  sync.Mutex
	w   *bufio.Writer
	buf []byte
}

func (r *relayOutput) Packet(sources.Packet) {}
func (r *relayOutput) Trace(sources.Trace)   {}

func (r *relayOutput) Status(s sources.Status) { r.status(s) }

func (r *relayOutput) status(s sources.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(jsonl.AppendStatus(r.buf[:0], s), '\n')
	r.w.Write(r.buf)
	r.w.Flush()
}

func (r *relayOutput) stats(st decode.SourceStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(jsonl.AppendStats(r.buf[:0], time.Now(), st), '\n')
	r.w.Write(r.buf)
	r.w.Flush()
}
