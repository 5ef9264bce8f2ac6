// Package grpc reads the gRPC wire format out of HTTP/2 streams: it tells
// gRPC content types apart, splits a stream's DATA bytes into the
// length-prefixed messages gRPC sends (decompressing them when the peer
// used grpc-encoding), and reads service, method and status from the
// request path and the response headers or trailers.
//
// The functions are pure and incremental so the HTTP/2 parser can call
// them frame by frame as traffic arrives, without buffering whole bodies.
// Message payloads are kept as bytes; views decode them as schema-less
// protobuf when shown.
package grpc

import (
	"strconv"
	"strings"

	"github.com/tapview/tapview/decode"
)

// Name is the protocol name of gRPC exchanges (decode.Exchange.Proto).
const Name = "grpc"

// IsContentType reports whether a Content-Type header value names gRPC:
// "application/grpc" alone or with a "+codec" suffix ("+proto", "+json")
// and any parameters. gRPC-Web ("application/grpc-web...") frames
// trailers differently and is not matched.
func IsContentType(v string) bool {
	v = strings.TrimSpace(v)
	const base = "application/grpc"
	if len(v) < len(base) || !strings.EqualFold(v[:len(base)], base) {
		return false
	}
	rest := v[len(base):]
	return rest == "" || rest[0] == '+' || rest[0] == ';' || rest[0] == ' ' || rest[0] == '\t'
}

// ParsePath splits a gRPC request path "/package.Service/Method" into its
// fully qualified service and its method. ok is false when the path does
// not have that shape, so callers can leave the fields empty instead of
// showing a guess.
func ParsePath(path string) (service, method string, ok bool) {
	if len(path) < 4 || path[0] != '/' {
		return "", "", false
	}
	p := path[1:]
	i := strings.LastIndexByte(p, '/')
	if i <= 0 || i == len(p)-1 {
		return "", "", false
	}
	service, method = p[:i], p[i+1:]
	if strings.ContainsAny(method, "?#") {
		return "", "", false
	}
	return service, method, true
}

// Status finds grpc-status and grpc-message in the given header lists,
// searched in order (trailers first, then the headers of a trailers-only
// response). code is -1 when no valid grpc-status is present; msg is
// percent-decoded as the gRPC protocol specifies.
func Status(lists ...[]decode.Header) (code int, msg string) {
	code = -1
	haveMsg := false
	for _, hs := range lists {
		for _, h := range hs {
			switch {
			case code < 0 && strings.EqualFold(h.Name, "grpc-status"):
				if n, err := strconv.Atoi(strings.TrimSpace(h.Value)); err == nil && n >= 0 {
					code = n
				}
			case !haveMsg && strings.EqualFold(h.Name, "grpc-message"):
				msg, haveMsg = Unescape(h.Value), true
			}
		}
	}
	return code, msg
}

// Info builds the gRPC facts of an exchange from its messages: service
// and method from the request path, status and message from the
// response's trailers or, for a trailers-only response, its headers.
// Either message may be nil.
func Info(req, resp *decode.Message) *decode.GRPCInfo {
	g := &decode.GRPCInfo{Status: -1}
	if req != nil {
		g.Service, g.Method, _ = ParsePath(req.Target)
	}
	if resp != nil {
		g.Status, g.Message = Status(resp.Trailers, resp.Headers)
	}
	return g
}

// Unescape undoes the percent-encoding gRPC applies to grpc-message.
// Malformed escapes are kept as they are, because a status message is
// shown to a person and a lenient reading beats an empty one.
func Unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
