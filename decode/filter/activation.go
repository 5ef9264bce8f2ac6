package filter

import (
	"strings"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"

	"github.com/tapview/tapview/decode"
)

// exchangeVars resolves variables of one exchange on demand. CEL asks only
// for the names the program references, so an exchange costs what the
// filter reads: `status >= 500` never builds a URL or decodes a body.
// Bodies are cached for the length of one evaluation because a filter may
// mention them twice.
type exchangeVars struct {
	e                 *decode.Exchange
	reqBody, respBody string
	haveReq, haveResp bool
}

var _ interpreter.Activation = (*exchangeVars)(nil)

// reset points the activation at another exchange, so one activation
// serves a whole batch without allocating.
func (a *exchangeVars) reset(e *decode.Exchange) {
	*a = exchangeVars{e: e}
}

// Parent is nil: exchange variables are the whole scope.
func (a *exchangeVars) Parent() interpreter.Activation { return nil }

// ResolveName returns the CEL value of a declared variable.
func (a *exchangeVars) ResolveName(name string) (any, bool) {
	k, ok := lookup(name)
	if !ok {
		return nil, false
	}
	e := a.e
	switch k {
	case vProto:
		return types.String(e.Proto), true
	case vMethod:
		return types.String(e.Method()), true
	case vHost:
		return types.String(e.Host()), true
	case vPath, vQuery:
		p, q := splitTarget(e.Path())
		if k == vQuery {
			return types.String(q), true
		}
		return types.String(p), true
	case vURL:
		return types.String(appendURL(nil, e)), true
	case vStatus:
		return types.Int(e.Status()), true
	case vGRPCStatus:
		if e.GRPC == nil {
			return types.Int(-1), true
		}
		return types.Int(e.GRPC.Status), true
	case vGRPCService:
		if e.GRPC == nil {
			return types.String(""), true
		}
		return types.String(e.GRPC.Service), true
	case vGRPCMethod:
		if e.GRPC == nil {
			return types.String(""), true
		}
		return types.String(e.GRPC.Method), true
	case vLatency:
		return types.Duration{Duration: e.Latency()}, true
	case vReqSize:
		return types.Int(bodySize(e.Request)), true
	case vRespSize:
		return types.Int(bodySize(e.Response)), true
	case vReqHeaders:
		if e.Request == nil {
			return headerMap{}, true
		}
		return headerMap{a: e.Request.Headers, b: e.Request.Trailers}, true
	case vRespHeaders:
		if e.Response == nil {
			return headerMap{}, true
		}
		return headerMap{a: e.Response.Headers, b: e.Response.Trailers}, true
	case vReqBody:
		if !a.haveReq {
			a.reqBody, a.haveReq = bodyText(e.Request), true
		}
		return types.String(a.reqBody), true
	case vRespBody:
		if !a.haveResp {
			a.respBody, a.haveResp = bodyText(e.Response), true
		}
		return types.String(a.respBody), true
	case vContentType:
		if e.Response == nil {
			return types.String(""), true
		}
		return types.String(e.Response.ContentType()), true
	case vClientIP:
		return types.String(addrIP(e.Client)), true
	case vClientPort:
		return types.Int(e.Client.Port()), true
	case vServerIP:
		return types.String(addrIP(e.Server)), true
	case vServerPort:
		return types.Int(e.Server.Port()), true
	case vSNI:
		return types.String(e.SNI), true
	case vSource:
		return types.String(e.Source), true
	case vPod:
		return types.String(e.Pod), true
	case vNamespace:
		return types.String(e.Namespace), true
	case vState:
		return types.String(e.State), true
	case vError:
		return types.String(e.Error), true
	}
	return nil, false
}

// flowVars resolves variables of a flow. Variables that only make sense
// for exchanges hold zero values (grpc_status -1, as on an exchange
// without gRPC), so one filter can run over both lists.
type flowVars struct {
	f *decode.Flow
}

var _ interpreter.Activation = (*flowVars)(nil)

// Parent is nil: flow variables are the whole scope.
func (a *flowVars) Parent() interpreter.Activation { return nil }

// ResolveName returns the CEL value of a declared variable for a flow.
func (a *flowVars) ResolveName(name string) (any, bool) {
	k, ok := lookup(name)
	if !ok {
		return nil, false
	}
	f := a.f
	switch k {
	case vProto:
		if f.Proto == "" {
			return types.String(f.Transport), true
		}
		return types.String(f.Proto), true
	case vHost, vURL:
		return types.String(flowHost(f)), true
	case vClientIP:
		return types.String(addrIP(f.Client)), true
	case vClientPort:
		return types.Int(f.Client.Port()), true
	case vServerIP:
		return types.String(addrIP(f.Server)), true
	case vServerPort:
		return types.Int(f.Server.Port()), true
	case vSNI:
		return types.String(flowSNI(f)), true
	case vSource:
		return types.String(f.Source), true
	case vPod:
		return types.String(f.Pod), true
	case vNamespace:
		return types.String(f.Namespace), true
	case vState:
		return types.String(f.State), true
	case vError:
		return types.String(f.Error), true
	case vStatus, vReqSize, vRespSize:
		return types.IntZero, true
	case vGRPCStatus:
		return types.IntNegOne, true
	case vLatency:
		return types.Duration{}, true
	case vReqHeaders, vRespHeaders:
		return headerMap{}, true
	}
	return types.String(""), true
}

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
