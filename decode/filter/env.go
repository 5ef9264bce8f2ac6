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
	// "bool", "duration", "timestamp", "list(string)", "list(int)" or
	// "map(string, string)".
	Type string
	// Exchange and Flow say which subjects have a value for it: one
	// filter runs over both lists, so a variable of the other kind holds
	// its zero value there (absent for grpc_status and the times).
	Exchange, Flow bool
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
	// Named after the JSON fields of export/jsonl (schema_test.go holds
	// the two together).
	vFlow
	vStart
	vEnd
	vClient
	vServer
	vInterim
	vReqBodyBytes
	vRespBodyBytes
	vReqContentType
	vRespContentType
	vStream
	vTLS
	vGRPCMessage
	vReqMessages
	vRespMessages
	vDNSName
	vDNSType
	vDNSRcode
	vDNSAnswers
	vErrorCode
	vDatabase
	vDBUser
	vClientID
	vBatches
	vRecordBytes
	vLinked
	vTransport
	vOrigDst
	vPackets
	vBytesC2S
	vBytesS2C
	vPartial
	vTunnel
	vTunnelID
	vTunnelClientNode
	vTunnelServerNode
	vRoute
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
	str, num, flag := cel.StringType, cel.IntType, cel.BoolType
	hdr := cel.MapType(cel.StringType, cel.StringType)
	const (
		ex   = 1 << iota // exchanges have a value
		fl               // flows have a value
		both = ex | fl
	)
	d := func(k varKind, name string, t *cel.Type, scope int, doc string) varDecl {
		celName := name
		if name == "namespace" {
			celName = nsInternal
		}
		return varDecl{kind: k, typ: t, cel: celName, Variable: Variable{
			Name: name, Type: typeName(t), Exchange: scope&ex != 0, Flow: scope&fl != 0, Doc: doc,
		}}
	}
	return []varDecl{
		d(vProto, "proto", str, both, `protocol: "http/1.1", "h2", "grpc", "dns", "ws", "redis", "postgres", "mysql", "kafka" (flows: detected protocol, else the transport)`),
		d(vMethod, "method", str, ex, `request method, e.g. "GET"`),
		d(vHost, "host", str, both, "Host header or :authority, else the server address (flows: SNI, else server address)"),
		d(vPath, "path", str, ex, `request path without the query, e.g. "/api/pets" (the JSON path is the whole target: path + "?" + query)`),
		d(vRoute, "route", str, ex, `host, method and path, SQL, key or name with per-call parts collapsed, as the stats view groups it, e.g. "api.example.com GET /pets/{id}"`),
		d(vQuery, "query", str, ex, `query string without "?"`),
		d(vURL, "url", str, both, "scheme://host + path and query; what a bare word searches (flows: host)"),
		d(vStatus, "status", num, ex, "final response status code, 0 without a response"),
		d(vInterim, "interim", cel.ListType(num), ex, "1xx statuses before the final one, e.g. 100 in interim"),
		d(vGRPCStatus, "grpc_status", num, ex, "grpc-status code; absent when none was seen, so comparisons on it are false"),
		d(vGRPCService, "grpc_service", str, ex, "gRPC service, e.g. \"helloworld.Greeter\""),
		d(vGRPCMethod, "grpc_method", str, ex, "gRPC method, e.g. \"SayHello\""),
		d(vGRPCMessage, "grpc_message", str, ex, "grpc-message text, \"\" when none"),
		d(vReqMessages, "req_messages", num, ex, "gRPC messages or WebSocket frames the client sent"),
		d(vRespMessages, "resp_messages", num, ex, "gRPC messages or WebSocket frames the server sent"),
		d(vLatency, "latency", cel.DurationType, ex, `first request byte to last response byte, compare with duration("250ms") (the JSON's duration_ms)`),
		d(vStart, "start", cel.TimestampType, both, `first byte (flows: first packet); compare with timestamp("2026-01-01T00:00:00Z"); absent when unknown`),
		d(vEnd, "end", cel.TimestampType, both, "last byte seen (flows: last packet); absent when unknown"),
		d(vReqSize, "req_size", num, ex, "request body size after removing content encoding"),
		d(vRespSize, "resp_size", num, ex, "response body size after removing content encoding"),
		d(vReqBodyBytes, "req_body_bytes", num, ex, "req_size under its JSON name"),
		d(vRespBodyBytes, "resp_body_bytes", num, ex, "resp_size under its JSON name"),
		d(vReqHeaders, "req_headers", hdr, ex, "request headers and trailers: lower-case names, repeated values joined with \", \""),
		d(vRespHeaders, "resp_headers", hdr, ex, "response headers and trailers, like req_headers"),
		d(vReqBody, "req_body", str, ex, "request body as text, content encoding removed, first 1 MiB"),
		d(vRespBody, "resp_body", str, ex, "response body as text, content encoding removed, first 1 MiB"),
		d(vContentType, "content_type", str, ex, `response media type without parameters, e.g. "application/json"`),
		d(vReqContentType, "req_content_type", str, ex, "request media type without parameters"),
		d(vRespContentType, "resp_content_type", str, ex, "content_type under its JSON name"),
		d(vStream, "stream", num, ex, "HTTP/2 stream id, 0 for other protocols"),
		d(vTLS, "tls", flag, ex, "true when the exchange was decrypted from TLS"),
		d(vDNSName, "dns_name", str, ex, `DNS query name, e.g. "api.example.com"`),
		d(vDNSType, "dns_type", str, ex, `DNS query type, e.g. "A", "AAAA"`),
		d(vDNSRcode, "dns_rcode", str, ex, `DNS response code, e.g. "NXDOMAIN"; "" without a response`),
		d(vDNSAnswers, "dns_answers", cel.ListType(str), ex, `DNS answers as text, e.g. "10.0.0.7" in dns_answers`),
		d(vClient, "client", str, both, `client "ip:port"`),
		d(vServer, "server", str, both, `server "ip:port"`),
		d(vClientIP, "client_ip", str, both, "client address"),
		d(vClientPort, "client_port", num, both, "client port"),
		d(vServerIP, "server_ip", str, both, "server address"),
		d(vServerPort, "server_port", num, both, "server port"),
		d(vSNI, "sni", str, both, "TLS server name from the ClientHello"),
		d(vSource, "source", str, both, "where the traffic came from (file, pod, agent, sink)"),
		d(vFlow, "flow", num, both, "id of the exchange's flow (flows: their own id), so flow == 12 shows a flow and its exchanges"),
		d(vPod, "pod", str, both, "Kubernetes pod, when known"),
		d(vNamespace, "namespace", str, both, "Kubernetes namespace, when known"),
		d(vState, "state", str, both, `exchange state ("complete", "partial", "reset", ...) or flow state ("open", "closed", ...)`),
		d(vError, "error", str, both, "decode or connection error, \"\" when none"),
		d(vDirection, "direction", str, both, `"inbound" or "outbound" relative to the captured pod, "" when unknown`),
		d(vLeg, "leg", str, both, `service-mesh leg: "app" (app to sidecar, plaintext) or "network" (sidecar to network, mTLS), "" without a mesh`),
		d(vLinked, "linked", num, both, "the flow carrying the same request or connection on the other mesh leg, 0 when none"),
		d(vReplyError, "reply_error", str, ex, `database or queue error reply (Redis, PostgreSQL, MySQL, Kafka), "" when the reply was not an error`),
		d(vErrorCode, "error_code", str, ex, `machine-readable part of reply_error: Redis prefix, SQLSTATE, MySQL error number, Kafka code`),
		d(vRows, "rows", num, ex, "rows returned or affected (SQL), reply elements (Redis), records (Kafka); 0 when not known"),
		d(vDatabase, "database", str, ex, "PostgreSQL database, MySQL schema or Redis DB index of the connection, when seen"),
		d(vDBUser, "db_user", str, ex, "database login user of the connection, when seen"),
		d(vClientID, "client_id", str, ex, "Kafka client id"),
		d(vBatches, "batches", num, ex, "Kafka record batches"),
		d(vRecordBytes, "record_bytes", num, ex, "size of the Kafka record batches on the wire"),
		d(vTransport, "transport", str, fl, `"tcp" or "udp"`),
		d(vOrigDst, "orig_dst", str, fl, `"ip:port" the client dialled when the capture shows it redirected to a sidecar, "" otherwise`),
		d(vPackets, "packets", num, fl, "packets in both directions"),
		d(vBytesC2S, "bytes_c2s", num, fl, "payload bytes client to server"),
		d(vBytesS2C, "bytes_s2c", num, fl, "payload bytes server to client"),
		d(vPartial, "partial", flag, fl, "true when the connection was joined mid-stream"),
		d(vTunnel, "tunnel", str, fl, `encapsulation of a node capture: "vxlan", "geneve", "gre", "ipip"; "" when not tunnelled`),
		d(vTunnelID, "tunnel_id", num, fl, "VXLAN or Geneve VNI, GRE key; 0 when none"),
		d(vTunnelClientNode, "tunnel_client_node", str, fl, "node address on the client side of the tunnel"),
		d(vTunnelServerNode, "tunnel_server_node", str, fl, "node address on the server side of the tunnel"),
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
	switch t {
	case cel.DurationType:
		return "duration"
	case cel.TimestampType:
		return "timestamp"
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
