package filter

import (
	"strings"
	"time"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/route"
)

// valType is the CEL type family of a variable, for typed access.
type valType uint8

const (
	tString valType = iota
	tInt
	tDuration
	tHeaders
	tBool
	tTime
	tStrList
	tIntList
)

// typeOf says which typed getter holds a variable.
func typeOf(k varKind) valType {
	switch k {
	case vStatus, vGRPCStatus, vReqSize, vRespSize, vClientPort, vServerPort, vRows,
		vFlow, vReqBodyBytes, vRespBodyBytes, vStream, vReqMessages, vRespMessages, vBatches,
		vRecordBytes, vLinked, vPackets, vBytesC2S, vBytesS2C, vTunnelID:
		return tInt
	case vLatency:
		return tDuration
	case vReqHeaders, vRespHeaders:
		return tHeaders
	case vTLS, vPartial:
		return tBool
	case vStart, vEnd:
		return tTime
	case vDNSAnswers:
		return tStrList
	case vInterim:
		return tIntList
	}
	return tString
}

// absentable reports whether variable k can be absent (its getter
// reports a value meaning "not seen": grpc_status -1, a zero time). CEL
// fails on an absent variable, which a filter reads as false, so a
// comparison with one is false either way round, and under a negation
// only CEL gives the answer.
func absentable(k varKind) bool { return k == vGRPCStatus || typeOf(k) == tTime }

// values is how both evaluators read variables: CEL through ResolveName,
// native predicates directly. One implementation per subject (exchange,
// flow) keeps the two evaluators in agreement by construction.
type values interface {
	interpreter.Activation
	str(k varKind) string
	num(k varKind) int64
	dur(k varKind) time.Duration
	hdr(k varKind) headerMap
	// hdrRef is hdr for CEL: a pointer to a copy kept in the activation,
	// so handing the map to CEL as an interface does not allocate (a
	// boxed headerMap is a 48-byte allocation per exchange). It is valid
	// until the activation is reset.
	hdrRef(k varKind) *headerMap
	flag(k varKind) bool
	// when is the zero time when the variable is absent.
	when(k varKind) time.Time
	// strs and ints are list variables; ints may allocate (interim),
	// so only filters that mention the variable pay for it.
	strs(k varKind) []string
	ints(k varKind) []int64
}

// resolve is the shared ResolveName: it boxes the typed value of a
// declared variable as a CEL value.
func resolve(v values, name string) (any, bool) {
	k, ok := lookup(name)
	if !ok {
		return nil, false
	}
	switch typeOf(k) {
	case tInt:
		n := v.num(k)
		if k == vGRPCStatus && n < 0 {
			// Absent: CEL reports an error, which a filter reads as
			// false, so `grpc_status != 0` means failed gRPC calls.
			return nil, false
		}
		return types.Int(n), true
	case tDuration:
		return types.Duration{Duration: v.dur(k)}, true
	case tHeaders:
		return v.hdrRef(k), true
	case tBool:
		return types.Bool(v.flag(k)), true
	case tTime:
		t := v.when(k)
		if t.IsZero() {
			return nil, false // absent, as grpc_status
		}
		return types.Timestamp{Time: t}, true
	case tStrList:
		return types.NewStringList(types.DefaultTypeAdapter, v.strs(k)), true
	case tIntList:
		return types.NewDynamicList(types.DefaultTypeAdapter, v.ints(k)), true
	}
	return types.String(v.str(k)), true
}

// exchangeVars resolves variables of one exchange on demand. CEL asks only
// for the names the program references, so an exchange costs what the
// filter reads: `status >= 500` never builds a URL or decodes a body.
// Bodies are cached for the length of one evaluation because a filter may
// mention them twice.
type exchangeVars struct {
	e                 *decode.Exchange
	reqBody, respBody string
	haveReq, haveResp bool
	maps              [2]headerMap // hdrRef's copies: request, response
}

var _ values = (*exchangeVars)(nil)

// reset points the activation at another exchange, so one activation
// serves a whole batch without allocating.
func (a *exchangeVars) reset(e *decode.Exchange) {
	*a = exchangeVars{e: e}
}

// Parent is nil: exchange variables are the whole scope.
func (a *exchangeVars) Parent() interpreter.Activation { return nil }

// ResolveName returns the CEL value of a declared variable.
func (a *exchangeVars) ResolveName(name string) (any, bool) { return resolve(a, name) }

func (a *exchangeVars) str(k varKind) string {
	e := a.e
	switch k {
	case vProto:
		return e.Proto
	case vMethod:
		return e.Method()
	case vHost:
		return e.Host()
	case vPath:
		if e.Query != nil {
			return e.Path() // SQL text or key: a '?' is a placeholder, not a query string
		}
		p, _ := splitTarget(e.Path())
		return p
	case vQuery:
		if e.Query != nil {
			return ""
		}
		_, q := splitTarget(e.Path())
		return q
	case vURL:
		return string(appendURL(nil, e))
	case vRoute:
		return route.Shown(e)
	case vGRPCService:
		if e.GRPC != nil {
			return e.GRPC.Service
		}
	case vGRPCMethod:
		if e.GRPC != nil {
			return e.GRPC.Method
		}
	case vReqBody:
		if !a.haveReq {
			a.reqBody, a.haveReq = bodyText(e.Request), true
		}
		return a.reqBody
	case vRespBody:
		if !a.haveResp {
			a.respBody, a.haveResp = bodyText(e.Response), true
		}
		return a.respBody
	case vContentType:
		if e.Response != nil {
			return e.Response.ContentType()
		}
	case vClientIP:
		return addrIP(e.Client)
	case vServerIP:
		return addrIP(e.Server)
	case vSNI:
		return e.SNI
	case vSource:
		return e.Source
	case vPod:
		return e.Pod
	case vNamespace:
		return e.Namespace
	case vState:
		return string(e.State)
	case vError:
		return e.Error
	case vDirection:
		return e.Direction
	case vLeg:
		return e.Leg
	case vReplyError:
		if e.Query != nil {
			return e.Query.ReplyError
		}
	case vClient:
		return addrPort(e.Client)
	case vServer:
		return addrPort(e.Server)
	case vReqContentType:
		if e.Request != nil {
			return e.Request.ContentType()
		}
	case vRespContentType:
		if e.Response != nil {
			return e.Response.ContentType()
		}
	case vGRPCMessage:
		if e.GRPC != nil {
			return e.GRPC.Message
		}
	case vDNSName, vDNSType, vDNSRcode:
		return dnsField(e.DNS, k)
	case vErrorCode, vDatabase, vDBUser, vClientID:
		return queryField(e.Query, k)
	}
	return ""
}

func (a *exchangeVars) num(k varKind) int64 {
	e := a.e
	switch k {
	case vStatus:
		return int64(e.Status())
	case vGRPCStatus:
		if e.GRPC == nil {
			return -1
		}
		return int64(e.GRPC.Status)
	case vReqSize:
		return bodySize(e.Request)
	case vRespSize:
		return bodySize(e.Response)
	case vClientPort:
		return int64(e.Client.Port())
	case vServerPort:
		return int64(e.Server.Port())
	case vRows:
		if e.Query != nil && e.Query.Rows > 0 {
			return e.Query.Rows
		}
	case vFlow:
		return int64(e.FlowID)
	case vReqBodyBytes:
		return bodySize(e.Request)
	case vRespBodyBytes:
		return bodySize(e.Response)
	case vStream:
		return int64(e.StreamID)
	case vLinked:
		return int64(e.Linked)
	case vReqMessages, vRespMessages:
		c, s := messageCounts(e)
		if k == vReqMessages {
			return c
		}
		return s
	case vBatches:
		if e.Query != nil {
			return int64(e.Query.Batches)
		}
	case vRecordBytes:
		if e.Query != nil {
			return e.Query.RecordBytes
		}
	}
	return 0
}

func (a *exchangeVars) dur(varKind) time.Duration { return a.e.Latency() }

func (a *exchangeVars) flag(k varKind) bool { return k == vTLS && a.e.TLS }

func (a *exchangeVars) when(k varKind) time.Time {
	if k == vEnd {
		return a.e.End
	}
	return a.e.Start
}

func (a *exchangeVars) strs(varKind) []string {
	if a.e.DNS == nil {
		return nil
	}
	return a.e.DNS.Answers
}

func (a *exchangeVars) ints(varKind) []int64 {
	if len(a.e.Interim) == 0 {
		return nil
	}
	out := make([]int64, len(a.e.Interim))
	for i, m := range a.e.Interim {
		out[i] = int64(m.Status)
	}
	return out
}

func (a *exchangeVars) hdrRef(k varKind) *headerMap {
	i := 0
	if k == vRespHeaders {
		i = 1
	}
	a.maps[i] = a.hdr(k)
	return &a.maps[i]
}

func (a *exchangeVars) hdr(k varKind) headerMap {
	m := a.e.Request
	if k == vRespHeaders {
		m = a.e.Response
	}
	if m == nil {
		return headerMap{}
	}
	return headerMap{a: m.Headers, b: m.Trailers}
}

// flowVars resolves variables of a flow. Variables that only make sense
// for exchanges hold zero values (grpc_status -1, as on an exchange
// without gRPC), so one filter can run over both lists.
type flowVars struct {
	f *decode.Flow
}

var _ values = (*flowVars)(nil)

// Parent is nil: flow variables are the whole scope.
func (a *flowVars) Parent() interpreter.Activation { return nil }

// ResolveName returns the CEL value of a declared variable for a flow.
func (a *flowVars) ResolveName(name string) (any, bool) { return resolve(a, name) }

func (a *flowVars) str(k varKind) string {
	f := a.f
	switch k {
	case vProto:
		if f.Proto == "" {
			return f.Transport
		}
		return f.Proto
	case vHost, vURL:
		return flowHost(f)
	case vClientIP:
		return addrIP(f.Client)
	case vServerIP:
		return addrIP(f.Server)
	case vSNI:
		return flowSNI(f)
	case vSource:
		return f.Source
	case vPod:
		return f.Pod
	case vNamespace:
		return f.Namespace
	case vState:
		return string(f.State)
	case vError:
		return f.Error
	case vDirection:
		return f.Direction
	case vLeg:
		return f.Leg
	case vClient:
		return addrPort(f.Client)
	case vServer:
		return addrPort(f.Server)
	case vTransport:
		return f.Transport
	case vOrigDst:
		if f.OrigDst != nil {
			return addrPort(*f.OrigDst)
		}
	case vTunnel, vTunnelClientNode, vTunnelServerNode:
		return tunnelField(f.Tunnel, k)
	}
	return ""
}

func (a *flowVars) num(k varKind) int64 {
	f := a.f
	switch k {
	case vClientPort:
		return int64(f.Client.Port())
	case vServerPort:
		return int64(f.Server.Port())
	case vGRPCStatus:
		return -1
	case vFlow:
		return int64(f.ID)
	case vLinked:
		return int64(f.Linked)
	case vPackets:
		return f.PacketsC2S + f.PacketsS2C
	case vBytesC2S:
		return f.BytesC2S
	case vBytesS2C:
		return f.BytesS2C
	case vTunnelID:
		if f.Tunnel != nil && f.Tunnel.HasID {
			return int64(f.Tunnel.ID)
		}
	}
	return 0
}

func (a *flowVars) dur(varKind) time.Duration { return 0 }

func (a *flowVars) flag(k varKind) bool { return k == vPartial && a.f.Partial }

func (a *flowVars) when(k varKind) time.Time {
	if k == vEnd {
		return a.f.Last
	}
	return a.f.First
}

func (a *flowVars) strs(varKind) []string { return nil }

func (a *flowVars) ints(varKind) []int64 { return nil }

func (a *flowVars) hdr(varKind) headerMap { return headerMap{} }

func (a *flowVars) hdrRef(varKind) *headerMap { return &headerMap{} }

// lowerASCII lower-cases a header name; names are ASCII tokens, and the
// common already-lower case returns s without allocating.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
