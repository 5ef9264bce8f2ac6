// Package envoyadmin streams traces from an Envoy's admin /tap endpoint:
// it POSTs a TapRequest for a tap filter's admin config_id and decodes the
// response, an undelimited stream of pretty-printed JSON TraceWrappers,
// for as long as the tap is attached. Envoy allows one such stream at a
// time and detaches the tap when the client disconnects.
package envoyadmin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/matcher/v3"
	taptapv3 "github.com/envoyproxy/go-control-plane/envoy/config/tap/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/taptrace"
)

// Config says which Envoy to tap and what to ask for.
type Config struct {
	// URL is the admin address (http://127.0.0.1:9901); "/tap" is
	// appended unless the path already ends with it.
	URL string
	// ConfigID is the admin_config.config_id of a tap filter or
	// transport socket in the Envoy's configuration.
	ConfigID string
	// Match is a MatchPredicate in JSON; empty means any_match.
	Match string
	// Streaming asks for streamed segments instead of one buffered trace
	// per request or connection.
	Streaming bool
	// MaxBytes sets max_buffered_rx_bytes and max_buffered_tx_bytes; 0
	// keeps Envoy's default (1 KiB).
	MaxBytes uint32
	// BodyAsString asks for JSON_BODY_AS_STRING (bodies as text when
	// they are UTF-8) instead of base64 bytes.
	BodyAsString bool
	// Client is the HTTP client (http.DefaultClient when nil). It must
	// not time out whole requests: the stream lasts as long as the tap.
	Client *http.Client
	// Name is the source name ("envoy <host>" when empty).
	Name string
	// MaxTrace bounds one trace's JSON (taptrace.DefaultMaxValue when 0).
	MaxTrace int
}

// Source is a live trace source attached to one Envoy admin endpoint. It
// implements sources.Counter.
type Source struct {
	cfg       Config
	endpoint  string
	body      []byte
	received  atomic.Int64
	malformed atomic.Int64
}

// New validates the configuration and builds the TapRequest now, so a
// bad --match fails before anything is sent.
func New(cfg Config) (*Source, error) {
	if cfg.ConfigID == "" {
		return nil, errors.New("envoy admin tap: --config-id is required (the tap filter's admin_config.config_id)")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		if !strings.Contains(cfg.URL, "://") {
			u, err = url.Parse("http://" + cfg.URL)
		}
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("envoy admin tap: %q is not an admin URL (e.g. http://127.0.0.1:9901)", cfg.URL)
		}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("envoy admin tap: unsupported scheme %q", u.Scheme)
	}
	if !strings.HasSuffix(u.Path, "/tap") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/tap"
	}
	if cfg.Name == "" {
		cfg.Name = "envoy " + u.Host
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	body, err := TapRequest(cfg)
	if err != nil {
		return nil, err
	}
	return &Source{cfg: cfg, endpoint: u.String(), body: body}, nil
}

// TapRequest returns the JSON body POSTed to /tap for cfg: the
// streaming_admin sink (the only one the admin stream allows) in JSON.
func TapRequest(cfg Config) ([]byte, error) {
	match := &matcherv3.MatchPredicate{Rule: &matcherv3.MatchPredicate_AnyMatch{AnyMatch: true}}
	if cfg.Match != "" {
		match = &matcherv3.MatchPredicate{}
		if err := protojson.Unmarshal([]byte(cfg.Match), match); err != nil {
			return nil, fmt.Errorf("envoy admin tap: --match is not a MatchPredicate: %w", err)
		}
	}
	format := taptapv3.OutputSink_JSON_BODY_AS_BYTES
	if cfg.BodyAsString {
		format = taptapv3.OutputSink_JSON_BODY_AS_STRING
	}
	out := &taptapv3.OutputConfig{
		Sinks: []*taptapv3.OutputSink{{
			Format:         format,
			OutputSinkType: &taptapv3.OutputSink_StreamingAdmin{StreamingAdmin: &taptapv3.StreamingAdminSink{}},
		}},
		Streaming: cfg.Streaming,
	}
	if cfg.MaxBytes > 0 {
		out.MaxBufferedRxBytes = wrapperspb.UInt32(cfg.MaxBytes)
		out.MaxBufferedTxBytes = wrapperspb.UInt32(cfg.MaxBytes)
	}
	tc := &taptapv3.TapConfig{Match: match, OutputConfig: out}
	// The PGV validators are compiled in unless built with disable_pgv.
	if v, ok := any(tc).(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return nil, fmt.Errorf("envoy admin tap: the tap request would be refused: %w", err)
		}
	}
	cb, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(tc)
	if err != nil {
		return nil, fmt.Errorf("envoy admin tap: encode request: %w", err)
	}
	// The envelope is envoy.admin.v3.TapRequest {config_id, tap_config},
	// written here rather than with the generated admin/v3 package: that
	// package also holds the config dump types, which link in the whole of
	// Envoy's bootstrap, cluster, listener and TLS configuration (about 2 MB
	// of the binary) for one string field.
	b, err := json.Marshal(struct {
		ConfigID  string          `json:"config_id"`
		TapConfig json.RawMessage `json:"tap_config"`
	}{cfg.ConfigID, cb})
	if err != nil {
		return nil, fmt.Errorf("envoy admin tap: encode request: %w", err)
	}
	return b, nil
}

// Name is the source name.
func (s *Source) Name() string { return s.cfg.Name }

// Counts returns traces received and JSON objects that did not decode.
func (s *Source) Counts() sources.Counts {
	return sources.Counts{Received: s.received.Load(), Malformed: s.malformed.Load()}
}

// Run attaches the tap and emits traces until ctx is cancelled (which
// detaches it) or Envoy ends the stream. Refusals come back as errors
// saying what to do.
func (s *Source) Run(ctx context.Context, emit sources.Emitter) error {
	te, ok := emit.(sources.TraceEmitter)
	if !ok {
		return errors.New("envoy admin tap: the pipeline's emitter does not accept traces")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, strings.NewReader(string(s.body)))
	if err != nil {
		return fmt.Errorf("envoy admin tap: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("envoy admin tap: cannot reach %s: %w", s.endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return refusal(s.endpoint, s.cfg.ConfigID, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	emit.Status(sources.Status{Time: time.Now(), Source: s.cfg.Name, Level: sources.Info, Kind: "attached",
		Message: fmt.Sprintf("tap %q attached at %s", s.cfg.ConfigID, s.endpoint)})
	return s.read(ctx, resp.Body, te, emit)
}

// read decodes the trace stream; a damaged object is skipped and
// counted, a broken stream ends the source.
func (s *Source) read(ctx context.Context, body io.Reader, te sources.TraceEmitter, emit sources.Emitter) error {
	sp := taptrace.NewSplitter(body, s.cfg.MaxTrace)
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	var ordinal uint64
	lastNote := time.Time{}
	for {
		v, err := sp.Next()
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return nil
			case err == io.EOF:
				emit.Status(sources.Status{Time: time.Now(), Source: s.cfg.Name, Level: sources.Warning, Kind: "detached",
					Message: "Envoy ended the tap stream (tap detached, or Envoy restarted)"})
				return nil
			default:
				return fmt.Errorf("envoy admin tap: reading the trace stream at offset %d: %w", sp.Offset(), err)
			}
		}
		w := &tapv3.TraceWrapper{}
		if err := opts.Unmarshal(v, w); err != nil || w.GetTrace() == nil {
			n := s.malformed.Add(1)
			if time.Since(lastNote) > time.Second {
				lastNote = time.Now()
				why := "no trace in object"
				if err != nil {
					why = err.Error()
				}
				emit.Status(sources.Status{Time: lastNote, Source: s.cfg.Name, Level: sources.Warning, Kind: "malformed",
					Message: fmt.Sprintf("skipped a trace that does not decode (%d so far): %s", n, why)})
			}
			continue
		}
		s.received.Add(1)
		ordinal++
		te.Trace(sources.Trace{Wrapper: w, Source: s.cfg.Name, Arrival: time.Now(), Ordinal: ordinal})
	}
}

// refusal explains Envoy's answers to a /tap request.
func refusal(endpoint, configID string, code int, msg string) error {
	hint := ""
	switch {
	case strings.Contains(msg, "already exists"):
		hint = "another client (tapview, curl) holds this Envoy's /tap stream; Envoy allows one at a time. Stop it, or wait for it to disconnect"
	case strings.Contains(msg, "Unknown config id"):
		hint = fmt.Sprintf("no tap filter or transport socket in this Envoy has common_config.admin_config.config_id %q; check the id, or add a tap filter with that admin config", configID)
	case strings.Contains(msg, "requires a JSON/YAML body"):
		hint = "Envoy did not receive the request body; a proxy in between may have dropped it"
	case code == http.StatusNotFound || strings.Contains(msg, "invalid path"):
		hint = "this Envoy has no /tap admin endpoint: it exists only when some tap filter or transport socket has an admin_config"
	case code == http.StatusMethodNotAllowed:
		hint = "/tap needs POST; is this an Envoy admin port?"
	case code == http.StatusBadRequest:
		hint = "Envoy refused the tap configuration"
	}
	if msg == "" {
		msg = http.StatusText(code)
	}
	if hint != "" {
		return fmt.Errorf("envoy admin tap: %s answered %d: %s\n%s", endpoint, code, msg, hint)
	}
	return fmt.Errorf("envoy admin tap: %s answered %d: %s", endpoint, code, msg)
}
