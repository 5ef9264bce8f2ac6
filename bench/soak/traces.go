// Package soak floods a tapview sink with Envoy tap traces and samples a
// process's resident memory: the soak check of issue 15 (bench/soak.sh
// runs the real binary in tmux, cmd/tapview's TestSoakUI the UI's model
// in-process).
//
// The traces are StreamTapsRequests built with go-control-plane's
// generated types, as Envoy's HTTP tap filter sends them: a buffered HTTP
// trace with a request carrying the usual headers (an Authorization
// bearer among them), a JSON response body of 1-4 KB, varying methods,
// paths and statuses. A pool of distinct templates is marshalled once;
// each send copies one and patches, in place and at fixed width, its
// x-request-id (unique per trace), its trace_id and its timestamps (the
// send time), so every trace is distinct and current while the client
// spends its CPU on sending rather than on protobuf encoding (Envoy does
// that part in C++).
package soak

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	tapsvc "github.com/envoyproxy/go-control-plane/envoy/service/tap/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Sentinels located in a marshalled template and overwritten per send.
// Each encodes to a fixed number of bytes whatever value replaces it:
// request ids are fixed-width decimal strings, trace ids have the top
// bit set (10-byte varints), and Unix seconds between 2^28 and 2^35 are
// 5-byte varints (1978 to 3058).
const (
	reqIDWidth   = 20
	reqIDMark    = "SOAKREQID###########"
	traceIDTop   = uint64(1) << 63
	traceIDMark  = traceIDTop | 0x5A5A_5A5A_5A5A_5A5A
	reqSecsMark  = int64(1)<<34 + 12345
	respSecsMark = int64(1)<<34 + 54321
)

// template is one marshalled StreamTapsRequest and where to patch it.
type template struct {
	b                                 []byte
	reqID, traceID, reqSecs, respSecs int
}

// Templates is a pool of distinct marshalled traces.
type Templates struct {
	ts    []template
	bytes int64 // total marshalled size, for the mean
}

// Len is the number of templates.
func (p *Templates) Len() int { return len(p.ts) }

// MeanSize is the mean size of a marshalled trace in bytes.
func (p *Templates) MeanSize() int { return int(p.bytes / int64(len(p.ts))) }

// route is one endpoint of the pretend API.
type route struct {
	method, path string
	reqBody      bool
}

var routes = []route{
	{"GET", "/api/v1/users/%d", false},
	{"GET", "/api/v1/users/%d/orders?limit=50&offset=%d", false},
	{"POST", "/api/v1/orders", true},
	{"PUT", "/api/v1/orders/%d", true},
	{"DELETE", "/api/v1/carts/%d/items/%d", false},
	{"GET", "/api/v1/catalog/search?q=widget-%d&page=%d", false},
	{"GET", "/api/v2/inventory/%d", false},
	{"PATCH", "/api/v1/users/%d/preferences", true},
}

// statuses are weighted like a busy API: mostly 200, some 201/204/304,
// client and server errors.
var statuses = []int{200, 200, 200, 200, 200, 200, 200, 200, 201, 204, 304, 400, 401, 404, 404, 409, 429, 500, 502, 503}

var services = []string{"users.shop.svc", "orders.shop.svc", "catalog.shop.svc", "api.shop.example.com"}

// NewTemplates builds n distinct traces (n >= 1) from seed.
func NewTemplates(n int, seed uint64) (*Templates, error) {
	r := rand.New(rand.NewPCG(seed, 0x50a4))
	p := &Templates{}
	for i := range n {
		t, err := buildTemplate(r, i)
		if err != nil {
			return nil, err
		}
		p.ts = append(p.ts, t)
		p.bytes += int64(len(t.b))
	}
	return p, nil
}

func buildTemplate(r *rand.Rand, i int) (template, error) {
	rt := routes[i%len(routes)]
	path := rt.path
	if n := strings.Count(path, "%d"); n > 0 {
		args := make([]any, n)
		for k := range args {
			args[k] = r.IntN(100000)
		}
		path = fmt.Sprintf(path, args...)
	}
	status := statuses[r.IntN(len(statuses))]
	host := services[r.IntN(len(services))]
	jwt := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLSIsImlhdCI6MTcwMDAwMDAwMH0." + randToken(r, 43)
	reqHeaders := []string{
		":authority", host, ":path", path, ":method", rt.method, ":scheme", "https",
		"user-agent", "shop-web/4.12.0 (+https://shop.example.com)",
		"accept", "application/json", "accept-encoding", "gzip, deflate, br",
		"authorization", "Bearer " + jwt,
		"x-request-id", reqIDMark,
		"x-forwarded-for", fmt.Sprintf("203.0.113.%d", r.IntN(250)+1),
		"x-envoy-expected-rq-timeout-ms", "15000",
	}
	var reqBody *tapv3.Body
	if rt.reqBody {
		reqHeaders = append(reqHeaders, "content-type", "application/json")
		reqBody = &tapv3.Body{BodyType: &tapv3.Body_AsBytes{AsBytes: jsonBody(r, 200+r.IntN(400))}}
	}
	var respBody []byte
	if status != 204 && status != 304 {
		respBody = jsonBody(r, 1024+r.IntN(3*1024))
	}
	respHeaders := []string{
		":status", strconv.Itoa(status), "content-type", "application/json",
		"content-length", strconv.Itoa(len(respBody)), "server", "envoy",
		"x-envoy-upstream-service-time", strconv.Itoa(1 + r.IntN(250)),
		"cache-control", "no-store", "vary", "Accept-Encoding",
	}
	// Request and response share the second (patched per send); their
	// nanoseconds stay 5-byte varints (>= 2^28) and differ by the
	// service time, so the latency column shows 1-250 ms.
	delay := time.Duration(1+r.IntN(250)) * time.Millisecond
	nanos := int32(1<<28 + r.IntN(int(1e9-250e6-(1<<28))))
	req := &tapsvc.StreamTapsRequest{
		TraceId: traceIDMark,
		Trace: &tapv3.TraceWrapper{Trace: &tapv3.TraceWrapper_HttpBufferedTrace{HttpBufferedTrace: &tapv3.HttpBufferedTrace{
			Request: &tapv3.HttpBufferedTrace_Message{
				Headers:             headers(reqHeaders),
				Body:                reqBody,
				HeadersReceivedTime: &timestamppb.Timestamp{Seconds: reqSecsMark, Nanos: nanos},
			},
			Response: &tapv3.HttpBufferedTrace_Message{
				Headers:             headers(respHeaders),
				Body:                &tapv3.Body{BodyType: &tapv3.Body_AsBytes{AsBytes: respBody}},
				HeadersReceivedTime: &timestamppb.Timestamp{Seconds: respSecsMark, Nanos: nanos + int32(delay)},
			},
			DownstreamConnection: &tapv3.Connection{
				LocalAddress:  sockAddr("10.1.0.2", 8443),
				RemoteAddress: sockAddr(fmt.Sprintf("10.1.%d.%d", r.IntN(8), 2+r.IntN(250)), uint32(32768+r.IntN(28000))),
			},
		}}},
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return template{}, err
	}
	t := template{b: b}
	var ok bool
	if t.reqID, ok = findOnce(b, []byte(reqIDMark)); !ok {
		return template{}, fmt.Errorf("soak: template %d: x-request-id mark not found once", i)
	}
	if t.traceID, ok = findOnce(b, binary.AppendUvarint(nil, traceIDMark)); !ok {
		return template{}, fmt.Errorf("soak: template %d: trace_id mark not found once", i)
	}
	if t.reqSecs, ok = findOnce(b, binary.AppendUvarint(nil, uint64(reqSecsMark))); !ok {
		return template{}, fmt.Errorf("soak: template %d: request time mark not found once", i)
	}
	if t.respSecs, ok = findOnce(b, binary.AppendUvarint(nil, uint64(respSecsMark))); !ok {
		return template{}, fmt.Errorf("soak: template %d: response time mark not found once", i)
	}
	return t, nil
}

// findOnce returns the offset of the only occurrence of mark in b.
func findOnce(b, mark []byte) (int, bool) {
	i := bytes.Index(b, mark)
	if i < 0 || bytes.Contains(b[i+1:], mark) {
		return 0, false
	}
	return i, true
}

// Trace returns a fresh copy of template k (modulo the pool) for trace
// number seq sent at now: its x-request-id and trace_id carry seq, its
// request and response times are in now's second (the template's
// nanoseconds, 1-250 ms apart).
func (p *Templates) Trace(k int, seq uint64, now time.Time) []byte {
	t := &p.ts[k%len(p.ts)]
	b := make([]byte, len(t.b))
	copy(b, t.b)
	id := strconv.AppendUint(make([]byte, 0, reqIDWidth), seq, 10)
	n := copy(b[t.reqID:t.reqID+reqIDWidth-len(id)], "00000000000000000000")
	copy(b[t.reqID+n:], id)
	putVarintFixed(b[t.traceID:], traceIDTop|seq, 10)
	putVarintFixed(b[t.reqSecs:], uint64(now.Unix()), 5)
	putVarintFixed(b[t.respSecs:], uint64(now.Unix()), 5)
	return b
}

// putVarintFixed writes v as a varint of exactly n bytes (v must need n).
func putVarintFixed(b []byte, v uint64, n int) {
	var tmp [binary.MaxVarintLen64]byte
	if k := binary.PutUvarint(tmp[:], v); k != n {
		panic(fmt.Sprintf("soak: varint %d takes %d bytes, not %d", v, k, n))
	}
	copy(b, tmp[:n])
}

// Identifier is the first message of a stream, as Envoy sends it.
func Identifier(node string) []byte {
	b, _ := proto.Marshal(&tapsvc.StreamTapsRequest{Identifier: &tapsvc.StreamTapsRequest_Identifier{
		Node: &corev3.Node{Id: node, Cluster: "shop-gateway"}, TapId: "soak"}})
	return b
}

func headers(kv []string) []*corev3.HeaderValue {
	out := make([]*corev3.HeaderValue, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, &corev3.HeaderValue{Key: kv[i], Value: kv[i+1]})
	}
	return out
}

func sockAddr(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}
}

const tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func randToken(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = tokenChars[r.IntN(len(tokenChars))]
	}
	return string(b)
}

var (
	firstNames = []string{"Ada", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances"}
	products   = []string{"widget", "gadget", "sprocket", "gizmo", "doohickey", "flange", "bracket"}
)

// jsonBody is a JSON document of about size bytes: an order with line
// items, the shape of a typical shop API answer.
func jsonBody(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"id":"ord_%08x","customer":{"id":%d,"name":%q,"email":"%s%d@example.com"},"currency":"EUR","items":[`,
		r.Uint32(), r.IntN(1e6), firstNames[r.IntN(len(firstNames))], strings.ToLower(firstNames[r.IntN(len(firstNames))]), r.IntN(1000))
	for k := 0; b.Len() < size-40; k++ {
		if k > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"SKU-%06d","name":"%s %d","qty":%d,"price":%d.%02d,"tags":["sale","%s"]}`,
			r.IntN(1e6), products[r.IntN(len(products))], r.IntN(100), 1+r.IntN(9), r.IntN(500), r.IntN(100), products[r.IntN(len(products))])
	}
	fmt.Fprintf(&b, `],"total":%d.%02d}`, r.IntN(10000), r.IntN(100))
	return b.Bytes()
}
