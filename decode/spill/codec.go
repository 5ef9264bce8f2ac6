package spill

import (
	"encoding/binary"
	"errors"
	"fmt"
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

// ErrMalformed is wrapped by every DecodeExchange error: the bytes are not
// an encoding AppendExchange could have produced.
var ErrMalformed = errors.New("malformed exchange encoding")

// DecodeExchange parses an encoding made by AppendExchange. It never panics,
// and it allocates in proportion to len(b): every length is checked against
// the bytes that remain before anything is allocated for it. The result
// shares no memory with b. Trailing bytes are an error, so a successful
// decode re-encodes to exactly b.
func DecodeExchange(b []byte) (*decode.Exchange, error) {
	d := decoder{b: b}
	if v := d.byte("version"); d.err == nil && v != codecVersion {
		d.fail("version", fmt.Errorf("unsupported codec version %d", v))
	}
	e := &decode.Exchange{}
	e.ID = d.uvarint("ID")
	e.FlowID = d.uvarint("FlowID")
	e.Source = d.string("Source")
	e.Proto = d.string("Proto")
	e.Version = d.uvarint("Version")
	e.Client = d.addrPort("Client")
	e.Server = d.addrPort("Server")
	e.Start = d.time("Start")
	e.End = d.time("End")
	e.Request = d.message("Request")
	e.Response = d.message("Response")
	if n, ok := d.length("Interim", 1); ok {
		e.Interim = make([]*decode.Message, n)
		for i := range e.Interim {
			e.Interim[i] = d.message("Interim")
		}
	}
	e.State = decode.ExchangeState(d.string("State"))
	e.Error = d.string("Error")
	e.Upstream = d.addrPort("Upstream")
	e.StreamID = uint32(d.uvarintMax("StreamID", math.MaxUint32))
	flags := d.flags("Exchange flags", exFlagMask)
	e.TLS = flags&exFlagTLS != 0
	e.Slim = flags&exFlagSlim != 0
	e.SNI = d.string("SNI")
	if d.present("GRPC") {
		g := &decode.GRPCInfo{}
		g.Service = d.string("GRPC.Service")
		g.Method = d.string("GRPC.Method")
		g.Status = d.int("GRPC.Status")
		g.Message = d.string("GRPC.Message")
		e.GRPC = g
	}
	if d.present("DNS") {
		n := &decode.DNSInfo{}
		n.ID = uint16(d.uvarintMax("DNS.ID", math.MaxUint16))
		n.Name = d.string("DNS.Name")
		n.Type = d.string("DNS.Type")
		n.Rcode = d.string("DNS.Rcode")
		n.Answers = d.strings("DNS.Answers")
		e.DNS = n
	}
	e.Pod = d.string("Pod")
	e.Namespace = d.string("Namespace")
	e.Leg = d.string("Leg")
	e.Direction = d.string("Direction")
	e.Linked = d.uvarint("Linked")
	if d.err == nil && d.off != len(d.b) {
		d.fail("end", fmt.Errorf("%d trailing bytes", len(d.b)-d.off))
	}
	if d.err != nil {
		return nil, d.err
	}
	return e, nil
}

// decoder reads fields in order with a sticky error: after the first
// failure every read returns a zero value, so DecodeExchange can read
// straight through and check once.
type decoder struct {
	b   []byte
	off int
	err error
	// msg names the message being read ("Request", "Interim", ...) so
	// errors say where they are without building strings per field.
	msg string
}

func (d *decoder) fail(field string, err error) {
	if d.err == nil {
		where := field
		if d.msg != "" {
			where = d.msg + "." + field
		}
		d.err = fmt.Errorf("spill: %w: field %s at byte %d: %w", ErrMalformed, where, d.off, err)
	}
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) byte(field string) byte {
	if d.err != nil {
		return 0
	}
	if d.remaining() < 1 {
		d.fail(field, errors.New("unexpected end"))
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail(field, errors.New("bad uvarint"))
		return 0
	}
	// A longer-than-needed varint would decode but not re-encode to
	// the same bytes; reject it to keep the format canonical.
	if n != uvarintLen(v) {
		d.fail(field, errors.New("non-minimal uvarint"))
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) uvarintMax(field string, max uint64) uint64 {
	v := d.uvarint(field)
	if v > max {
		d.fail(field, fmt.Errorf("value %d over %d", v, max))
		return 0
	}
	return v
}

func (d *decoder) varint(field string) int64 {
	u := d.uvarint(field)
	// Undo the zig-zag mapping of binary.AppendVarint.
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (d *decoder) int(field string) int {
	v := d.varint(field)
	if int64(int(v)) != v {
		d.fail(field, fmt.Errorf("value %d overflows int", v))
		return 0
	}
	return int(v)
}

func (d *decoder) flags(field string, mask byte) byte {
	f := d.byte(field)
	if f&^mask != 0 {
		d.fail(field, fmt.Errorf("unknown flag bits %#x", f&^mask))
		return 0
	}
	return f
}

func (d *decoder) present(field string) bool {
	switch d.byte(field) {
	case 0:
		return false
	case 1:
		return d.err == nil
	default:
		d.fail(field, errors.New("bad presence byte"))
		return false
	}
}

// length reads a nil-or-length prefix. minElem is the fewest bytes one
// element can encode to, so a length that cannot fit in the remaining
// input is rejected before the caller allocates for it.
func (d *decoder) length(field string, minElem int) (int, bool) {
	v := d.uvarint(field)
	if d.err != nil || v == 0 {
		return 0, false
	}
	n := v - 1
	if n > uint64(d.remaining()/minElem) {
		d.fail(field, fmt.Errorf("length %d exceeds the %d bytes left", n, d.remaining()))
		return 0, false
	}
	return int(n), true
}

func (d *decoder) take(field string, n uint64) []byte {
	if n > uint64(d.remaining()) {
		d.fail(field, fmt.Errorf("length %d exceeds the %d bytes left", n, d.remaining()))
		return nil
	}
	p := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return p
}

func (d *decoder) string(field string) string {
	n := d.uvarint(field)
	if d.err != nil {
		return ""
	}
	return string(d.take(field, n))
}

func (d *decoder) bytes(field string) []byte {
	n, ok := d.length(field, 1)
	if !ok {
		return nil
	}
	p := d.take(field, uint64(n))
	if d.err != nil {
		return nil
	}
	return append(make([]byte, 0, n), p...)
}

func (d *decoder) strings(field string) []string {
	n, ok := d.length(field, 1)
	if !ok {
		return nil
	}
	s := make([]string, n)
	for i := range s {
		s[i] = d.string(field)
	}
	return s
}

func (d *decoder) headers(field string) []decode.Header {
	n, ok := d.length(field, 2)
	if !ok {
		return nil
	}
	hs := make([]decode.Header, n)
	for i := range hs {
		hs[i].Name = d.string(field)
		hs[i].Value = d.string(field)
	}
	return hs
}

func (d *decoder) time(field string) time.Time {
	switch d.byte(field) {
	case timeZero:
		return time.Time{}
	case timeNano:
		ns := d.varint(field)
		if d.err != nil {
			return time.Time{}
		}
		t := time.Unix(0, ns).UTC()
		if !fitsNano(t.Unix()) {
			// AppendExchange would choose the wide form for
			// this instant; accepting it would not be canonical.
			d.fail(field, errors.New("time in nanosecond form outside its range"))
		}
		return t
	case timeWide:
		sec := d.varint(field)
		nsec := d.uvarintMax(field, 999_999_999)
		if d.err != nil {
			return time.Time{}
		}
		t := time.Unix(sec, int64(nsec)).UTC()
		if t.IsZero() || fitsNano(sec) {
			d.fail(field, errors.New("time in wide form that fits the short one"))
		}
		return t
	default:
		d.fail(field, errors.New("bad time tag"))
		return time.Time{}
	}
}

func (d *decoder) addrPort(field string) netip.AddrPort {
	var a netip.Addr
	switch d.byte(field) {
	case addrNone:
	case addrV4:
		p := d.take(field, 4)
		if d.err != nil {
			return netip.AddrPort{}
		}
		a = netip.AddrFrom4([4]byte(p))
	case addrV6:
		p := d.take(field, 16)
		if d.err != nil {
			return netip.AddrPort{}
		}
		a = netip.AddrFrom16([16]byte(p))
		if zone := d.string(field); zone != "" {
			a = a.WithZone(zone)
		}
	default:
		d.fail(field, errors.New("bad address family"))
		return netip.AddrPort{}
	}
	p := d.take(field, 2)
	if d.err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, binary.BigEndian.Uint16(p))
}

func (d *decoder) message(field string) *decode.Message {
	if !d.present(field) {
		return nil
	}
	d.msg = field
	defer func() { d.msg = "" }()
	m := &decode.Message{}
	m.First = d.time("First")
	m.Last = d.time("Last")
	m.Method = d.string("Method")
	m.Target = d.string("Target")
	m.Host = d.string("Host")
	m.Scheme = d.string("Scheme")
	m.Status = d.int("Status")
	m.Reason = d.string("Reason")
	m.Proto = d.string("Proto")
	m.Headers = d.headers("Headers")
	m.Trailers = d.headers("Trailers")
	m.Body = d.bytes("Body")
	m.BodySize = d.varint("BodySize")
	flags := d.flags("flags", msgFlagMask)
	m.Truncated = flags&msgFlagTruncated != 0
	m.Masked = flags&msgFlagMasked != 0
	m.ContentEncoding = d.strings("ContentEncoding")
	m.DecodedSize = d.varint("DecodedSize")
	m.DecodeError = d.string("DecodeError")
	// A part is at least a time tag, a kind length, flags, a nil data
	// length and a size: five bytes.
	if n, ok := d.length("Parts", 5); ok {
		m.Parts = make([]decode.Part, n)
		for i := range m.Parts {
			p := &m.Parts[i]
			p.Time = d.time("Part.Time")
			p.Kind = d.string("Part.Kind")
			pf := d.flags("Part.flags", partFlagMask)
			p.Compressed = pf&partFlagCompressed != 0
			p.Truncated = pf&partFlagTruncated != 0
			p.FromClient = pf&partFlagFromClient != 0
			p.Data = d.bytes("Part.Data")
			p.Size = d.varint("Part.Size")
		}
	}
	if d.err != nil {
		return nil
	}
	return m
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
