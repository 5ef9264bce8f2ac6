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
	if d.present("Query") {
		q := &decode.QueryInfo{}
		q.ReplyError = d.string("Query.ReplyError")
		q.ErrorCode = d.string("Query.ErrorCode")
		q.Rows = d.varint("Query.Rows")
		q.Database = d.string("Query.Database")
		q.User = d.string("Query.User")
		q.ClientID = d.string("Query.ClientID")
		q.Batches = d.int("Query.Batches")
		q.RecordBytes = d.varint("Query.RecordBytes")
		q.TopicIDs = d.topicIDs("Query.TopicIDs")
		e.Query = q
	}
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
	b := d.take(field, n)
	if k, ok := known(b); ok {
		return k
	}
	return string(b)
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

func (d *decoder) topicIDs(field string) []decode.TopicID {
	n, ok := d.length(field, 17)
	if !ok {
		return nil
	}
	ts := make([]decode.TopicID, n)
	for i := range ts {
		copy(ts[i].ID[:], d.take(field, 16))
		ts[i].Name = d.string(field)
	}
	return ts
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
