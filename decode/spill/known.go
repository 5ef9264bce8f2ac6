package spill

// known returns a constant string equal to b for the header names and
// values, methods, protocols and states that make up most strings of a
// typical exchange. Get decodes whole exchanges for views and body
// filters; sharing these constants saves about half of its allocations
// and the memory of every copy a caller keeps. The switch compiles to a
// comparison without converting b.
func known(b []byte) (string, bool) {
	if len(b) == 0 {
		return "", true
	}
	if len(b) > 32 {
		return "", false
	}
	switch string(b) {
	// Methods, protocols, states.
	case "GET":
		return "GET", true
	case "POST":
		return "POST", true
	case "PUT":
		return "PUT", true
	case "DELETE":
		return "DELETE", true
	case "HEAD":
		return "HEAD", true
	case "OPTIONS":
		return "OPTIONS", true
	case "PATCH":
		return "PATCH", true
	case "HTTP/1.1":
		return "HTTP/1.1", true
	case "HTTP/1.0":
		return "HTTP/1.0", true
	case "HTTP/2":
		return "HTTP/2", true
	case "http/1.1":
		return "http/1.1", true
	case "http/1.0":
		return "http/1.0", true
	case "h2":
		return "h2", true
	case "grpc":
		return "grpc", true
	case "dns":
		return "dns", true
	case "ws":
		return "ws", true
	case "http":
		return "http", true
	case "https":
		return "https", true
	case "OK":
		return "OK", true
	case "complete":
		return "complete", true
	case "partial":
		return "partial", true
	case "pending":
		return "pending", true
	case "orphan":
		return "orphan", true
	case "reset":
		return "reset", true
	case "text":
		return "text", true
	case "binary":
		return "binary", true
	// Header names as HTTP/1 spells them.
	case "Host":
		return "Host", true
	case "User-Agent":
		return "User-Agent", true
	case "Accept":
		return "Accept", true
	case "Accept-Encoding":
		return "Accept-Encoding", true
	case "Accept-Language":
		return "Accept-Language", true
	case "Authorization":
		return "Authorization", true
	case "Cache-Control":
		return "Cache-Control", true
	case "Connection":
		return "Connection", true
	case "Content-Encoding":
		return "Content-Encoding", true
	case "Content-Length":
		return "Content-Length", true
	case "Content-Type":
		return "Content-Type", true
	case "Cookie":
		return "Cookie", true
	case "Date":
		return "Date", true
	case "ETag":
		return "ETag", true
	case "Last-Modified":
		return "Last-Modified", true
	case "Location":
		return "Location", true
	case "Server":
		return "Server", true
	case "Set-Cookie":
		return "Set-Cookie", true
	case "Transfer-Encoding":
		return "Transfer-Encoding", true
	case "Vary":
		return "Vary", true
	// Header names as HTTP/2 and Envoy spell them.
	case ":method":
		return ":method", true
	case ":path":
		return ":path", true
	case ":scheme":
		return ":scheme", true
	case ":authority":
		return ":authority", true
	case ":status":
		return ":status", true
	case "accept":
		return "accept", true
	case "accept-encoding":
		return "accept-encoding", true
	case "content-length":
		return "content-length", true
	case "content-type":
		return "content-type", true
	case "date":
		return "date", true
	case "server":
		return "server", true
	case "te":
		return "te", true
	case "user-agent":
		return "user-agent", true
	case "grpc-encoding":
		return "grpc-encoding", true
	case "grpc-message":
		return "grpc-message", true
	case "grpc-status":
		return "grpc-status", true
	case "x-envoy-upstream-service-time":
		return "x-envoy-upstream-service-time", true
	case "x-forwarded-proto":
		return "x-forwarded-proto", true
	case "x-request-id":
		return "x-request-id", true
	// Common values.
	case "application/json":
		return "application/json", true
	case "application/grpc":
		return "application/grpc", true
	case "chunked":
		return "chunked", true
	case "close":
		return "close", true
	case "gzip":
		return "gzip", true
	case "keep-alive":
		return "keep-alive", true
	case "trailers":
		return "trailers", true
	case "0":
		return "0", true
	case "*/*":
		return "*/*", true
	}
	return "", false
}
