package tcp

import (
	"bytes"
	"testing"

	"github.com/tapview/tapview/decode"
)

// prefixParser says Yes when the probe of dir starts with prefix, NeedMore
// while it could still become the prefix, No otherwise.
func prefixParser(name string, dir decode.Direction, prefix string) *recorder {
	return &recorder{name: name, accept: func(d decode.Direction, first []byte) decode.Verdict {
		if d != dir {
			return decode.No
		}
		n := min(len(first), len(prefix))
		if !bytes.Equal(first[:n], []byte(prefix[:n])) {
			return decode.No
		}
		if len(first) < len(prefix) {
			return decode.NeedMore
		}
		return decode.Yes
	}}
}

// TestDetectServerFirst: the client of http11_nsec_get_to_port22 sends an
// HTTP GET and the SSH server answers with its banner. A parser that only
// recognises the banner must still win, and its handler must get the
// client's earlier bytes, in arrival order.
func TestDetectServerFirst(t *testing.T) {
	ssh := prefixParser("ssh", decode.ServerToClient, "SSH-")
	out, _ := run(t, "http11_nsec_get_to_port22.pcap", Config{Parsers: []decode.Parser{ssh}})
	if len(ssh.conns) != 1 {
		t.Fatalf("%d ssh connections", len(ssh.conns))
	}
	rc := ssh.conns[0]
	f := out.flows[rc.c.Flow().ID]
	if f.Proto != "ssh" || f.State != decode.FlowReset {
		t.Errorf("flow proto %q state %s", f.Proto, f.State)
	}
	c2s, _ := rc.stream(decode.ClientToServer)
	s2c, _ := rc.stream(decode.ServerToClient)
	if int64(len(c2s)) != f.BytesC2S || !bytes.HasPrefix(c2s, []byte("GET ")) {
		t.Errorf("client bytes: %d of %d, starts %q", len(c2s), f.BytesC2S, c2s[:min(len(c2s), 8)])
	}
	if int64(len(s2c)) != f.BytesS2C || !bytes.HasPrefix(s2c, []byte("SSH-")) {
		t.Errorf("server bytes: %d of %d", len(s2c), f.BytesS2C)
	}
	for i := 1; i < len(rc.events); i++ {
		if rc.events[i].ts.Before(rc.events[i-1].ts) {
			t.Errorf("event %d delivered out of arrival order", i)
		}
	}
}

// TestDetectOrderAndRaw: the first parser saying Yes wins; when every
// parser says No the flow stays raw but is still counted.
func TestDetectOrderAndRaw(t *testing.T) {
	never := &recorder{name: "never", accept: func(decode.Direction, []byte) decode.Verdict { return decode.No }}
	get := prefixParser("get", decode.ClientToServer, "GET ")
	any := &recorder{name: "any"}
	out, _ := run(t, "http11_get_plain.pcap", Config{Parsers: []decode.Parser{never, get, any}})
	if len(get.conns) != 1 || len(any.conns) != 0 || len(never.conns) != 0 {
		t.Fatalf("handlers: never=%d get=%d any=%d", len(never.conns), len(get.conns), len(any.conns))
	}
	if f := out.transport("tcp")[0]; f.Proto != "get" {
		t.Errorf("proto %q", f.Proto)
	}

	out, d := run(t, "http11_get_plain.pcap", Config{Parsers: []decode.Parser{never}})
	f := out.transport("tcp")[0]
	if f.Proto != "" || f.BytesS2C != 5007 || f.BytesC2S != 136 {
		t.Errorf("raw flow: proto %q bytes %d/%d", f.Proto, f.BytesC2S, f.BytesS2C)
	}
	if st := d.Stats(); st.Raw != 1 || st.Detected != 0 {
		t.Errorf("stats raw=%d detected=%d", st.Raw, st.Detected)
	}
}

// TestDetectNeedMoreAcrossSegments: the TLS ClientHello of this capture is
// split over three segments, the first a short one. A parser that needs
// 300 bytes only decides with a window that large; with the default
// window its NeedMore turns into No. Either way nothing is lost.
func TestDetectNeedMoreAcrossSegments(t *testing.T) {
	need := func() *recorder {
		return &recorder{name: "big", accept: func(d decode.Direction, first []byte) decode.Verdict {
			if d != decode.ClientToServer || first[0] != 0x16 {
				return decode.No
			}
			if len(first) < 300 {
				return decode.NeedMore
			}
			return decode.Yes
		}}
	}
	p := need()
	out, _ := run(t, "tls12_clienthello_split_3segments_sni.pcap", Config{Parsers: []decode.Parser{p}, DetectWindow: 512})
	if len(p.conns) != 1 {
		t.Fatalf("parser not chosen with a 512-byte window")
	}
	f := out.transport("tcp")[0]
	c2s, _ := p.conns[0].stream(decode.ClientToServer)
	s2c, _ := p.conns[0].stream(decode.ServerToClient)
	if int64(len(c2s)) != f.BytesC2S || int64(len(s2c)) != f.BytesS2C {
		t.Errorf("held bytes not replayed: %d/%d of %d/%d", len(c2s), len(s2c), f.BytesC2S, f.BytesS2C)
	}
	if len(p.conns[0].events) < 3 || p.conns[0].events[0].dir != decode.ClientToServer {
		t.Errorf("expected the split ClientHello as separate chunks first, got %d events", len(p.conns[0].events))
	}

	p = need()
	out, _ = run(t, "tls12_clienthello_split_3segments_sni.pcap", Config{Parsers: []decode.Parser{p}})
	if len(p.conns) != 0 || out.transport("tcp")[0].Proto != "" {
		t.Errorf("NeedMore past the default window must count as No")
	}
}

// TestDetectHoldLimit: undecided bytes are bounded; past the bound the
// flow goes raw instead of buffering.
func TestDetectHoldLimit(t *testing.T) {
	// Says No to the client, waits for a server that speaks first: here
	// the server sends 2.6 MB before anything is decided.
	p := &recorder{name: "late", accept: func(d decode.Direction, first []byte) decode.Verdict {
		if d == decode.ClientToServer {
			return decode.No
		}
		return decode.NeedMore
	}}
	_, d := run(t, "http11_sll2_download.pcap", Config{Parsers: []decode.Parser{p}, DetectWindow: 1 << 20, HoldLimit: 4096})
	if len(p.conns) != 0 || d.Stats().Raw != 1 {
		t.Errorf("conns=%d raw=%d", len(p.conns), d.Stats().Raw)
	}
	// With room for everything the flow stays undecided to the end:
	// it was the hold limit that ended detection above.
	_, d = run(t, "http11_sll2_download.pcap", Config{Parsers: []decode.Parser{p}, DetectWindow: 8 << 20, HoldLimit: 8 << 20})
	if len(p.conns) != 0 || d.Stats().Raw != 0 {
		t.Errorf("large limit: conns=%d raw=%d", len(p.conns), d.Stats().Raw)
	}
}
