package gloo_test

import (
	"testing"

	tapdata "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	tapsvc "github.com/envoyproxy/go-control-plane/envoy/service/tap/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/tapview/tapview/proto/gloo"
)

// The Gloo contract shares its proto package with upstream's TapSinkService;
// both must register side by side and resolve to go-control-plane's
// TraceWrapper.
func TestRegistersBesideUpstream(t *testing.T) {
	_ = tapsvc.TapSinkService_StreamTaps_FullMethodName
	for _, name := range []string{
		"envoy.service.tap.v3.TapService",
		"envoy.service.tap.v3.TapSinkService",
		"envoy.service.tap.v3.TapRequest",
		"envoy.service.tap.v3.StreamTapsRequest",
	} {
		if _, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflectName(name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	md := (&gloo.TapRequest{}).ProtoReflect().Descriptor()
	f := md.Fields().ByName("trace_data")
	if f == nil || f.Number() != 1 || f.Message().FullName() != "envoy.data.tap.v3.TraceWrapper" {
		t.Fatalf("trace_data field = %v", f)
	}
	if gloo.TapService_ReportTap_FullMethodName != "/envoy.service.tap.v3.TapService/ReportTap" {
		t.Fatalf("method name %q", gloo.TapService_ReportTap_FullMethodName)
	}
}

// A TapRequest round-trips through the wire format with its trace intact.
func TestWireRoundTrip(t *testing.T) {
	in := &gloo.TapRequest{TraceData: &tapdata.TraceWrapper{Trace: &tapdata.TraceWrapper_HttpBufferedTrace{
		HttpBufferedTrace: &tapdata.HttpBufferedTrace{Request: &tapdata.HttpBufferedTrace_Message{
			Body: &tapdata.Body{BodyType: &tapdata.Body_AsBytes{AsBytes: []byte("hi")}},
		}},
	}}}
	b, err := proto.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	// Field 1, wire type 2: what Gloo's HTTP sink posts.
	if b[0] != 0x0a {
		t.Fatalf("first byte %#x", b[0])
	}
	out := &gloo.TapRequest{}
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, out) {
		t.Fatalf("round trip changed the message: %v", out)
	}
}

func protoreflectName(s string) protoreflect.FullName { return protoreflect.FullName(s) }
