// Package wire is a gRPC codec for the pcap-release contract that encodes
// and decodes its hot message, a CaptureResponse carrying one Packet,
// without reflection, and hands every other message to the standard
// protobuf codec. The contract sends one gRPC message per captured packet;
// at hundreds of thousands of packets a second, reflection-driven
// marshalling and its allocations were most of the agent's and the
// client's CPU. The bytes on the wire are exactly what proto.Marshal
// produces, and decoding gives exactly what proto.Unmarshal gives (any
// input the fast path is not sure about goes to proto.Unmarshal).
package wire

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pcap "github.com/tapview/tapview/proto/pcap"
)

// Codec implements encoding.CodecV2 under the name "proto", so peers see
// ordinary application/grpc+proto traffic.
type Codec struct{}

// Name is the content subtype: plain protobuf.
func (Codec) Name() string { return "proto" }

// ServerOption makes a gRPC server use the codec for all its services.
func ServerOption() grpc.ServerOption { return grpc.ForceServerCodecV2(Codec{}) }

// CallOption makes a client call use the codec.
func CallOption() grpc.CallOption { return grpc.ForceCodecV2(Codec{}) }

// Field numbers of the hot path (see proto/pcap/pcap.proto).
const (
	fieldResponsePacket = 1
	fieldPacketData     = 1
	fieldPacketTime     = 2
	fieldPacketLength   = 3
	fieldSeconds        = 1
	fieldNanos          = 2
)

// Marshal encodes v.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(*pcap.CaptureResponse); ok {
		if p := hotPacket(r); p != nil {
			size := responseSize(p)
			if mem.IsBelowBufferPoolingThreshold(size) {
				// The transport frees buffers on its writer goroutine, so
				// small pooled buffers rarely come back to this one.
				return mem.BufferSlice{mem.SliceBuffer(appendResponse(make([]byte, 0, size), p))}, nil
			}
			pool := mem.DefaultBufferPool()
			buf := pool.Get(size)
			*buf = appendResponse((*buf)[:0], p)
			return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
		}
	}
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("wire: cannot marshal %T, not a protobuf message", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: marshal %T: %w", v, err)
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

// hotPacket returns the packet of a response the fast path can encode
// exactly: a packet payload and no unknown fields anywhere.
func hotPacket(r *pcap.CaptureResponse) *pcap.Packet {
	pl, ok := r.GetPayload().(*pcap.CaptureResponse_Packet)
	if !ok || pl.Packet == nil {
		return nil
	}
	p := pl.Packet
	if len(r.ProtoReflect().GetUnknown()) > 0 || len(p.ProtoReflect().GetUnknown()) > 0 {
		return nil
	}
	if ts := p.GetTimestamp(); ts != nil && len(ts.ProtoReflect().GetUnknown()) > 0 {
		return nil
	}
	return p
}

func timestampSize(ts *timestamppb.Timestamp) int {
	n := 0
	if s := ts.GetSeconds(); s != 0 {
		n += 1 + protowire.SizeVarint(uint64(s))
	}
	if ns := ts.GetNanos(); ns != 0 {
		n += 1 + protowire.SizeVarint(uint64(int64(ns)))
	}
	return n
}

func packetSize(p *pcap.Packet) int {
	n := 0
	if d := p.GetData(); len(d) > 0 {
		n += 1 + protowire.SizeBytes(len(d))
	}
	if ts := p.GetTimestamp(); ts != nil {
		n += 1 + protowire.SizeBytes(timestampSize(ts))
	}
	if l := p.GetLength(); l != 0 {
		n += 1 + protowire.SizeVarint(uint64(int64(l)))
	}
	return n
}

func responseSize(p *pcap.Packet) int { return 1 + protowire.SizeBytes(packetSize(p)) }

// appendResponse appends CaptureResponse{packet: p} in proto.Marshal's
// layout: fields in number order, proto3 zero values left out.
func appendResponse(b []byte, p *pcap.Packet) []byte {
	ps := packetSize(p)
	b = protowire.AppendTag(b, fieldResponsePacket, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(ps))
	if d := p.GetData(); len(d) > 0 {
		b = protowire.AppendTag(b, fieldPacketData, protowire.BytesType)
		b = protowire.AppendBytes(b, d)
	}
	if ts := p.GetTimestamp(); ts != nil {
		b = protowire.AppendTag(b, fieldPacketTime, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(timestampSize(ts)))
		if s := ts.GetSeconds(); s != 0 {
			b = protowire.AppendTag(b, fieldSeconds, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(s))
		}
		if ns := ts.GetNanos(); ns != 0 {
			b = protowire.AppendTag(b, fieldNanos, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(int64(ns)))
		}
	}
	if l := p.GetLength(); l != 0 {
		b = protowire.AppendTag(b, fieldPacketLength, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(l)))
	}
	return b
}

// Unmarshal decodes data into v. A CaptureResponse holding one packet is
// decoded directly, its Data pointing into one fresh buffer per message
// (so the packet owns its bytes, as sources.Packet requires).
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("wire: cannot unmarshal into %T, not a protobuf message", v)
	}
	b := data.Materialize()
	if r, ok := v.(*pcap.CaptureResponse); ok {
		if h, ok := parseResponse(b); ok {
			r.Reset()
			r.Payload = &h.payload
			return nil
		}
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("wire: unmarshal %T: %w", v, err)
	}
	return nil
}

// decoded holds the parts of one decoded packet response in a single
// allocation; the payload points at the packet, the packet at the time.
type decoded struct {
	payload pcap.CaptureResponse_Packet
	packet  pcap.Packet
	ts      timestamppb.Timestamp
}

// parseResponse decodes the exact shape the fast path handles: a single
// packet field holding data, timestamp and length at most once each and
// nothing else. Anything else reports false and is left to proto.
func parseResponse(b []byte) (*decoded, bool) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != fieldResponsePacket || typ != protowire.BytesType {
		return nil, false
	}
	inner, m := protowire.ConsumeBytes(b[n:])
	if m < 0 || n+m != len(b) {
		return nil, false
	}
	h := &decoded{}
	h.payload.Packet = &h.packet
	p := &h.packet
	var seen [4]bool
	for len(inner) > 0 {
		num, typ, n := protowire.ConsumeTag(inner)
		if n < 0 || num < 1 || num > 3 || seen[num] {
			return nil, false
		}
		seen[num] = true
		inner = inner[n:]
		switch {
		case num == fieldPacketData && typ == protowire.BytesType:
			d, n := protowire.ConsumeBytes(inner)
			if n < 0 {
				return nil, false
			}
			p.Data = d[:len(d):len(d)]
			inner = inner[n:]
		case num == fieldPacketTime && typ == protowire.BytesType:
			d, n := protowire.ConsumeBytes(inner)
			if n < 0 {
				return nil, false
			}
			if !parseTimestamp(d, &h.ts) {
				return nil, false
			}
			p.Timestamp = &h.ts
			inner = inner[n:]
		case num == fieldPacketLength && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(inner)
			if n < 0 {
				return nil, false
			}
			p.Length = int32(v)
			inner = inner[n:]
		default:
			return nil, false
		}
	}
	return h, true
}

func parseTimestamp(b []byte, ts *timestamppb.Timestamp) bool {
	var seen [3]bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.VarintType || num < 1 || num > 2 || seen[num] {
			return false
		}
		seen[num] = true
		v, m := protowire.ConsumeVarint(b[n:])
		if m < 0 {
			return false
		}
		if num == fieldSeconds {
			ts.Seconds = int64(v)
		} else {
			ts.Nanos = int32(v)
		}
		b = b[n+m:]
	}
	return true
}
