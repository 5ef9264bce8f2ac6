package kafka

import "github.com/tapview/tapview/decode"

// DetectRequest reports whether p starts with a Kafka request, for
// packet-export masking (export/streammask), which must pick the same
// connections this decoder takes.
func DetectRequest(p []byte) decode.Verdict { return detectRequest(p) }

// ClientSecret says where the secret of one client frame sits, for
// packet-export masking: head holds the frame's first bytes, size
// prefix included, and size is the whole frame's length with its
// prefix. Off and N locate the bytes to overwrite (N is 0 when the frame
// carries no secret): the auth bytes of a SaslAuthenticate request, or
// everything after the header of one that cannot be parsed. RawNext is
// set for a SaslHandshake v0 request, after which the client's next
// frame is a bare SASL token (all secret). More asks for a longer head.
type ClientSecret struct {
	Off, N  int
	RawNext bool
	More    bool
}

// FindClientSecret reads a client frame's head (see ClientSecret).
func FindClientSecret(head []byte, size int) ClientSecret {
	hd, v := peekHeader(head)
	if v == decode.NeedMore && len(head) < size {
		return ClientSecret{More: true}
	}
	if v != decode.Yes {
		return ClientSecret{}
	}
	switch {
	case hd.key == keySaslHandshake && hd.ver == 0:
		return ClientSecret{RawNext: true}
	case hd.key != keySaslAuthenticate:
		return ClientSecret{}
	}
	start := 4 + hd.hlen
	r := &reader{b: head[:min(len(head), size)], off: start, flex: flexible(hd.key, hd.ver)}
	n := r.length(true)
	switch {
	case r.err != nil && len(head) < size:
		return ClientSecret{More: true}
	case r.err != nil || n < 0 || r.off+n > size:
		// Unreadable: everything after the header is taken for secret.
		return ClientSecret{Off: start, N: max(size-start, 0)}
	}
	return ClientSecret{Off: r.off, N: n}
}
