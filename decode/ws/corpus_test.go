package ws

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
)

var wsCaptures = []string{
	"websocket_basic.pcap",
	"websocket_permessage_deflate.pcap",
	"websocket_ping_pong_sll.pcap",
}

// TestCorpusFrameCounts checks that every frame tshark counts
// (websocket_frames_total) is a Part of a ws exchange.
func TestCorpusFrameCounts(t *testing.T) {
	rows := map[string]corpustest.Row{}
	for _, r := range corpustest.Manifest(t) {
		rows[r["file"]] = r
	}
	for _, name := range wsCaptures {
		t.Run(name, func(t *testing.T) {
			col := decodeCorpus(t, name)
			xs := col.byProto("ws")
			if len(xs) != 1 {
				t.Fatalf("%d ws exchanges, want 1", len(xs))
			}
			x := xs[0]
			if want := rows[name].Int(t, "websocket_frames_total"); len(x.Response.Parts) != want {
				t.Errorf("%d frames, manifest websocket_frames_total %d", len(x.Response.Parts), want)
			}
			if !x.State.Final() || x.Error != "" || x.Response.DecodeError != "" || x.Request.DecodeError != "" {
				t.Errorf("state %s error %q decode errors %q %q", x.State, x.Error, x.Request.DecodeError, x.Response.DecodeError)
			}
			if f := col.flows[x.FlowID]; f.Proto != "ws" {
				t.Errorf("flow proto %q", f.Proto)
			}
			// The upgrading HTTP exchange is there too, and complete.
			var up *decode.Exchange
			for _, h := range col.byProto("http/1.1") {
				if h.FlowID == x.FlowID {
					up = h
				}
			}
			if up == nil || len(up.Interim)+boolInt(up.Status() == 101) == 0 {
				t.Errorf("no 101 exchange on the ws flow: %+v", up)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestCorpusMatchesTshark compares every frame with tshark's dissection:
// direction, opcode, payload length, RSV and the (unmasked, inflated)
// text.
func TestCorpusMatchesTshark(t *testing.T) {
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed; skipping the frame-by-frame comparison")
	}
	for _, name := range wsCaptures {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(corpustest.Dir(t), name)
			out, err := exec.Command(bin, "-n", "-r", path, "-o", "tcp.reassemble_out_of_order:TRUE", "-Y", "websocket", "-T", "fields",
				"-E", "occurrence=a", "-E", "aggregator=\x1f",
				"-e", "tcp.srcport", "-e", "websocket.opcode", "-e", "websocket.payload_length", "-e", "websocket.rsv",
				"-e", "websocket.payload.text").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			col := decodeCorpus(t, name)
			x := col.byProto("ws")[0]
			var want, got []string
			for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
				f := strings.Split(line, "\t")
				for len(f) < 5 {
					f = append(f, "")
				}
				port, _ := strconv.Atoi(f[0])
				op, _ := strconv.Atoi(f[1])
				rsv, _ := strconv.ParseInt(f[3], 0, 8)
				want = append(want, fmt.Sprintf("client=%v op=%d len=%s rsv1=%v text=%q",
					port == int(x.Client.Port()), op, f[2], rsv&4 != 0, f[4]))
			}
			for _, p := range x.Response.Parts {
				text := ""
				if p.Kind == "text" {
					text = string(p.Data)
				}
				got = append(got, fmt.Sprintf("client=%v op=%d len=%d rsv1=%v text=%q",
					p.FromClient, opcodeOf(p.Kind), p.Size, p.Compressed, text))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("frames differ:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func opcodeOf(kind string) int {
	switch kind {
	case "continuation":
		return opContinuation
	case "text":
		return opText
	case "binary":
		return opBinary
	case "close":
		return opClose
	case "ping":
		return opPing
	case "pong":
		return opPong
	}
	return -1
}
