package http2

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
)

// demoCapture is the demo capture embedded in the binary (real Go h2c
// and grpc-go traffic on loopback). It is read from its file so this
// package does not import cmd.
const demoCapture = "../../cmd/tapview/demo/demo.pcapng"

// TestDemoCapture decodes the demo capture and checks its h2c API calls
// and gRPC health/reflection calls, and, when tshark is installed,
// compares HEADERS frames and gRPC messages with tshark's counts.
func TestDemoCapture(t *testing.T) {
	if _, err := os.Stat(demoCapture); err != nil {
		t.Skipf("demo capture: %v", err)
	}
	p := New()
	out := decodeFile(t, demoCapture, p, decode.Limits{})
	out.checkFinal()
	var headers, msgs int
	paths := map[string]int{}
	grpcStatus := map[int]bool{}
	for _, x := range out.exchanges() {
		if x.Proto != "h2" && x.Proto != "grpc" {
			continue
		}
		headers += headersFrames(x)
		if x.Request != nil {
			paths[x.Request.Target]++
			msgs += len(x.Request.Parts)
		}
		if x.Response != nil {
			msgs += len(x.Response.Parts)
		}
		if x.GRPC != nil {
			grpcStatus[x.GRPC.Status] = true
			if x.GRPC.Method == "Watch" && (len(x.Response.Parts) != 3 || x.State != decode.Reset) {
				t.Errorf("Watch: %d messages, %s %q", len(x.Response.Parts), x.State, x.Error)
			}
		}
		if x.State == decode.Partial {
			t.Errorf("partial exchange in a clean capture: %s", dump(x))
		}
	}
	for _, want := range []string{"/v2/pets", "/v2/species", "/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"} {
		if paths[want] == 0 {
			t.Errorf("no exchange for %s (have %v)", want, paths)
		}
	}
	if !grpcStatus[0] || !grpcStatus[5] {
		t.Errorf("gRPC statuses %v, want 0 and 5", grpcStatus)
	}
	if st := p.Stats(); st.HeadersFrames != int64(headers) || st.GRPCMessages != int64(msgs) {
		t.Errorf("parser counted %d HEADERS and %d messages, exchanges hold %d and %d", st.HeadersFrames, st.GRPCMessages, headers, msgs)
	}

	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed; counts not cross-checked")
		return
	}
	ports := map[uint16]bool{}
	for _, f := range out.flows {
		if f.Proto == Name {
			ports[f.Server.Port()] = true
		}
	}
	args := []string{"-n", "-r", demoCapture, "-o", "tcp.reassemble_out_of_order:TRUE"}
	for port := range ports {
		args = append(args, "-d", fmt.Sprintf("tcp.port==%d,http2", port))
	}
	types := tsharkFields(t, append(args, "-Y", "http2", "-T", "fields", "-e", "http2.type"))
	lens := tsharkFields(t, append(args, "-Y", "grpc", "-T", "fields", "-e", "grpc.message_length"))
	t.Logf("%d HEADERS frames, %d gRPC messages (tshark: %d, %d)", headers, msgs, count(types, "1"), len(lens))
	if n := count(types, "1"); n != headers {
		t.Errorf("HEADERS frames: %d decoded, tshark %d", headers, n)
	}
	if n := len(lens); n != msgs {
		t.Errorf("gRPC messages: %d decoded, tshark %d", msgs, n)
	}
}

// tsharkFields runs tshark and returns every comma-separated value of
// every line.
func tsharkFields(t *testing.T, args []string) []string {
	t.Helper()
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Skipf("tshark %v: %v", args, err)
	}
	var vals []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		for _, v := range strings.Split(l, ",") {
			if v != "" {
				vals = append(vals, v)
			}
		}
	}
	return vals
}

func count(vals []string, v string) int {
	n := 0
	for _, x := range vals {
		if x == v {
			n++
		}
	}
	return n
}
