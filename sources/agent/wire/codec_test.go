package wire

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pcap "github.com/tapview/tapview/proto/pcap"
)

func packetResponse(data []byte, ts *timestamppb.Timestamp, length int32) *pcap.CaptureResponse {
	return &pcap.CaptureResponse{Payload: &pcap.CaptureResponse_Packet{Packet: &pcap.Packet{Data: data, Timestamp: ts, Length: length}}}
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	bs, err := Codec{}.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Free()
	return bs.Materialize()
}

// checkMarshal asserts the fast encoding is byte-identical to proto's.
func checkMarshal(t testing.TB, r *pcap.CaptureResponse) {
	t.Helper()
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := marshal(t, r); !bytes.Equal(got, want) {
		t.Fatalf("fast marshal of %v:\n got % x\nwant % x", r, got, want)
	}
}

// checkUnmarshal asserts the codec decodes b exactly as proto.Unmarshal.
func checkUnmarshal(t testing.TB, b []byte) {
	t.Helper()
	var got, want pcap.CaptureResponse
	errGot := Codec{}.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, &got)
	errWant := proto.Unmarshal(b, &want)
	if (errGot == nil) != (errWant == nil) {
		t.Fatalf("% x: codec error %v, proto error %v", b, errGot, errWant)
	}
	if errGot == nil && !proto.Equal(&got, &want) {
		t.Fatalf("% x: codec %v, proto %v", b, &got, &want)
	}
}

func TestMarshalMatchesProto(t *testing.T) {
	now := timestamppb.New(time.Date(2025, 1, 2, 3, 4, 5, 678, time.UTC))
	for _, r := range []*pcap.CaptureResponse{
		packetResponse([]byte("frame"), now, 1514),
		packetResponse(nil, nil, 0),
		packetResponse([]byte{}, &timestamppb.Timestamp{}, 0),
		packetResponse(bytes.Repeat([]byte{7}, 70000), &timestamppb.Timestamp{Seconds: -5, Nanos: -1}, -1),
		packetResponse([]byte{1}, &timestamppb.Timestamp{Seconds: 1 << 40}, 1<<31-1),
		{Payload: &pcap.CaptureResponse_Message{Message: &pcap.Message{Type: pcap.MessageType_CONGESTED, Message: "x", Origin: "o"}}},
		{},
	} {
		checkMarshal(t, r)
		checkUnmarshal(t, marshal(t, r))
	}
	// Other messages go through proto unchanged.
	req := &pcap.AgentRequest{Payload: &pcap.AgentRequest_Stop{Stop: &pcap.StopAgentCapture{}}}
	want, _ := proto.Marshal(req)
	if got := marshal(t, req); !bytes.Equal(got, want) {
		t.Fatalf("AgentRequest: % x vs % x", got, want)
	}
	if _, err := (Codec{}).Marshal(42); err == nil {
		t.Fatal("marshalled a non-message")
	}
}

func TestUnmarshalOwnsData(t *testing.T) {
	b := marshal(t, packetResponse([]byte("abc"), nil, 3))
	var r pcap.CaptureResponse
	if err := (Codec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, &r); err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] = 'X' // the codec must not alias the transport's buffer
	if got := string(r.GetPacket().GetData()); got != "abc" {
		t.Fatalf("data %q changed with the input buffer", got)
	}
}

func TestUnmarshalOddInputs(t *testing.T) {
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	pkt := func(inner []byte) []byte { return protowire.AppendBytes(tag(1, protowire.BytesType), inner) }
	data := protowire.AppendBytes(tag(1, protowire.BytesType), []byte("d"))
	for _, b := range [][]byte{
		nil,
		pkt(nil),
		pkt(cat(data, data)),      // repeated field: last wins
		cat(pkt(data), pkt(data)), // repeated message: merged
		pkt(cat(data, protowire.AppendVarint(tag(9, protowire.VarintType), 1))), // unknown field
		pkt(protowire.AppendVarint(tag(1, protowire.VarintType), 1)),            // wrong wire type
		pkt(protowire.AppendBytes(tag(2, protowire.BytesType), protowire.AppendVarint(tag(1, protowire.VarintType), 1<<63))),
		pkt(protowire.AppendVarint(tag(3, protowire.VarintType), 1<<40)), // int32 overflow
		{0x0a, 0x05, 0x0a}, // truncated
		{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // bad length varint
		cat(pkt(data), protowire.AppendBytes(tag(2, protowire.BytesType), nil)),  // then a message
	} {
		checkUnmarshal(t, b)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte{})
	f.Add(marshal(f, packetResponse([]byte("GET / HTTP/1.1\r\n"), timestamppb.Now(), 60)))
	f.Add(marshal(f, &pcap.CaptureResponse{Payload: &pcap.CaptureResponse_Message{Message: &pcap.Message{Message: "m"}}}))
	f.Fuzz(func(t *testing.T, b []byte) { checkUnmarshal(t, b) })
}

func FuzzMarshal(f *testing.F) {
	f.Add([]byte("x"), int64(1), int32(2), int32(3), true)
	f.Fuzz(func(t *testing.T, data []byte, sec int64, nanos, length int32, hasTS bool) {
		var ts *timestamppb.Timestamp
		if hasTS {
			ts = &timestamppb.Timestamp{Seconds: sec, Nanos: nanos}
		}
		r := packetResponse(data, ts, length)
		checkMarshal(t, r)
		checkUnmarshal(t, marshal(t, r))
	})
}

func BenchmarkCodec(b *testing.B) {
	r := packetResponse(make([]byte, 128), timestamppb.Now(), 128)
	wire := marshal(b, r)
	b.Run("marshal/fast", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			bs, _ := Codec{}.Marshal(r)
			bs.Free()
		}
	})
	b.Run("marshal/proto", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_, _ = proto.Marshal(r)
		}
	})
	b.Run("unmarshal/fast", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var m pcap.CaptureResponse
			_ = Codec{}.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, &m)
		}
	})
	b.Run("unmarshal/proto", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var m pcap.CaptureResponse
			_ = proto.Unmarshal(wire, &m)
		}
	})
}
