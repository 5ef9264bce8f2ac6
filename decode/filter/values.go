package filter

import (
	"bytes"
	"net/netip"
	"strings"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// maxBodyText caps req_body and resp_body: a filter scans the start of a
// body, never an unbounded decompression.
const maxBodyText = 1 << 20

// lookup maps a variable name to its kind. A switch keeps ResolveName free
// of map hashing and allocation on the per-exchange path.
func lookup(name string) (varKind, bool) {
	switch name {
	case "proto":
		return vProto, true
	case "method":
		return vMethod, true
	case "host":
		return vHost, true
	case "path":
		return vPath, true
	case "query":
		return vQuery, true
	case "route":
		return vRoute, true
	case "url":
		return vURL, true
	case "status":
		return vStatus, true
	case "grpc_status":
		return vGRPCStatus, true
	case "grpc_service":
		return vGRPCService, true
	case "grpc_method":
		return vGRPCMethod, true
	case "latency":
		return vLatency, true
	case "req_size":
		return vReqSize, true
	case "resp_size":
		return vRespSize, true
	case "req_headers":
		return vReqHeaders, true
	case "resp_headers":
		return vRespHeaders, true
	case "req_body":
		return vReqBody, true
	case "resp_body":
		return vRespBody, true
	case "content_type":
		return vContentType, true
	case "client_ip":
		return vClientIP, true
	case "client_port":
		return vClientPort, true
	case "server_ip":
		return vServerIP, true
	case "server_port":
		return vServerPort, true
	case "sni":
		return vSNI, true
	case "source":
		return vSource, true
	case "pod":
		return vPod, true
	case nsInternal:
		return vNamespace, true
	case "state":
		return vState, true
	case "error":
		return vError, true
	case "direction":
		return vDirection, true
	case "leg":
		return vLeg, true
	case "reply_error":
		return vReplyError, true
	case "rows":
		return vRows, true
	case "flow":
		return vFlow, true
	case "start":
		return vStart, true
	case "end":
		return vEnd, true
	case "client":
		return vClient, true
	case "server":
		return vServer, true
	case "interim":
		return vInterim, true
	case "req_body_bytes":
		return vReqBodyBytes, true
	case "resp_body_bytes":
		return vRespBodyBytes, true
	case "req_content_type":
		return vReqContentType, true
	case "resp_content_type":
		return vRespContentType, true
	case "stream":
		return vStream, true
	case "tls":
		return vTLS, true
	case "grpc_message":
		return vGRPCMessage, true
	case "req_messages":
		return vReqMessages, true
	case "resp_messages":
		return vRespMessages, true
	case "dns_name":
		return vDNSName, true
	case "dns_type":
		return vDNSType, true
	case "dns_rcode":
		return vDNSRcode, true
	case "dns_answers":
		return vDNSAnswers, true
	case "error_code":
		return vErrorCode, true
	case "database":
		return vDatabase, true
	case "db_user":
		return vDBUser, true
	case "client_id":
		return vClientID, true
	case "batches":
		return vBatches, true
	case "record_bytes":
		return vRecordBytes, true
	case "linked":
		return vLinked, true
	case "transport":
		return vTransport, true
	case "orig_dst":
		return vOrigDst, true
	case "packets":
		return vPackets, true
	case "bytes_c2s":
		return vBytesC2S, true
	case "bytes_s2c":
		return vBytesS2C, true
	case "partial":
		return vPartial, true
	case "tunnel":
		return vTunnel, true
	case "tunnel_id":
		return vTunnelID, true
	case "tunnel_client_node":
		return vTunnelClientNode, true
	case "tunnel_server_node":
		return vTunnelServerNode, true
	}
	return 0, false
}

// appendURL appends scheme://host + target of e to dst. Absolute-form
// targets (proxies) are used as sent; exchanges without a request (DNS,
// orphan responses) use the host alone. Building into a caller buffer
// lets the bare-word path search URLs without allocating.
func appendURL(dst []byte, e *decode.Exchange) []byte {
	r := e.Request
	if r == nil {
		return append(dst, e.Host()...)
	}
	t := r.Target
	if hasScheme(t) || r.Method == "CONNECT" {
		return append(dst, t...)
	}
	scheme := r.Scheme
	if scheme == "" {
		scheme = "http"
		if e.TLS {
			scheme = "https"
		}
	}
	dst = append(dst, scheme...)
	dst = append(dst, "://"...)
	dst = append(dst, e.Host()...)
	return append(dst, t...)
}

// hasScheme reports whether a request target is in absolute form.
func hasScheme(t string) bool {
	if t == "" || t[0] == '/' || t[0] == '*' {
		return false // origin form, the common case
	}
	i := strings.Index(t, "://")
	if i <= 0 {
		return false
	}
	for j := 0; j < i; j++ {
		c := t[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// splitTarget returns the path and query of a request target, dropping
// the scheme and authority of absolute-form targets and any fragment.
func splitTarget(t string) (path, query string) {
	if hasScheme(t) {
		rest := t[strings.Index(t, "://")+3:]
		if i := strings.IndexAny(rest, "/?"); i >= 0 {
			t = rest[i:]
		} else {
			t = ""
		}
	}
	if i := strings.IndexByte(t, '#'); i >= 0 {
		t = t[:i]
	}
	if i := strings.IndexByte(t, '?'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return t, ""
}

// addrIP renders an address for filters: IPv4-mapped IPv6 addresses are
// shown as IPv4 so `client_ip == "10.0.0.1"` works on dual-stack captures.
func addrIP(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.Addr().Unmap().String()
}

// bodySize is a message's body size after removing content codings, by
// the rule of the JSON's req_body_bytes: the decoded size when the
// decoder recorded one (gzip inflated, WebSocket frames unmasked and
// inflated), else the transferred size (decoding failed, or a message
// built without DecodedSize). The transferred size is the larger of
// BodySize and the kept body, so a summary, which has no body, reads the
// same.
func bodySize(m *decode.Message) int64 {
	if m == nil {
		return 0
	}
	transferred := max(m.BodySize, int64(len(m.Body)))
	n := m.DecodedSize
	if n < 0 || n == 0 && transferred > 0 && len(m.ContentEncoding) == 0 {
		return transferred
	}
	return n
}

// bodyText is a message's content as text for req_body/resp_body: framed
// parts (gRPC messages, WebSocket frames) joined by newlines when there
// are any, else the body with content codings removed, at most
// maxBodyText bytes. A body that does not decode yields what decoded
// before the problem.
func bodyText(m *decode.Message) string {
	if m == nil {
		return ""
	}
	if len(m.Parts) > 0 {
		var b strings.Builder
		for i, p := range m.Parts {
			if i > 0 {
				b.WriteByte('\n')
			}
			room := maxBodyText - b.Len()
			if room <= 0 {
				break
			}
			d := p.Data
			if len(d) > room {
				d = d[:room]
			}
			b.Write(d)
		}
		return b.String()
	}
	data := m.Body
	if body.NeedsDecoding(m.ContentEncoding) {
		out, _ := body.Decode(m.ContentEncoding, data, maxBodyText)
		data = out
	}
	if len(data) > maxBodyText {
		data = data[:maxBodyText]
	}
	return string(data)
}

// flowHost is what a flow shows as its host: the TLS server name when
// known, else the server address.
func flowHost(f *decode.Flow) string {
	if s := flowSNI(f); s != "" {
		return s
	}
	if f.Server.IsValid() {
		return f.Server.String()
	}
	return ""
}

// flowSNI is the flow's server name from either place the TLS parser may
// have put it.
func flowSNI(f *decode.Flow) string {
	if f.SNI != "" {
		return f.SNI
	}
	if f.TLS != nil {
		return f.TLS.SNI
	}
	return ""
}

// containsFold reports whether s contains the lower-case needle,
// ignoring ASCII case in s. s is lower-cased in place (callers pass a
// scratch buffer) so the search itself is the vectorised bytes.Index.
// Non-ASCII needles fall back to Unicode lower-casing.
func containsFold(s []byte, needle string) bool {
	if !isASCII(needle) {
		return strings.Contains(strings.ToLower(string(s)), needle)
	}
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			s[i] = c + 'a' - 'A'
		}
	}
	return bytes.Contains(s, []byte(needle))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// addrPort renders an endpoint as the JSON does ("ip:port", IPv6 in
// brackets), "" when unknown.
func addrPort(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// dnsField is dns_name, dns_type or dns_rcode of d, "" without DNS.
func dnsField(d *decode.DNSInfo, k varKind) string {
	if d == nil {
		return ""
	}
	switch k {
	case vDNSName:
		return d.Name
	case vDNSType:
		return d.Type
	}
	return d.Rcode
}

// queryField is a string fact of a database or queue exchange, "" for
// other protocols.
func queryField(q *decode.QueryInfo, k varKind) string {
	if q == nil {
		return ""
	}
	switch k {
	case vErrorCode:
		return q.ErrorCode
	case vDatabase:
		return q.Database
	case vDBUser:
		return q.User
	}
	return q.ClientID
}

// tunnelField is tunnel, tunnel_client_node or tunnel_server_node of a
// flow, "" when it was not tunnelled.
func tunnelField(t *decode.Tunnel, k varKind) string {
	if t == nil {
		return ""
	}
	a := t.ServerNode
	switch k {
	case vTunnel:
		return t.Kind
	case vTunnelClientNode:
		a = t.ClientNode
	}
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// messageCounts counts the framed messages of a gRPC call or the frames
// of a WebSocket connection by direction. WebSocket keeps the frames of
// both directions in Response.Parts, marked FromClient; other protocols'
// parts (DNS record lines) are not messages and count 0.
func messageCounts(e *decode.Exchange) (client, server int64) {
	if e.GRPC == nil && e.Proto != "ws" {
		return 0, 0
	}
	if e.Request != nil {
		client = int64(len(e.Request.Parts))
	}
	if e.Response != nil {
		for _, p := range e.Response.Parts {
			if p.FromClient {
				client++
			} else {
				server++
			}
		}
	}
	return client, server
}
