package filter

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

func TestCompileMatches(t *testing.T) {
	web := tcp4("10.0.0.1", "10.0.0.2", 40000, 80)
	webReply := tcp4("10.0.0.2", "10.0.0.1", 80, 40000)
	dns := udp4("10.0.0.1", "192.168.1.53", 5353, 53)
	web6 := tcp6("fd00::1", "fd00::2", 40000, 443)
	dns6 := udp6("fd00::1", "2001:db8::53", 1234, 53)
	icmpEcho := with(web, func(f *frame) { f.proto = protoICMP })
	icmp6Echo := with(web6, func(f *frame) { f.proto = protoICMP6 })
	arpReq := arp("10.0.0.1", "10.0.0.9")
	frag := with(web, func(f *frame) { f.laterFrag = true })
	opts := with(web, func(f *frame) { f.ipOptions = true })
	v6frag := with(web6, func(f *frame) { f.v6Frag = true })
	sctp := with(web, func(f *frame) { f.proto = protoSCTP; f.dport = 9999 })
	other := frame{ether: 0x88cc, payloadLen: 60} // LLDP

	cases := []struct {
		expr string
		yes  []frame
		no   []frame
	}{
		{"", []frame{web, dns, arpReq, other}, nil},
		{"tcp", []frame{web, web6, v6frag}, []frame{dns, dns6, icmpEcho, arpReq, other}},
		{"udp", []frame{dns, dns6}, []frame{web, web6, arpReq}},
		{"icmp", []frame{icmpEcho}, []frame{icmp6Echo, web}},
		{"icmp6", []frame{icmp6Echo}, []frame{icmpEcho, web6}},
		{"ip", []frame{web, dns, icmpEcho}, []frame{web6, arpReq, other}},
		{"ip6", []frame{web6, dns6}, []frame{web, arpReq}},
		{"arp", []frame{arpReq}, []frame{web, web6}},
		{"sctp", []frame{sctp}, []frame{web}},
		{"host 10.0.0.2", []frame{web, webReply}, []frame{dns, web6}},
		{"host 10.0.0.9", []frame{arpReq}, []frame{web}},
		{"ip host 10.0.0.9", nil, []frame{arpReq, web}},
		{"arp host 10.0.0.1", []frame{arpReq}, []frame{web}},
		{"src host 10.0.0.1", []frame{web, dns}, []frame{webReply}},
		{"dst host 10.0.0.1", []frame{webReply}, []frame{web}},
		{"src 10.0.0.1", []frame{web}, []frame{webReply}},
		{"10.0.0.2", []frame{web, webReply}, []frame{dns}},
		{"host fd00::2", []frame{web6}, []frame{dns6, web}},
		{"dst host fd00::2", []frame{web6}, []frame{with(web6, func(f *frame) { f.src, f.dst = f.dst, f.src })}},
		{"net 10.0.0.0/24", []frame{web, webReply, dns}, []frame{web6}},
		{"dst net 192.168.0.0/16", []frame{dns}, []frame{web}},
		{"net 192.168", []frame{dns}, []frame{web}},
		{"net 10", []frame{web, dns}, []frame{web6}},
		{"net 2001:db8::/32", []frame{dns6}, []frame{web6}},
		{"net fd00::/8", []frame{web6, dns6}, []frame{web}},
		{"net fd00::2/127", []frame{web6}, nil},
		{"port 80", []frame{web, webReply, opts}, []frame{dns, frag, web6}},
		{"port 443", []frame{web6}, []frame{web, v6frag}},
		{"dst port 80", []frame{web}, []frame{webReply}},
		{"src port 80", []frame{webReply}, []frame{web}},
		{"tcp port 53", nil, []frame{dns, dns6}},
		{"udp port 53", []frame{dns, dns6}, []frame{web}},
		{"udp dst port domain", []frame{dns}, nil},
		{"port http", []frame{web}, []frame{dns}},
		{"port 9999", []frame{sctp}, nil},
		{"sctp port 9999", []frame{sctp}, nil},
		{"tcp port 9999", nil, []frame{sctp}},
		{"portrange 50-100", []frame{web, webReply, dns}, []frame{web6}},
		{"portrange 100-50", []frame{web}, nil},
		{"dst portrange 81-65535", []frame{webReply, web6}, []frame{web}},
		{"tcp src portrange 440-450", nil, []frame{web6}},
		{"tcp dst portrange 440-450", []frame{web6}, nil},
		{"port 80 or 53", []frame{web, dns}, []frame{web6}},
		{"port 80 or 443", []frame{web, web6}, []frame{dns}},
		{"host 10.0.0.1 and 10.0.0.2", []frame{web}, []frame{dns}},
		{"not port 80", []frame{dns, web6, arpReq}, []frame{web}},
		{"! tcp", []frame{dns, arpReq}, []frame{web}},
		{"tcp and not port 80", []frame{web6}, []frame{web, dns}},
		{"tcp && port 80", []frame{web}, []frame{dns}},
		{"udp || icmp", []frame{dns, icmpEcho}, []frame{web}},
		// tcpdump: and/or have equal precedence and associate to the left.
		{"udp or tcp and port 80", []frame{web}, []frame{dns, web6}},
		{"udp or (tcp and port 80)", []frame{web, dns}, []frame{web6}},
		{"not (tcp or udp)", []frame{icmpEcho, arpReq}, []frame{web, dns}},
		{"not not tcp", []frame{web}, []frame{dns}},
		{"(((host 10.0.0.1)))", []frame{web}, []frame{web6}},
		{"TCP AND PORT 80", []frame{web}, []frame{dns}},
		{"ip6 and tcp", []frame{web6, v6frag}, []frame{web}},
		// What a pcap-api sends: its own addresses excluded, then the
		// user's filter.
		{"not (ip host 10.0.0.1 or ip6 host fd00::1) and (port 53)", []frame{with(dns, func(f *frame) { f.src = netip.MustParseAddr("10.0.0.7") })}, []frame{dns, web}},
		{"not (ip host 192.168.1.53 or ip6 host fe80::1)", []frame{web, web6}, []frame{dns}},
	}
	for _, tc := range cases {
		prog, err := Compile(tc.expr, Options{SnapLen: 1500})
		if err != nil {
			t.Errorf("Compile(%q): %v", tc.expr, err)
			continue
		}
		for i, f := range tc.yes {
			if got := run(t, prog, f.bytes(t)); got != 1500 {
				t.Errorf("%q: frame yes[%d] %+v rejected (ret %d)", tc.expr, i, f, got)
			}
		}
		for i, f := range tc.no {
			if got := run(t, prog, f.bytes(t)); got != 0 {
				t.Errorf("%q: frame no[%d] %+v accepted (ret %d)", tc.expr, i, f, got)
			}
		}
	}
}

func TestCompileExcludesPorts(t *testing.T) {
	agentConn := tcp4("10.0.0.5", "10.0.0.1", 9494, 50000)
	web := tcp4("10.0.0.1", "10.0.0.2", 40000, 80)
	udp9494 := udp4("10.0.0.1", "10.0.0.2", 9494, 9494)
	for _, expr := range []string{"", "host 10.0.0.1", "tcp or udp"} {
		prog, err := Compile(expr, Options{ExcludeTCPPorts: []uint16{9494}})
		if err != nil {
			t.Fatal(err)
		}
		if run(t, prog, agentConn.bytes(t)) != 0 {
			t.Errorf("%q: agent's own connection captured", expr)
		}
		if run(t, prog, web.bytes(t)) == 0 {
			t.Errorf("%q: other traffic dropped", expr)
		}
		if run(t, prog, udp9494.bytes(t)) == 0 {
			t.Errorf("%q: udp on the excluded port dropped", expr)
		}
	}
}

func TestSnapLen(t *testing.T) {
	for _, tc := range []struct{ in, want uint32 }{{0, MaxSnapLen}, {96, 96}, {1 << 30, MaxSnapLen}} {
		prog, err := Compile("tcp", Options{SnapLen: tc.in})
		if err != nil {
			t.Fatal(err)
		}
		if got := run(t, prog, tcp4("1.1.1.1", "2.2.2.2", 1, 2).bytes(t)); got != int(tc.want) {
			t.Errorf("snaplen %d: ret %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestTruncatedFramesAreDropped(t *testing.T) {
	prog, err := Compile("port 80", Options{})
	if err != nil {
		t.Fatal(err)
	}
	full := tcp4("10.0.0.1", "10.0.0.2", 40000, 80).bytes(t)
	for n := 0; n < 14+20+4; n++ {
		if got := run(t, prog, full[:n]); got != 0 {
			t.Fatalf("frame cut to %d bytes accepted", n)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		expr, token string
		unsupported bool
	}{
		{"vlan", "vlan", true},
		{"vlan 100 and tcp", "vlan", true},
		{"tcp and ether host 02:00:00:00:00:01", "ether", true},
		{"tcp and vlan", "vlan", true},
		{"host 10.0.0.1 or vlan", "vlan", true},
		{"foo", "foo", true},
		{"tcp[13] & 2 != 0", "[", true},
		{"host example.com", "example.com", false},
		{"port 99999", "99999", false},
		{"portrange 80", "80", false},
		{"net 10.0.0.1/8", "10.0.0.1/8", false},
		{"net 10.0.0.0/33", "10.0.0.0/33", false},
		{"ip6 host 10.0.0.1", "10.0.0.1", false},
		{"ip host fd00::1", "fd00::1", false},
		{"tcp host 10.0.0.1", "10.0.0.1", false},
		{"icmp port 80", "80", false},
		{"arp net 10/8", "10/8", false},
		{"tcp 80", "80", false},
		{"80", "80", false},
		{"(tcp", "", false},
		{"tcp)", ")", false},
		{"tcp and", "", false},
		{"tcp or or udp", "or", false},
		{"not", "", false},
		{"src", "", false},
		{"port", "", false},
		{"host fe80::1%eth0", "%", false},
		{"less 100", "less", true},
		{"gateway 10.0.0.1", "gateway", true},
		{"tcp udp", "udp", false},
		{strings.Repeat("(", 70) + "tcp" + strings.Repeat(")", 70), "(", false},
	}
	for _, tc := range cases {
		_, err := Compile(tc.expr, Options{})
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("Compile(%q) = %v, want *Error", tc.expr, err)
			continue
		}
		if fe.Token != tc.token {
			t.Errorf("Compile(%q): token %q, want %q (%v)", tc.expr, fe.Token, tc.token, err)
		}
		if tc.unsupported && !strings.Contains(err.Error(), "unsupported token") {
			t.Errorf("Compile(%q): %q does not say the token is unsupported", tc.expr, err)
		}
		if tc.token != "" && !strings.Contains(err.Error(), tc.token) {
			t.Errorf("Compile(%q): message %q does not name %q", tc.expr, err, tc.token)
		}
		if Check(tc.expr) == nil {
			t.Errorf("Check(%q) accepted what Compile rejects", tc.expr)
		}
	}
	long := strings.Repeat("tcp or ", MaxLength/7+1) + "tcp"
	if _, err := Compile(long, Options{}); err == nil {
		t.Error("over-long expression accepted")
	}
}

func TestProgramTooLarge(t *testing.T) {
	// ~4000 bytes of IPv6 host tests compiles to far more than 4096
	// instructions; the compiler must say so rather than emit it.
	expr := "host fd00::1" + strings.Repeat(" or host fd00::1", 240)
	_, err := Compile(expr, Options{})
	var fe *Error
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "instructions") {
		t.Fatalf("got %v, want an instruction-limit error", err)
	}
}

func TestLongJumps(t *testing.T) {
	// Enough alternatives that early jumps to accept/reject exceed 255
	// instructions and need trampolines.
	var b strings.Builder
	b.WriteString("host 10.9.9.9")
	for i := 0; i < 60; i++ {
		b.WriteString(" or host 10.0.1.")
		b.WriteString(string(rune('0' + i%10)))
	}
	b.WriteString(" or port 80")
	prog, err := Compile(b.String(), Options{SnapLen: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) < 300 {
		t.Fatalf("program has only %d instructions; the test needs long jumps", len(prog))
	}
	long := false
	for _, ins := range prog {
		if j, ok := ins.(bpf.Jump); ok && j.Skip > 255 {
			long = true
		}
	}
	if !long {
		t.Error("no long jump in the program")
	}
	if run(t, prog, tcp4("10.9.9.9", "1.1.1.1", 1, 2).bytes(t)) != 100 {
		t.Error("first alternative not accepted")
	}
	if run(t, prog, tcp4("1.1.1.1", "1.1.1.2", 1, 80).bytes(t)) != 100 {
		t.Error("last alternative not accepted")
	}
	if run(t, prog, tcp4("1.1.1.1", "1.1.1.2", 1, 81).bytes(t)) != 0 {
		t.Error("non-matching frame accepted")
	}
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatal(err)
	}
}
