// Package agent is the client side of Cloud Foundry pcap-release's gRPC
// contract: a Source that captures through one or more pcap agents
// (pcap.Agent/Capture) merged into one time-ordered stream, or through a
// pcap-api (pcap.API/Capture) that resolves BOSH or Cloud Foundry targets.
// In-band Messages and failed agents become Status notes; one agent
// failing never stops the others.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pcap "github.com/tapview/tapview/proto/pcap"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/agent/wire"
)

// Defaults for zero Config durations.
const (
	DefaultReorder      = 200 * time.Millisecond
	DefaultDrainTimeout = 5 * time.Second
	DefaultSetupTimeout = 15 * time.Second
	DefaultSnapLen      = 65535 // as pcap-release's CLI
	DefaultDevice       = "eth0"

	maxMessage = 512 << 10
)

// Capture is what to capture on every target.
type Capture struct {
	Device  string // interface name; "" means DefaultDevice
	Filter  string // tcpdump-syntax capture filter
	SnapLen uint32 // bytes kept per packet; 0 means DefaultSnapLen
}

func (c Capture) options() *pcap.CaptureOptions {
	o := &pcap.CaptureOptions{Device: c.Device, Filter: c.Filter, SnapLen: c.SnapLen}
	if o.Device == "" {
		o.Device = DefaultDevice
	}
	if o.SnapLen == 0 {
		o.SnapLen = DefaultSnapLen
	}
	return o
}

// Transport says how to reach the servers.
type Transport struct {
	// Creds secures the connection; nil means plaintext HTTP/2 (h2c).
	Creds credentials.TransportCredentials
	// DialOptions are added after the defaults (tests add a dialer).
	DialOptions []grpc.DialOption
	// DrainTimeout bounds the wait for end of stream after stop.
	DrainTimeout time.Duration
	// SetupTimeout bounds the Status check before a capture starts.
	SetupTimeout time.Duration
}

func (t Transport) dialOptions() []grpc.DialOption {
	creds := t.Creds
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	// Large flow-control windows let a busy agent stream without waiting
	// for window updates on every few packets.
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithInitialWindowSize(4 << 20),
		grpc.WithInitialConnWindowSize(16 << 20),
		// A packet is at most a snaplen (256 KiB) plus framing; refusing
		// more bounds what a hostile server makes us buffer.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), wire.CallOption()),
	}
	return append(opts, t.DialOptions...)
}

// Config describes a capture through pcap agents.
type Config struct {
	// Addrs are the agents, host:port each.
	Addrs   []string
	Capture Capture
	Transport
	// Reorder is how long a packet may wait for other agents' older
	// packets before it is released (merging by capture time).
	Reorder time.Duration
}

// Source captures through pcap agents or a pcap-api. Packets are tagged
// with the agent address (or the API label) and numbered per tag.
type Source struct {
	label   string
	eps     []endpoint
	reorder time.Duration
	drain   time.Duration
}

// New returns a Source for the agents in cfg.
func New(cfg Config) (*Source, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("agent: no agent address")
	}
	seen := map[string]bool{}
	s := &Source{label: "agents " + strings.Join(cfg.Addrs, ","), reorder: cfg.Reorder, drain: cfg.DrainTimeout}
	setup := cfg.SetupTimeout
	if setup <= 0 {
		setup = DefaultSetupTimeout
	}
	if len(cfg.Addrs) == 1 {
		s.label = "agent " + cfg.Addrs[0]
	}
	for _, a := range cfg.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("agent address %q: want host:port: %w", a, err)
		}
		if seen[a] {
			return nil, fmt.Errorf("agent address %q given twice", a)
		}
		seen[a] = true
		s.eps = append(s.eps, &agentEndpoint{addr: a, opts: cfg.Capture.options(), dial: cfg.dialOptions(), timeout: setup})
	}
	return s.withDefaults(), nil
}

func (s *Source) withDefaults() *Source {
	if s.reorder <= 0 {
		s.reorder = DefaultReorder
	}
	if s.drain <= 0 {
		s.drain = DefaultDrainTimeout
	}
	return s
}

// Bosh selects VMs of a BOSH deployment through a pcap-api.
type Bosh struct {
	Deployment string
	Groups     []string
	Instances  []string
}

// CF selects instances of a Cloud Foundry app through a pcap-api.
type CF struct {
	AppID   string
	AppType string // "" leaves the field unset
	Indices []int32
}

// APIConfig describes a capture through a pcap-api.
type APIConfig struct {
	// URL is the API's address: https:// for TLS, http:// for h2c.
	URL string
	// Token is the UAA access token the API checks.
	Token string
	// Exactly one of Bosh and CF.
	Bosh    *Bosh
	CF      *CF
	Capture Capture
	// Transport.Creds is used for https URLs; nil means TLS with the
	// system roots. For http URLs it is ignored.
	Transport
}

// NewAPI returns a Source for one pcap-api request.
func NewAPI(cfg APIConfig) (*Source, error) {
	target, secure, err := ParseAPIURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	req := &pcap.StartCapture{Options: cfg.Capture.options()}
	switch {
	case (cfg.Bosh == nil) == (cfg.CF == nil):
		return nil, errors.New("pcap-api: give either a BOSH deployment or a CF app")
	case cfg.Bosh != nil:
		if cfg.Bosh.Deployment == "" {
			return nil, errors.New("pcap-api: BOSH deployment is empty")
		}
		req.Request = &pcap.EndpointRequest{Request: &pcap.EndpointRequest_Bosh{Bosh: &pcap.BoshRequest{
			Token: cfg.Token, Deployment: cfg.Bosh.Deployment, Groups: cfg.Bosh.Groups, Instances: cfg.Bosh.Instances}}}
	default:
		if cfg.CF.AppID == "" {
			return nil, errors.New("pcap-api: CF app id is empty")
		}
		cf := &pcap.CloudfoundryRequest{Token: cfg.Token, AppId: cfg.CF.AppID, Indices: cfg.CF.Indices}
		if cfg.CF.AppType != "" {
			cf.AppType = &cfg.CF.AppType
		}
		req.Request = &pcap.EndpointRequest{Request: &pcap.EndpointRequest_Cf{Cf: cf}}
	}
	tr := cfg.Transport
	if !secure {
		tr.Creds = nil
	} else if tr.Creds == nil {
		tr.Creds = credentials.NewClientTLSFromCert(nil, "")
	}
	ep := &apiEndpoint{label: target, target: target, req: req, dial: tr.dialOptions()}
	s := &Source{label: "pcap-api " + cfg.URL, eps: []endpoint{ep}, drain: cfg.DrainTimeout}
	return s.withDefaults(), nil
}

// ParseAPIURL returns the gRPC target (host:port) of a pcap-api URL and
// whether it uses TLS: https (default port 443) or http/h2c (port 80).
func ParseAPIURL(raw string) (target string, secure bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false, fmt.Errorf("pcap-api URL %q: %w", raw, err)
	}
	port := ""
	switch u.Scheme {
	case "https":
		secure, port = true, "443"
	case "http":
		port = "80"
	default:
		return "", false, fmt.Errorf("pcap-api URL %q: scheme must be https or http", raw)
	}
	if u.Hostname() == "" {
		return "", false, fmt.Errorf("pcap-api URL %q: no host", raw)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	return net.JoinHostPort(u.Hostname(), port), secure, nil
}

// Name describes the source for the status bar.
func (s *Source) Name() string { return s.label }

// Run captures until every endpoint has ended or ctx is cancelled, in
// which case each capture is stopped cleanly (stop, CloseSend, drain to
// EOF within the drain timeout) and the drained packets are still
// emitted. It returns nil when at least one endpoint ended cleanly or ctx
// was cancelled, and the endpoints' errors when all of them failed.
func (s *Source) Run(ctx context.Context, emit sources.Emitter) error {
	events := make(chan event, 256)
	for i, ep := range s.eps {
		go receive(ctx, i, ep, s.drain, events)
	}
	m := newMerger(len(s.eps), s.reorder, emit)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var errs []error
	for remaining := len(s.eps); remaining > 0; {
		select {
		case ev := <-events:
			now := time.Now()
			if s.handle(ctx, m, ev, now, &errs) {
				remaining--
			}
			// Take what else is waiting before releasing, so the clock,
			// merge and timer work is paid per batch, not per packet.
			for n := 0; n < 256 && remaining > 0; n++ {
				select {
				case ev := <-events:
					if s.handle(ctx, m, ev, now, &errs) {
						remaining--
					}
					continue
				default:
				}
				break
			}
		case <-timer.C:
		}
		m.release(time.Now())
		if d, ok := m.next(); ok {
			timer.Reset(time.Until(d))
		}
	}
	m.flush()
	if ctx.Err() == nil && len(errs) == len(s.eps) {
		return errors.Join(errs...)
	}
	return nil
}

// handle applies one event and reports whether its endpoint ended.
func (s *Source) handle(ctx context.Context, m *merger, ev event, now time.Time, errs *[]error) bool {
	name := s.eps[ev.idx].name()
	switch {
	case ev.isPacket:
		m.add(ev.idx, ev.packet, now)
	case ev.status != nil:
		m.emit.Status(*ev.status)
	case ev.done:
		m.end(ev.idx)
		if ev.err == nil {
			return true
		}
		if ctx.Err() != nil && status.Code(ev.err) == codes.Canceled {
			*errs = append(*errs, ev.err)
			return true
		}
		m.emit.Status(endStatus(name, ev.err))
		*errs = append(*errs, fmt.Errorf("%s: %w", name, ev.err))
		return true
	}
	return false
}
