package spill

import (
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/tapview/tapview/decode"
)

// codecVersion is the first byte of every encoded exchange. Spill files
// never outlive the process that wrote them, so the version exists to make
// a record written by a different layout fail loudly (for example a
// segment file copied into a bug report) rather than decode into garbage.
const codecVersion = 1

// Time encodings. UnixNano covers 1678..2262, which holds every capture
// timestamp; timeWide keeps other instants exact instead of wrapping.
const (
	timeZero = 0 // time.Time{}
	timeNano = 1 // varint unix nanoseconds
	timeWide = 2 // varint unix seconds, uvarint nanoseconds
)

// Address encodings: the family decides how many address bytes follow.
const (
	addrNone = 0 // invalid netip.Addr (the zero AddrPort may still carry a port)
	addrV4   = 4
	addrV6   = 6 // 16 bytes and a zone string
)

// Flag bits of one byte per struct, so adding a bool later needs no new
// byte and unknown bits are rejected (decoding stays canonical).
const (
	exFlagTLS  = 1 << 0
	exFlagSlim = 1 << 1
	exFlagMask = exFlagTLS | exFlagSlim

	msgFlagTruncated = 1 << 0
	msgFlagMasked    = 1 << 1
	msgFlagMask      = msgFlagTruncated | msgFlagMasked

	partFlagCompressed = 1 << 0
	partFlagTruncated  = 1 << 1
	partFlagFromClient = 1 << 2
	partFlagMask       = partFlagCompressed | partFlagTruncated | partFlagFromClient
)

// AppendExchange appends the binary encoding of e to b and returns the
// extended buffer. The format is documented in doc.go; DecodeExchange
// reverses it. A nil e encodes as an exchange with every field zero.
//
// Slices keep the difference between nil and empty (lengths are stored
// plus one, zero meaning nil), so a round trip is exact under
// reflect.DeepEqual except for time.Time values, which come back in UTC
// and without a monotonic reading (they compare equal with Time.Equal).
func AppendExchange(b []byte, e *decode.Exchange) []byte {
	if e == nil {
		e = &decode.Exchange{}
	}
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, e.ID)
	b = binary.AppendUvarint(b, e.FlowID)
	b = appendString(b, e.Source)
	b = appendString(b, e.Proto)
	b = binary.AppendUvarint(b, e.Version)
	b = appendAddrPort(b, e.Client)
	b = appendAddrPort(b, e.Server)
	b = appendTime(b, e.Start)
	b = appendTime(b, e.End)
	b = appendMessagePtr(b, e.Request)
	b = appendMessagePtr(b, e.Response)
	b = appendLen(b, len(e.Interim), e.Interim == nil)
	for _, m := range e.Interim {
		b = appendMessagePtr(b, m)
	}
	b = appendString(b, string(e.State))
	b = appendString(b, e.Error)
	b = appendAddrPort(b, e.Upstream)
	b = binary.AppendUvarint(b, uint64(e.StreamID))
	var flags byte
	if e.TLS {
		flags |= exFlagTLS
	}
	if e.Slim {
		flags |= exFlagSlim
	}
	b = append(b, flags)
	b = appendString(b, e.SNI)
	if e.GRPC == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendString(b, e.GRPC.Service)
		b = appendString(b, e.GRPC.Method)
		b = binary.AppendVarint(b, int64(e.GRPC.Status))
		b = appendString(b, e.GRPC.Message)
	}
	if e.DNS == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(e.DNS.ID))
		b = appendString(b, e.DNS.Name)
		b = appendString(b, e.DNS.Type)
		b = appendString(b, e.DNS.Rcode)
		b = appendLen(b, len(e.DNS.Answers), e.DNS.Answers == nil)
		for _, a := range e.DNS.Answers {
			b = appendString(b, a)
		}
	}
	b = appendString(b, e.Pod)
	b = appendString(b, e.Namespace)
	b = appendString(b, e.Leg)
	b = appendString(b, e.Direction)
	b = binary.AppendUvarint(b, e.Linked)
	if q := e.Query; q == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendString(b, q.ReplyError)
		b = appendString(b, q.ErrorCode)
		b = binary.AppendVarint(b, q.Rows)
		b = appendString(b, q.Database)
		b = appendString(b, q.User)
		b = appendString(b, q.ClientID)
		b = binary.AppendVarint(b, int64(q.Batches))
		b = binary.AppendVarint(b, q.RecordBytes)
		b = appendLen(b, len(q.TopicIDs), q.TopicIDs == nil)
		for _, t := range q.TopicIDs {
			b = append(b, t.ID[:]...)
			b = appendString(b, t.Name)
		}
	}
	return b
}

func appendMessagePtr(b []byte, m *decode.Message) []byte {
	if m == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = appendTime(b, m.First)
	b = appendTime(b, m.Last)
	b = appendString(b, m.Method)
	b = appendString(b, m.Target)
	b = appendString(b, m.Host)
	b = appendString(b, m.Scheme)
	b = binary.AppendVarint(b, int64(m.Status))
	b = appendString(b, m.Reason)
	b = appendString(b, m.Proto)
	b = appendHeaders(b, m.Headers)
	b = appendHeaders(b, m.Trailers)
	b = appendBytes(b, m.Body)
	b = binary.AppendVarint(b, m.BodySize)
	var flags byte
	if m.Truncated {
		flags |= msgFlagTruncated
	}
	if m.Masked {
		flags |= msgFlagMasked
	}
	b = append(b, flags)
	b = appendLen(b, len(m.ContentEncoding), m.ContentEncoding == nil)
	for _, c := range m.ContentEncoding {
		b = appendString(b, c)
	}
	b = binary.AppendVarint(b, m.DecodedSize)
	b = appendString(b, m.DecodeError)
	b = appendLen(b, len(m.Parts), m.Parts == nil)
	for i := range m.Parts {
		p := &m.Parts[i]
		b = appendTime(b, p.Time)
		b = appendString(b, p.Kind)
		var pf byte
		if p.Compressed {
			pf |= partFlagCompressed
		}
		if p.Truncated {
			pf |= partFlagTruncated
		}
		if p.FromClient {
			pf |= partFlagFromClient
		}
		b = append(b, pf)
		b = appendBytes(b, p.Data)
		b = binary.AppendVarint(b, p.Size)
	}
	return b
}

func appendHeaders(b []byte, hs []decode.Header) []byte {
	b = appendLen(b, len(hs), hs == nil)
	for _, h := range hs {
		b = appendString(b, h.Name)
		b = appendString(b, h.Value)
	}
	return b
}

// appendLen writes a slice length plus one, or zero for a nil slice, so
// that nil and empty survive a round trip.
func appendLen(b []byte, n int, isNil bool) []byte {
	if isNil {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, p []byte) []byte {
	b = appendLen(b, len(p), p == nil)
	return append(b, p...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, timeZero)
	}
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	if fitsNano(sec) {
		b = append(b, timeNano)
		return binary.AppendVarint(b, sec*1_000_000_000+nsec)
	}
	b = append(b, timeWide)
	b = binary.AppendVarint(b, sec)
	return binary.AppendUvarint(b, uint64(nsec))
}

func appendAddrPort(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr()
	switch {
	case a.Is4():
		b = append(b, addrV4)
		v := a.As4()
		b = append(b, v[:]...)
	case a.Is6():
		b = append(b, addrV6)
		v := a.As16()
		b = append(b, v[:]...)
		b = appendString(b, a.Zone())
	default:
		b = append(b, addrNone)
	}
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

// fitsNano reports whether instants in second sec can be stored as unix
// nanoseconds: UnixNano is only defined while sec*1e9+nsec fits an int64,
// and a margin of a second on each side keeps the check simple.
func fitsNano(sec int64) bool {
	return sec > math.MinInt64/1_000_000_000+1 && sec < math.MaxInt64/1_000_000_000-1
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
