package pcap

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestWireContract pins names and field numbers to pcap-release's
// contract (docs: ../../../shared/PROTOCOLS.md section 3.1), so an edit of
// pcap.proto that would break interoperability fails here.
func TestWireContract(t *testing.T) {
	fd := File_pcap_proto
	if fd.Package() != "pcap" {
		t.Fatalf("package %q", fd.Package())
	}
	fields := map[string]map[string]protoreflect.FieldNumber{
		"CaptureOptions":      {"device": 1, "filter": 2, "snapLen": 3},
		"AgentRequest":        {"start": 1, "stop": 2},
		"StartAgentCapture":   {"capture": 1},
		"StopAgentCapture":    {},
		"CaptureRequest":      {"start": 1, "stop": 2},
		"StartCapture":        {"request": 1, "options": 2},
		"StopCapture":         {},
		"EndpointRequest":     {"bosh": 1, "cf": 2},
		"BoshRequest":         {"token": 1, "deployment": 2, "groups": 3, "instances": 4},
		"CloudfoundryRequest": {"token": 1, "appId": 2, "appType": 3, "indices": 4},
		"CaptureResponse":     {"packet": 1, "message": 2},
		"Packet":              {"data": 1, "timestamp": 2, "length": 3},
		"Message":             {"type": 1, "message": 2, "origin": 3},
		"StatusRequest":       {},
		"StatusResponse":      {"healthy": 1, "compatibilityLevel": 2, "message": 3, "resolvers": 4},
	}
	if n := fd.Messages().Len(); n != len(fields) {
		t.Errorf("%d messages, want %d", n, len(fields))
	}
	for name, want := range fields {
		md := fd.Messages().ByName(protoreflect.Name(name))
		if md == nil {
			t.Errorf("no message %s", name)
			continue
		}
		if md.Fields().Len() != len(want) {
			t.Errorf("%s has %d fields, want %d", name, md.Fields().Len(), len(want))
		}
		for f, num := range want {
			fld := md.Fields().ByName(protoreflect.Name(f))
			if fld == nil || fld.Number() != num {
				t.Errorf("%s.%s: want field number %d", name, f, num)
			}
		}
	}
	types := map[string]protoreflect.Kind{
		"Packet.data": protoreflect.BytesKind, "Packet.length": protoreflect.Int32Kind,
		"CaptureOptions.snapLen": protoreflect.Uint32Kind, "StatusResponse.compatibilityLevel": protoreflect.Int64Kind,
		"CloudfoundryRequest.indices": protoreflect.Int32Kind,
	}
	for path, kind := range types {
		var msg, field string
		for i := range path {
			if path[i] == '.' {
				msg, field = path[:i], path[i+1:]
			}
		}
		if k := fd.Messages().ByName(protoreflect.Name(msg)).Fields().ByName(protoreflect.Name(field)).Kind(); k != kind {
			t.Errorf("%s is %v, want %v", path, k, kind)
		}
	}
	for v, name := range map[int32]string{0: "UNKNOWN", 1: "INSTANCE_UNAVAILABLE", 2: "START_CAPTURE_FAILED",
		3: "INVALID_REQUEST", 4: "CONGESTED", 5: "LIMIT_REACHED", 6: "CAPTURE_STOPPED", 7: "CONNECTION_ERROR"} {
		if got := MessageType(v).String(); got != name {
			t.Errorf("MessageType %d = %s, want %s", v, got, name)
		}
	}
	for _, m := range []string{Agent_Status_FullMethodName, Agent_Capture_FullMethodName, API_Status_FullMethodName, API_Capture_FullMethodName} {
		switch m {
		case "/pcap.Agent/Status", "/pcap.Agent/Capture", "/pcap.API/Status", "/pcap.API/Capture":
		default:
			t.Errorf("method %s", m)
		}
	}
}
