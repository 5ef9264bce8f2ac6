// Package capgen builds large, realistic capture files for benchmarks.
// It records a modest number of real conversations (net/http HTTP/1.1
// keep-alive with gzip JSON, h2c, grpc-go) between real Go clients and
// servers on loopback, then replays those real byte streams through
// export/synth's TCP builder into a streaming capture writer, many
// requests per keep-alive connection and many connections at once, until
// the wanted number of exchanges or bytes is written. Recording millions
// of requests for real would be slow and would hold every packet in
// memory; replaying recorded bytes keeps the wire content real and the
// generator's memory constant at any size.
package capgen

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// Unit is a replayable piece of recorded traffic: one HTTP/1 exchange
// (spliced into longer keep-alive connections at replay), or one whole
// h2c or gRPC connection (HPACK state and stream IDs tie an HTTP/2
// connection together, so it is replayed whole).
type Unit struct {
	Proto  string // "http/1.1", "h2c" or "grpc"
	Events []Event
	// Exchanges is how many final exchanges tapview decodes from the
	// unit, measured by decoding it (see Corpus.Validate).
	Exchanges int
	// Bytes is the payload size of all events.
	Bytes int
}

// Corpus is everything recorded.
type Corpus struct {
	HTTP1 []Unit
	H2C   []Unit
	GRPC  []Unit
}

// RecordOptions say how much real traffic to record.
type RecordOptions struct {
	// HTTP1 is the number of distinct HTTP/1.1 exchanges (default 400).
	HTTP1 int
	// H2C and GRPC are the numbers of whole connections (default 8 each;
	// negative: none).
	H2C, GRPC int
	// Seed makes the request mix reproducible (bodies carrying times and
	// random IDs still differ between runs).
	Seed uint64
}

func (o RecordOptions) withDefaults() RecordOptions {
	if o.HTTP1 <= 0 {
		o.HTTP1 = 400
	}
	if o.H2C == 0 {
		o.H2C = 8
	}
	if o.GRPC == 0 {
		o.GRPC = 8
	}
	return o
}

// Record starts the servers on 127.0.0.1, runs the clients and returns
// their traffic, validated against tapview's decoder.
func Record(ctx context.Context, o RecordOptions) (*Corpus, error) {
	o = o.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c := &Corpus{}
	var err error
	if c.HTTP1, err = recordHTTP1(ctx, o.HTTP1, o.Seed); err != nil {
		return nil, err
	}
	if o.H2C > 0 {
		if c.H2C, err = recordH2C(ctx, o.H2C, o.Seed); err != nil {
			return nil, err
		}
	}
	if o.GRPC > 0 {
		if c.GRPC, err = recordGRPC(ctx, o.GRPC, o.Seed); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// serve starts h on a loopback listener and returns its address and a
// stop function.
func serve(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("capgen: listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return l.Addr().String(), func() { _ = srv.Close() }, nil
}

// requestSpec is one client request of the mix.
type requestSpec struct {
	method, path string
	body         []byte
	header       http.Header
}

var userAgents = []string{"", "shop-web/1.8.2 (+https://shop.example)", "curl/8.5.0", "okhttp/4.12.0", "python-requests/2.32.3"}

// nextRequest draws one request of the API mix: mostly reads of users
// and order pages (gzip JSON of very different sizes), some writes,
// static assets with revalidation, errors, redirects and a chunked
// stream.
func nextRequest(r *rand.Rand) requestSpec {
	h := http.Header{}
	h.Set("Accept", "application/json")
	if ua := userAgents[r.IntN(len(userAgents))]; ua != "" {
		h.Set("User-Agent", ua)
	}
	if r.IntN(10) < 6 {
		h.Set("Authorization", fmt.Sprintf("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIlZCIsImV4cCI6MTc1%08x.%016x", r.Uint32(), r.Uint64()))
	}
	if r.IntN(2) == 0 {
		h.Set("X-Request-Id", fmt.Sprintf("%016x", r.Uint64()))
	}
	s := requestSpec{method: http.MethodGet, header: h}
	switch p := r.IntN(100); {
	case p < 30:
		s.path = fmt.Sprintf("/api/v1/users/%d", 1+r.IntN(5200))
	case p < 48:
		limits := []int{5, 10, 10, 20, 20, 20, 50, 100}
		s.path = fmt.Sprintf("/api/v1/orders?page=%d&limit=%d", r.IntN(400), limits[r.IntN(len(limits))])
	case p < 56:
		s.method = http.MethodPost
		s.path = "/api/v1/orders"
		o := makeOrder(r.IntN(1 << 20))
		if r.IntN(12) == 0 {
			o.Items = nil // rejected with 422
		}
		s.body, _ = json.Marshal(o)
		h.Set("Content-Type", "application/json")
	case p < 61:
		s.method = http.MethodPut
		s.path = fmt.Sprintf("/api/v1/users/%d", 1+r.IntN(5000))
		s.body, _ = json.Marshal(makeUser(1 + r.IntN(5000)))
		h.Set("Content-Type", "application/json")
	case p < 65:
		s.method = http.MethodDelete
		s.path = fmt.Sprintf("/api/v1/orders/ord_%08x", r.Uint32())
	case p < 70:
		words := []string{"desk", "lamp", "chair", "hub", "keyboard", "usb c", "walnut"}
		s.path = "/api/v1/search?q=" + url.QueryEscape(words[r.IntN(len(words))])
	case p < 73:
		s.path = fmt.Sprintf("/api/v1/reports/%d", r.IntN(90))
	case p < 75:
		s.path = "/api/v1/limited"
	case p < 83:
		s.path = "/static/app.js"
		h.Set("Accept", "*/*")
		if r.IntN(2) == 0 {
			h.Set("If-None-Match", `"js-7d1f0c"`)
		}
	case p < 85:
		s.path = fmt.Sprintf("/old/users/%d", 1+r.IntN(100))
	case p < 94:
		s.path = "/healthz"
		h.Set("Accept", "text/plain")
	default:
		s.path = fmt.Sprintf("/api/v2/missing/%d", r.IntN(1000))
	}
	return s
}

// do sends one request and reads the whole response.
func do(ctx context.Context, cl *http.Client, base string, s requestSpec) error {
	var body io.Reader
	if s.body != nil {
		body = bytes.NewReader(s.body)
	}
	req, err := http.NewRequestWithContext(ctx, s.method, base+s.path, body)
	if err != nil {
		return fmt.Errorf("capgen: %w", err)
	}
	req.Header = s.header.Clone()
	req.Host = "api.shop.internal"
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("capgen: %s %s: %w", s.method, s.path, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("capgen: %s %s: reading the response: %w", s.method, s.path, err)
	}
	return nil
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// recordHTTP1 records n sequential requests on keep-alive connections
// and cuts them into one unit per exchange.
func recordHTTP1(ctx context.Context, n int, seed uint64) ([]Unit, error) {
	addr, stop, err := serve(shopHandler())
	if err != nil {
		return nil, err
	}
	defer stop()
	tap := &tapDialer{}
	tr := &http.Transport{DialContext: tap.dial, MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, CheckRedirect: noRedirect}
	r := rand.New(rand.NewPCG(seed, 11))
	for i := 0; i < n; i++ {
		if err := do(ctx, cl, "http://"+addr, nextRequest(r)); err != nil {
			return nil, err
		}
	}
	tr.CloseIdleConnections()
	var units []Unit
	for _, l := range tap.take() {
		for _, evs := range splitExchanges(l.snapshot()) {
			units = append(units, newUnit("http/1.1", rebase(coalesce(evs))))
		}
	}
	return units, nil
}

func newUnit(proto string, evs []Event) Unit {
	u := Unit{Proto: proto, Events: evs}
	for _, e := range evs {
		u.Bytes += len(e.Data)
	}
	return u
}

// recordH2C records conns h2c (prior knowledge) connections to the same
// API, each carrying 10-40 requests, four at a time, so streams
// interleave on the wire.
func recordH2C(ctx context.Context, conns int, seed uint64) ([]Unit, error) {
	addr, stop, err := serve(h2c.NewHandler(shopHandler(), &http2.Server{}))
	if err != nil {
		return nil, err
	}
	defer stop()
	r := rand.New(rand.NewPCG(seed, 12))
	var units []Unit
	for i := 0; i < conns; i++ {
		tap := &tapDialer{}
		tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
			return tap.dial(ctx, network, a)
		}}
		cl := &http.Client{Transport: tr, CheckRedirect: noRedirect}
		specs := make([]requestSpec, 10+r.IntN(31))
		for j := range specs {
			specs[j] = nextRequest(r)
		}
		if err := doConcurrently(len(specs), 4, func(j int) error { return do(ctx, cl, "http://"+addr, specs[j]) }); err != nil {
			return nil, err
		}
		tr.CloseIdleConnections()
		for _, l := range tap.take() {
			units = append(units, newUnit("h2c", rebase(coalesce(l.snapshot()))))
		}
	}
	return units, nil
}

// doConcurrently runs f(0..n-1) on at most par goroutines.
func doConcurrently(n, par int, f func(int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				if err := f(j); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for j := 0; j < n; j++ {
		next <- j
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}
