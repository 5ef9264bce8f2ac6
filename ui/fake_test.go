package ui

import (
	"context"
	"errors"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/filter"
	"github.com/tapview/tapview/sources"
)

// The real store satisfies the UI's interface.
var _ Store = (*decode.Store)(nil)

// fakeStore is a slice-backed Store the tests fill directly.
type fakeStore struct {
	mu    sync.Mutex
	ex    []*decode.Exchange
	fl    []*decode.Flow
	stats []decode.SourceStats
	notes []sources.Status
	ch    chan struct{}
}

func newFakeStore() *fakeStore { return &fakeStore{ch: make(chan struct{}, 1)} }

func (s *fakeStore) Changed() <-chan struct{} { return s.ch }

func (s *fakeStore) Len() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ex), len(s.fl)
}

func (s *fakeStore) ExchangeRange(from, to int) []*decode.Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, to = max(from, 0), min(to, len(s.ex))
	if from >= to {
		return nil
	}
	return append([]*decode.Exchange(nil), s.ex[from:to]...)
}

func (s *fakeStore) ExchangeByID(id uint64) *decode.Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.ex {
		if e.ID == id {
			return e
		}
	}
	return nil
}

func (s *fakeStore) Flows() []*decode.Flow {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*decode.Flow(nil), s.fl...)
}

func (s *fakeStore) FlowByID(id uint64) *decode.Flow {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.fl {
		if f.ID == id {
			return f
		}
	}
	return nil
}

func (s *fakeStore) Stats() []decode.SourceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]decode.SourceStats(nil), s.stats...)
}

func (s *fakeStore) Notes() []sources.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sources.Status(nil), s.notes...)
}

func (s *fakeStore) add(exs ...*decode.Exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range exs {
		replaced := false
		for i, old := range s.ex {
			if old.ID == e.ID {
				s.ex[i] = e
				replaced = true
			}
		}
		if !replaced {
			s.ex = append(s.ex, e)
		}
	}
}

// t0 is the capture start of every fixture.
var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func at(ms float64) time.Time { return t0.Add(time.Duration(ms * float64(time.Millisecond))) }

func hdrs(kv ...string) []decode.Header {
	var out []decode.Header
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, decode.Header{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

var (
	client = netip.MustParseAddrPort("10.1.0.7:51234")
	server = netip.MustParseAddrPort("10.1.0.9:8080")
)

// exchange builds a complete HTTP/1.1 exchange starting at ms.
func exchange(id uint64, ms float64, method, target string, status int, reqCT string, reqBody string, respCT, respBody string) *decode.Exchange {
	e := &decode.Exchange{
		ID: id, FlowID: 1 + id%3, Source: "capture.pcap", Proto: "http/1.1", Version: 1,
		Client: client, Server: server, Start: at(ms), End: at(ms + 12),
		State: decode.Complete,
		Request: &decode.Message{
			First: at(ms), Last: at(ms + 0.4), Method: method, Target: target, Host: "api.example.com",
			Proto: "HTTP/1.1", Headers: hdrs("Host", "api.example.com", "User-Agent", "curl/8.5.0", "Accept", "*/*"),
			Body: []byte(reqBody), BodySize: int64(len(reqBody)), DecodedSize: int64(len(reqBody)),
		},
	}
	if reqCT != "" {
		e.Request.Headers = append(e.Request.Headers, decode.Header{Name: "Content-Type", Value: reqCT})
	}
	if status > 0 {
		e.Response = &decode.Message{
			First: at(ms + 11), Last: at(ms + 12), Status: status, Reason: reason(status), Proto: "HTTP/1.1",
			Headers: hdrs("Content-Type", respCT, "Content-Length", strconv.Itoa(len(respBody))),
			Body:    []byte(respBody), BodySize: int64(len(respBody)), DecodedSize: int64(len(respBody)),
		}
	} else {
		e.State = decode.Pending
	}
	return e
}

func reason(code int) string {
	switch code {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 302:
		return "Found"
	case 404:
		return "Not Found"
	case 503:
		return "Service Unavailable"
	}
	return ""
}

// loginPost is the JSON POST with credentials the masking goldens show.
func loginPost() *decode.Exchange {
	e := exchange(2, 140, "POST", "/v1/login?token=abc123", 201, "application/json",
		`{"user":"ada","password":"hunter2","remember":true,"scopes":["read","write"]}`,
		"application/json", `{"session":"s-42","expires_in":3600}`)
	e.Request.Headers = append(e.Request.Headers, decode.Header{Name: "Authorization", Value: "Bearer eyJhbGciOiJIUzI1NiJ9.secret"})
	return e
}

func grpcCall() *decode.Exchange {
	e := exchange(6, 900, "POST", "/helloworld.Greeter/SayHello", 200, "application/grpc", "", "application/grpc", "")
	e.Proto = "grpc"
	e.GRPC = &decode.GRPCInfo{Service: "helloworld.Greeter", Method: "SayHello", Status: 14, Message: "connection refused"}
	e.Request.Parts = []decode.Part{{Kind: "grpc", Data: []byte("\x0a\x05world"), Size: 7}}
	e.Response.Parts = []decode.Part{}
	return e
}

// fixtures is a small, varied capture: every status class, pending,
// reset, gRPC and a hostile header.
func fixtures() []*decode.Exchange {
	users := exchange(1, 0, "GET", "/v1/users?page=2", 200, "", "", "application/json",
		`[{"id":1,"name":"Ada"},{"id":2,"name":"Grace"}]`)
	health := exchange(3, 310, "GET", "/healthz", 503, "", "", "text/plain", "upstream connect error\n")
	moved := exchange(4, 520, "GET", "/old", 302, "", "", "text/html", "")
	missing := exchange(5, 700, "DELETE", "/v1/users/99", 404, "", "", "application/problem+json", `{"title":"not found"}`)
	slow := exchange(7, 1200, "GET", "/v1/report", 0, "", "", "", "")
	reset := exchange(8, 1300, "PUT", "/v1/upload", 0, "application/octet-stream", "\x00\x01\x02", "", "")
	reset.State, reset.Error = decode.Reset, "connection reset by peer"
	evil := exchange(9, 1400, "GET", "/\x1b[2Jevil\u202e", 200, "", "", "text/plain", "ok")
	evil.Response.Headers = append(evil.Response.Headers, decode.Header{Name: "X-Trap", Value: "\x1b]0;pwned\x07"})
	return []*decode.Exchange{users, loginPost(), health, moved, missing, grpcCall(), slow, reset, evil}
}

func flowFixtures() []*decode.Flow {
	return []*decode.Flow{
		{ID: 1, Source: "capture.pcap", Transport: "tcp", Proto: "http/1.1", Client: client, Server: server,
			First: at(0), Last: at(1500), PacketsC2S: 14, PacketsS2C: 12, BytesC2S: 2048, BytesS2C: 9100, State: decode.FlowClosed},
		{ID: 2, Source: "capture.pcap", Transport: "tcp", Proto: "h2", Client: netip.MustParseAddrPort("10.1.0.7:51300"),
			Server: netip.MustParseAddrPort("10.1.0.10:443"), SNI: "grpc.example.com",
			First: at(880), Last: at(950), PacketsC2S: 6, PacketsS2C: 5, BytesC2S: 400, BytesS2C: 380, State: decode.FlowReset},
		{ID: 3, Source: "capture.pcap", Transport: "udp", Proto: "dns", Client: netip.MustParseAddrPort("10.1.0.7:40000"),
			Server: netip.MustParseAddrPort("10.1.0.2:53"), First: at(5), Last: at(6), PacketsC2S: 1, PacketsS2C: 1,
			BytesC2S: 40, BytesS2C: 56, State: decode.FlowOpen},
	}
}

// fakeMask hides credential headers, the token query parameter and the
// password JSON field, as decode/mask would.
func fakeMask(e *decode.Exchange) *decode.Exchange {
	c := *e
	maskMsg := func(m *decode.Message) *decode.Message {
		if m == nil {
			return nil
		}
		mc := *m
		mc.Headers = nil
		for _, h := range m.Headers {
			if strings.EqualFold(h.Name, "authorization") || strings.EqualFold(h.Name, "cookie") {
				h.Value = "••••••"
				mc.Masked = true
			}
			mc.Headers = append(mc.Headers, h)
		}
		if t := tokenRE.ReplaceAllString(m.Target, "${1}••••••"); t != m.Target {
			mc.Target, mc.Masked = t, true
		}
		if b := passwordRE.ReplaceAll(m.Body, []byte(`${1}"••••••"`)); string(b) != string(m.Body) {
			mc.Body, mc.Masked = b, true
		}
		return &mc
	}
	c.Request = maskMsg(e.Request)
	c.Response = maskMsg(e.Response)
	return &c
}

var (
	tokenRE    = regexp.MustCompile(`([?&]token=)[^&]*`)
	passwordRE = regexp.MustCompile(`("password":)"[^"]*"`)
)

// fakeMatcher understands "status >= N", "status == N" and bare words.
type fakeMatcher struct {
	op   string
	n    int
	word string
}

func (f fakeMatcher) Match(e *decode.Exchange) bool {
	switch f.op {
	case ">=":
		return e.Status() >= f.n
	case "==":
		return e.Status() == f.n
	}
	return strings.Contains(strings.ToLower(e.Host()+e.Path()), f.word)
}

func (f fakeMatcher) MatchFlow(fl *decode.Flow) bool {
	if f.op != "" {
		return false
	}
	return strings.Contains(strings.ToLower(fl.Server.String()+" "+fl.SNI), f.word)
}

// fakeCompile is the tiny compiler of the tests; bad input gets a
// positioned *filter.Error like the real compiler's.
func fakeCompile(expr string) (Matcher, error) {
	fields := strings.Fields(expr)
	if len(fields) == 1 && regexp.MustCompile(`^[\w./-]+$`).MatchString(expr) {
		return fakeMatcher{word: strings.ToLower(expr)}, nil
	}
	if len(fields) == 3 && fields[0] == "status" && (fields[1] == ">=" || fields[1] == "==") {
		n, err := strconv.Atoi(fields[2])
		if err != nil {
			return nil, &filter.Error{Pos: strings.LastIndex(expr, fields[2]), Msg: "status is a number; compare it with a number such as 500"}
		}
		return fakeMatcher{op: fields[1], n: n}, nil
	}
	return nil, &filter.Error{Pos: 0, Msg: "not a filter the test compiler knows"}
}

// driver runs the model like bubbletea does, but synchronously: commands
// run on goroutines and their messages are fed back until no background
// work is outstanding. Timer messages are dropped, so time never passes
// in a test unless the test says so.
type driver struct {
	t    *testing.T
	m    *Model
	msgs chan tea.Msg
	seen []tea.Msg
}

func newDriver(t *testing.T, cfg Config, w, h int) *driver {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	d := &driver{t: t, m: New(ctx, cfg), msgs: make(chan tea.Msg, 4096)}
	d.run(d.m.Init())
	d.send(tea.WindowSizeMsg{Width: w, Height: h})
	return d
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd != nil {
		go func() { d.msgs <- cmd() }()
	}
}

func (d *driver) deliver(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil, spinMsg, rearmMsg, clearStatusMsg:
		return
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
		return
	}
	d.seen = append(d.seen, msg)
	_, cmd := d.m.Update(msg)
	d.run(cmd)
}

func (d *driver) settle() {
	d.t.Helper()
	deadline := time.After(20 * time.Second)
	for d.m.inflight > 0 {
		select {
		case msg := <-d.msgs:
			d.deliver(msg)
		case <-deadline:
			d.t.Fatalf("background work did not finish (%d in flight)", d.m.inflight)
		}
	}
	// Give already-finished commands (batches without work) a moment to land.
	for {
		select {
		case msg := <-d.msgs:
			d.deliver(msg)
			continue
		case <-time.After(5 * time.Millisecond):
		}
		if d.m.inflight == 0 {
			return
		}
	}
}

func (d *driver) send(msg tea.Msg) {
	d.t.Helper()
	d.deliver(msg)
	d.settle()
}

// keys presses each key in turn ("enter", "esc", "G", "ctrl+c", ...).
func (d *driver) keys(keys ...string) {
	d.t.Helper()
	for _, k := range keys {
		d.send(keyMsg(k))
	}
}

// typeText types s into whatever has focus.
func (d *driver) typeText(s string) {
	d.t.Helper()
	for _, r := range s {
		if r == ' ' {
			d.send(keyMsg("space"))
			continue
		}
		d.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "ctrl+u":
		return tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	if len(r) != 1 {
		panic("unknown key " + k)
	}
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// screen is the current frame without colours, trailing spaces trimmed.
func (d *driver) screen() string {
	lines := strings.Split(ansi.Strip(d.m.View().Content), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

func (d *driver) raw() string { return d.m.View().Content }

var errExportFailed = errors.New("disk full")
