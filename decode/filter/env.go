package filter

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

// Variable describes one name a filter can use. The list is exported so
// the UI can offer help and completion from the same table the compiler
// declares, instead of a copy that drifts.
type Variable struct {
	Name string
	// Type is the CEL type as a person reads it: "int", "string",
	// "duration" or "map(string, string)".
	Type string
	// Flow says whether flows have a value for it; exchange-only
	// variables hold their zero value (grpc_status: -1) on flows.
	Flow bool
	// Doc says what the variable holds.
	Doc string
}

// varKind identifies a variable inside the activations without comparing
// strings twice: ResolveName maps the name once per lookup.
type varKind uint8

const (
	vProto varKind = iota
	vMethod
	vHost
	vPath
	vQuery
	vURL
	vStatus
	vGRPCStatus
	vGRPCService
	vGRPCMethod
	vLatency
	vReqSize
	vRespSize
	vReqHeaders
	vRespHeaders
	vReqBody
	vRespBody
	vContentType
	vClientIP
	vClientPort
	vServerIP
	vServerPort
	vSNI
	vSource
	vPod
	vNamespace
	vState
	vError
	vDirection
	vLeg
	vReplyError
	vRows
	numVars
)

type varDecl struct {
	kind varKind
	typ  *cel.Type
	// cel is the name declared to CEL; it differs from Name only where
	// CEL reserves the word (see nsInternal).
	cel string
	Variable
}

// nsInternal is the CEL name of the namespace variable. CEL reserves
// "namespace" as a keyword, so Compile rewrites the word to this
// same-length name outside string literals before parsing; columns in
// error messages stay those of the text the user typed.
const nsInternal = "__ns_var_"

// declarations lists every variable in the order help shows them. It is
// built per call so nothing package-level is mutable.
func declarations() []varDecl {
	str, num := cel.StringType, cel.IntType
	hdr := cel.MapType(cel.StringType, cel.StringType)
	d := func(k varKind, name string, t *cel.Type, flow bool, doc string) varDecl {
		celName := name
		if name == "namespace" {
			celName = nsInternal
		}
		return varDecl{kind: k, typ: t, cel: celName, Variable: Variable{Name: name, Type: typeName(t), Flow: flow, Doc: doc}}
	}
	return []varDecl{
		d(vProto, "proto", str, true, `protocol: "http/1.1", "h2", "grpc", "dns", "ws", "redis", "postgres", "mysql", "kafka" (flows: detected protocol or transport)`),
		d(vMethod, "method", str, false, `request method, e.g. "GET"`),
		d(vHost, "host", str, true, "Host header or :authority, else the server address (flows: SNI, else server address)"),
		d(vPath, "path", str, false, `request path without the query, e.g. "/api/pets"`),
		d(vQuery, "query", str, false, `query string without "?"`),
		d(vURL, "url", str, true, "scheme://host + path and query; what a bare word searches (flows: host)"),
		d(vStatus, "status", num, false, "final response status code, 0 without a response"),
		d(vGRPCStatus, "grpc_status", num, false, "grpc-status code; absent when none was seen, so comparisons on it are false"),
		d(vGRPCService, "grpc_service", str, false, "gRPC service, e.g. \"helloworld.Greeter\""),
		d(vGRPCMethod, "grpc_method", str, false, "gRPC method, e.g. \"SayHello\""),
		d(vLatency, "latency", cel.DurationType, false, `first request byte to last response byte, compare with duration("250ms")`),
		d(vReqSize, "req_size", num, false, "request body size after removing content encoding"),
		d(vRespSize, "resp_size", num, false, "response body size after removing content encoding"),
		d(vReqHeaders, "req_headers", hdr, false, "request headers: lower-case names, repeated values joined with \", \""),
		d(vRespHeaders, "resp_headers", hdr, false, "response headers and trailers, like req_headers"),
		d(vReqBody, "req_body", str, false, "request body as text, content encoding removed, first 1 MiB"),
		d(vRespBody, "resp_body", str, false, "response body as text, content encoding removed, first 1 MiB"),
		d(vContentType, "content_type", str, false, `response media type without parameters, e.g. "application/json"`),
		d(vClientIP, "client_ip", str, true, "client address"),
		d(vClientPort, "client_port", num, true, "client port"),
		d(vServerIP, "server_ip", str, true, "server address"),
		d(vServerPort, "server_port", num, true, "server port"),
		d(vSNI, "sni", str, true, "TLS server name from the ClientHello"),
		d(vSource, "source", str, true, "where the traffic came from (file, pod, agent, sink)"),
		d(vPod, "pod", str, true, "Kubernetes pod, when known"),
		d(vNamespace, "namespace", str, true, "Kubernetes namespace, when known"),
		d(vState, "state", str, true, `exchange state ("complete", "partial", "reset", ...) or flow state ("open", "closed", ...)`),
		d(vError, "error", str, true, "decode or connection error, \"\" when none"),
		d(vDirection, "direction", str, true, `"inbound" or "outbound" relative to the captured pod, "" when unknown`),
		d(vLeg, "leg", str, true, `service-mesh leg: "app" (app to sidecar, plaintext) or "network" (sidecar to network, mTLS), "" without a mesh`),
		d(vReplyError, "reply_error", str, false, `database or queue error reply (Redis, PostgreSQL, MySQL, Kafka), "" when the reply was not an error`),
		d(vRows, "rows", num, false, "rows returned or affected (SQL), reply elements (Redis), records (Kafka); 0 when not known"),
	}
}

// Variables lists every variable a filter can use, for help text.
func Variables() []Variable {
	ds := declarations()
	out := make([]Variable, len(ds))
	for i, d := range ds {
		out[i] = d.Variable
	}
	return out
}

// typeName renders a CEL type for people: "int", "string", ...
func typeName(t *cel.Type) string {
	if t == cel.DurationType {
		return "duration"
	}
	return t.String()
}

// newEnv builds the CEL environment with every variable declared.
// Cross-type numeric comparison lets `status > 1.5` or `req_size > 1e6`
// compile instead of failing on int versus double; the string extension
// adds lowerAscii, split, trim and friends people reach for when matching
// names.
func newEnv(decls []varDecl) (*cel.Env, error) {
	opts := make([]cel.EnvOption, 0, len(decls)+2)
	for _, d := range decls {
		opts = append(opts, cel.Variable(d.cel, d.typ))
	}
	opts = append(opts, cel.CrossTypeNumericComparisons(true), ext.Strings())
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("filter: building the CEL environment: %w", err)
	}
	return env, nil
}

// rewriteReserved replaces the word "namespace" outside string literals
// with nsInternal, keeping every other byte (and so every column) as is.
func rewriteReserved(expr string) string { return rewriteWord(expr, "namespace", nsInternal) }

// rewriteWord replaces the identifier word outside string literals with
// with, which has the same length. Prefilter uses it the other way round
// to show a CEL expression in the words people type.
func rewriteWord(expr, word, with string) string {
	if !strings.Contains(expr, word) {
		return expr
	}
	b := []byte(expr)
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '"' || c == '\'':
			i = skipString(b, i)
		case isIdentByte(c):
			j := i
			for j < len(b) && isIdentByte(b[j]) {
				j++
			}
			if string(b[i:j]) == word {
				copy(b[i:j], with)
			}
			i = j
		default:
			i++
		}
	}
	return string(b)
}

// skipString returns the offset after the CEL string literal starting at
// the quote at i: single or triple quoted, raw when prefixed by r or R.
func skipString(b []byte, i int) int {
	q := b[i]
	raw := i > 0 && (b[i-1] == 'r' || b[i-1] == 'R')
	if i+2 < len(b) && b[i+1] == q && b[i+2] == q {
		end := bytes.Index(b[i+3:], []byte{q, q, q})
		if end < 0 {
			return len(b)
		}
		return i + 3 + end + 3
	}
	for j := i + 1; j < len(b); j++ {
		switch {
		case b[j] == '\\' && !raw:
			j++
		case b[j] == q:
			return j + 1
		}
	}
	return len(b)
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
