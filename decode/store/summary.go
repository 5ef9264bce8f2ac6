package store

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
	"unsafe"

	"github.com/tapview/tapview/decode"
)

// A summary is the part of an exchange lists, row masking and cheap
// filters need, packed into bytes so a million of them cost tens of
// megabytes and nothing for the garbage collector to scan. Layout: a
// sequence of uvarints and strings in the fixed order of appendSummary;
// strings are 0 (empty), 2n+1 (interned index n) or 2n followed by n
// bytes; addresses are 0 (invalid), 2n+1 (interned n) or 2*len followed by
// the bytes, then the port; fields most exchanges leave empty come only
// behind a flag (fRare, mRare); times are 0 (zero) or the distance to the
// exchange's Start, zig-zagged, plus one.
//
// Summaries never leave the process, so the format has no version: it
// only has to agree with itself.

var errCorrupt = errors.New("store: corrupt summary")

// summary flag bits.
const (
	fReq = 1 << iota
	fResp
	fTLS
	fGRPC
	fDNS
	fQuery
	// fRare says the fields most exchanges leave empty follow (upstream,
	// error, stream, SNI, pod, mesh labels, interim responses); without
	// it they take no bytes at all.
	fRare
)

// rare reports whether e has any of the fields fRare covers.
func rare(e *decode.Exchange) bool {
	return e.Upstream.IsValid() || e.Error != "" || e.StreamID != 0 || e.SNI != "" || e.Pod != "" ||
		e.Namespace != "" || e.Leg != "" || e.Direction != "" || e.Linked != 0 || len(e.Interim) > 0
}

// message flag bits.
const (
	mTruncated = 1 << iota
	mMasked
	mRare // scheme, decode error and content codings follow
)

type encoder struct {
	in *interner
	b  []byte
}

func (c *encoder) u(v uint64) { c.b = binary.AppendUvarint(c.b, v) }
func (c *encoder) i(v int64)  { c.b = binary.AppendVarint(c.b, v) }

// s writes a string, interned when the table takes it.
func (c *encoder) s(v string) {
	if v == "" {
		c.u(0)
		return
	}
	if i, ok := c.in.str(v); ok {
		c.u(uint64(i)<<1 | 1)
		return
	}
	c.inline(v)
}

// strs writes a count and the strings.
func (c *encoder) strs(vs []string) {
	c.u(uint64(len(vs)))
	for _, v := range vs {
		c.s(v)
	}
}

// inline writes a string that rarely repeats (request targets).
func (c *encoder) inline(v string) {
	c.u(uint64(len(v)) << 1)
	c.b = append(c.b, v...)
}

func (c *encoder) addr(a netip.AddrPort) {
	ip := a.Addr()
	switch {
	case !ip.IsValid():
		c.u(0)
		return
	default:
		if i, ok := c.in.addr(ip); ok {
			c.u(uint64(i)<<1 | 1)
		} else {
			raw, _ := ip.MarshalBinary()
			c.u(uint64(len(raw)) << 1)
			c.b = append(c.b, raw...)
		}
	}
	c.u(uint64(a.Port()))
}

func (c *encoder) t(t, base time.Time) {
	if t.IsZero() {
		c.u(0)
		return
	}
	d := t.UnixNano() - base.UnixNano()
	c.u(uint64(d<<1^d>>63) + 1)
}

// appendSummary appends e's summary to b.
func appendSummary(b []byte, in *interner, e *decode.Exchange) []byte {
	c := encoder{in: in, b: b}
	flags := uint64(0)
	if e.Request != nil {
		flags |= fReq
	}
	if e.Response != nil {
		flags |= fResp
	}
	if e.TLS {
		flags |= fTLS
	}
	if e.GRPC != nil {
		flags |= fGRPC
	}
	if e.DNS != nil {
		flags |= fDNS
	}
	if e.Query != nil {
		flags |= fQuery
	}
	if rare(e) {
		flags |= fRare
	}
	c.u(flags)
	c.u(e.ID)
	c.u(e.FlowID)
	c.u(e.Version)
	c.s(e.Source)
	c.s(e.Proto)
	c.addr(e.Client)
	c.addr(e.Server)
	if e.Start.IsZero() {
		c.u(0)
	} else {
		c.u(uint64(e.Start.UnixNano()) + 1)
	}
	c.t(e.End, e.Start)
	c.s(string(e.State))
	if flags&fRare != 0 {
		c.addr(e.Upstream)
		c.s(e.Error)
		c.u(uint64(e.StreamID))
		c.s(e.SNI)
		c.s(e.Pod)
		c.s(e.Namespace)
		c.s(e.Leg)
		c.s(e.Direction)
		c.u(e.Linked)
		c.u(uint64(len(e.Interim)))
		for _, m := range e.Interim {
			c.u(uint64(m.Status))
			c.s(m.Reason)
			c.t(m.First, e.Start)
			c.t(m.Last, e.Start)
		}
	}
	if e.Request != nil {
		c.msg(e.Request, e.Start)
	}
	if e.Response != nil {
		c.msg(e.Response, e.Start)
	}
	if g := e.GRPC; g != nil {
		c.s(g.Service)
		c.s(g.Method)
		c.i(int64(g.Status))
		c.s(g.Message)
	}
	if d := e.DNS; d != nil {
		c.u(uint64(d.ID))
		c.s(d.Name)
		c.s(d.Type)
		c.s(d.Rcode)
		c.strs(d.Answers)
	}
	if q := e.Query; q != nil {
		c.s(q.ReplyError)
		c.s(q.ErrorCode)
		c.i(q.Rows)
		c.s(q.Database)
		c.s(q.User)
		c.s(q.ClientID)
		c.i(int64(q.Batches))
		c.i(q.RecordBytes)
	}
	return c.b
}

func (c *encoder) msg(m *decode.Message, base time.Time) {
	flags := uint64(0)
	if m.Truncated {
		flags |= mTruncated
	}
	if m.Masked {
		flags |= mMasked
	}
	if m.Scheme != "" || m.DecodeError != "" || len(m.ContentEncoding) > 0 {
		flags |= mRare
	}
	c.u(flags)
	c.t(m.First, base)
	c.t(m.Last, base)
	c.s(m.Method)
	c.inline(m.Target)
	c.s(m.Host)
	c.u(uint64(m.Status))
	c.s(m.Reason)
	c.s(m.Proto)
	c.s(m.HeaderValue("content-type"))
	// A summary has no Body, so its size must not fall below what the
	// whole message holds (req_size/resp_size read the larger of both).
	c.i(max(m.BodySize, int64(len(m.Body))))
	c.i(m.DecodedSize)
	if flags&mRare != 0 {
		c.s(m.Scheme)
		c.s(m.DecodeError)
		c.strs(m.ContentEncoding)
	}
}

// decoder reads a summary. Strings alias the record's bytes (which are
// never overwritten: arena chunks are append-only and dropped whole) or
// the interner's table, so decoding allocates only the structs.
type decoder struct {
	in  *interner
	b   []byte
	err bool
}

func (d *decoder) u() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) i() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.err, d.b = true, nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) s() string {
	v := d.u()
	switch {
	case v == 0:
		return ""
	case v&1 == 1:
		if i := v >> 1; i < uint64(len(d.in.strs)) {
			return d.in.strs[i]
		}
		d.err = true
		return ""
	default:
		b := d.bytes(v >> 1)
		if len(b) == 0 {
			return ""
		}
		return unsafe.String(&b[0], len(b))
	}
}

// strs reads what encoder.strs wrote; nil for none. A count larger than
// the bytes left is corrupt (each string takes at least one byte).
func (d *decoder) strs() []string {
	n := d.u()
	switch {
	case n == 0:
		return nil
	case n > uint64(len(d.b)):
		d.err = true
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.s()
	}
	return out
}

func (d *decoder) addr() netip.AddrPort {
	v := d.u()
	if v == 0 {
		return netip.AddrPort{}
	}
	var ip netip.Addr
	if v&1 == 1 {
		if i := v >> 1; i < uint64(len(d.in.addrs)) {
			ip = d.in.addrs[i]
		} else {
			d.err = true
		}
	} else if err := ip.UnmarshalBinary(d.bytes(v >> 1)); err != nil {
		d.err = true
	}
	return netip.AddrPortFrom(ip, uint16(d.u()))
}

func (d *decoder) t(base time.Time) time.Time {
	v := d.u()
	if v == 0 {
		return time.Time{}
	}
	z := v - 1
	delta := int64(z>>1) ^ -int64(z&1)
	return time.Unix(0, base.UnixNano()+delta)
}

// into decodes a summary into e (and the messages in ms, reused when the
// caller scans many summaries), marking it Slim.
func (d *decoder) into(e *decode.Exchange, ms *[2]decode.Message, hdrs *[2][1]decode.Header) error {
	flags := d.u()
	*e = decode.Exchange{Slim: true}
	e.ID = d.u()
	e.FlowID = d.u()
	e.Version = d.u()
	e.Source = d.s()
	e.Proto = d.s()
	e.Client = d.addr()
	e.Server = d.addr()
	if st := d.u(); st != 0 {
		e.Start = time.Unix(0, int64(st-1))
	}
	e.End = d.t(e.Start)
	e.State = decode.ExchangeState(d.s())
	if flags&fRare != 0 {
		d.rare(e)
	}
	e.TLS = flags&fTLS != 0
	if flags&fReq != 0 {
		e.Request = d.msg(&ms[0], &hdrs[0], e.Start)
	}
	if flags&fResp != 0 {
		e.Response = d.msg(&ms[1], &hdrs[1], e.Start)
	}
	if flags&fGRPC != 0 {
		e.GRPC = &decode.GRPCInfo{Service: d.s(), Method: d.s(), Status: int(d.i()), Message: d.s()}
	}
	if flags&fDNS != 0 {
		dns := &decode.DNSInfo{ID: uint16(d.u()), Name: d.s(), Type: d.s(), Rcode: d.s()}
		dns.Answers = d.strs()
		e.DNS = dns
	}
	if flags&fQuery != 0 {
		e.Query = &decode.QueryInfo{ReplyError: d.s(), ErrorCode: d.s(), Rows: d.i(), Database: d.s(), User: d.s(), ClientID: d.s(), Batches: int(d.i()), RecordBytes: d.i()}
	}
	if d.err {
		return errCorrupt
	}
	return nil
}

// rare reads the fields behind fRare.
func (d *decoder) rare(e *decode.Exchange) {
	e.Upstream = d.addr()
	e.Error = d.s()
	e.StreamID = uint32(d.u())
	e.SNI = d.s()
	e.Pod = d.s()
	e.Namespace = d.s()
	e.Leg = d.s()
	e.Direction = d.s()
	e.Linked = d.u()
	if n := d.u(); n > 0 && n <= uint64(len(d.b)) {
		e.Interim = make([]*decode.Message, n)
		for i := range e.Interim {
			m := &decode.Message{Status: int(d.u()), Reason: d.s()}
			m.First = d.t(e.Start)
			m.Last = d.t(e.Start)
			e.Interim[i] = m
		}
	} else if n > 0 {
		d.err = true
	}
}

func (d *decoder) msg(m *decode.Message, hdr *[1]decode.Header, base time.Time) *decode.Message {
	flags := d.u()
	*m = decode.Message{Truncated: flags&mTruncated != 0, Masked: flags&mMasked != 0}
	m.First = d.t(base)
	m.Last = d.t(base)
	m.Method = d.s()
	m.Target = d.s()
	m.Host = d.s()
	m.Status = int(d.u())
	m.Reason = d.s()
	m.Proto = d.s()
	if ct := d.s(); ct != "" {
		hdr[0] = decode.Header{Name: "Content-Type", Value: ct}
		m.Headers = hdr[:]
	}
	m.BodySize = d.i()
	m.DecodedSize = d.i()
	if flags&mRare == 0 {
		return m
	}
	m.Scheme = d.s()
	m.DecodeError = d.s()
	m.ContentEncoding = d.strs()
	return m
}

// decodeSummary returns a fresh Slim exchange (its own structs; strings
// shared with the store, which never changes them).
func decodeSummary(in *interner, b []byte) (*decode.Exchange, error) {
	var s struct {
		e    decode.Exchange
		ms   [2]decode.Message
		hdrs [2][1]decode.Header
	}
	d := decoder{in: in, b: b}
	if err := d.into(&s.e, &s.ms, &s.hdrs); err != nil {
		return nil, err
	}
	return &s.e, nil
}
