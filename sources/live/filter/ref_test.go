package filter

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// ref evaluates an expression tree on a frame description, straight from
// tcpdump's documented semantics, to check the generated BPF against.
func ref(n node, f frame) bool {
	ip4, ip6 := f.ether == etherIP4, f.ether == etherIP6
	arpLike := f.ether == etherARP || f.ether == etherRARP
	switch n := n.(type) {
	case *andNode:
		return ref(n.l, f) && ref(n.r, f)
	case *orNode:
		return ref(n.l, f) || ref(n.r, f)
	case *notNode:
		return !ref(n.x, f)
	case *protoNode:
		switch n.proto {
		case "ip":
			return ip4
		case "ip6":
			return ip6
		case "arp":
			return f.ether == etherARP
		case "rarp":
			return f.ether == etherRARP
		case "icmp":
			return ip4 && f.proto == protoICMP
		case "icmp6":
			return ip6 && f.proto == protoICMP6
		}
		p := map[string]uint8{"tcp": protoTCP, "udp": protoUDP, "sctp": protoSCTP}[n.proto]
		return (ip4 || ip6) && f.proto == p
	case *hostNode:
		match := func(a netip.Addr) bool { return a == n.addr }
		switch {
		case n.addr.Is6():
			return ip6 && dirMatch(n.dir, f, match)
		case n.proto == "ip":
			return ip4 && dirMatch(n.dir, f, match)
		case n.proto == "arp" || n.proto == "rarp":
			want := map[string]uint16{"arp": etherARP, "rarp": etherRARP}[n.proto]
			return f.ether == want && dirMatch(n.dir, f, match)
		}
		return (ip4 || arpLike) && dirMatch(n.dir, f, match)
	case *netNode:
		fam := ip4
		if n.prefix.Addr().Is6() {
			fam = ip6
		}
		return fam && dirMatch(n.dir, f, n.prefix.Contains)
	case *portNode:
		protoOK := f.proto == protoTCP || f.proto == protoUDP || f.proto == protoSCTP
		if n.proto != "" {
			protoOK = f.proto == map[string]uint8{"tcp": protoTCP, "udp": protoUDP, "sctp": protoSCTP}[n.proto]
		}
		if !protoOK || ip4 && f.laterFrag || ip6 && f.v6Frag || !ip4 && !ip6 {
			return false
		}
		in := func(p uint16) bool { return n.lo <= p && p <= n.hi }
		switch n.dir {
		case dirSrc:
			return in(f.sport)
		case dirDst:
			return in(f.dport)
		}
		return in(f.sport) || in(f.dport)
	}
	panic(fmt.Sprintf("unknown node %T", n))
}

func dirMatch(d direction, f frame, match func(netip.Addr) bool) bool {
	switch d {
	case dirSrc:
		return match(f.src)
	case dirDst:
		return match(f.dst)
	}
	return match(f.src) || match(f.dst)
}

var (
	pool4    = []string{"10.0.0.1", "10.0.0.2", "10.1.2.3", "192.168.1.1"}
	pool6    = []string{"fd00::1", "fd00::2", "2001:db8::1", "fd00:1::5"}
	netPool  = []string{"10.0.0.0/24", "10", "192.168.0.0/16", "0.0.0.0/0", "fd00::/16", "2001:db8::/32", "fd00::/8", "fd00::2/127"}
	portPool = []uint16{53, 80, 443, 8080, 40000}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// randomNode builds a random tree and the tcpdump text for it, fully
// parenthesised so the text means the tree whatever the precedence.
func randomNode(r *rand.Rand, depth int) (node, string) {
	dirs := []string{"", "src ", "dst "}
	dirOf := map[string]direction{"": dirAny, "src ": dirSrc, "dst ": dirDst}
	if depth > 0 && r.IntN(3) > 0 {
		switch r.IntN(3) {
		case 0:
			x, s := randomNode(r, depth-1)
			return &notNode{x}, pick(r, []string{"not ", "!"}) + "(" + s + ")"
		case 1:
			a, sa := randomNode(r, depth-1)
			b, sb := randomNode(r, depth-1)
			return &andNode{a, b}, "(" + sa + pick(r, []string{" and ", " && "}) + sb + ")"
		default:
			a, sa := randomNode(r, depth-1)
			b, sb := randomNode(r, depth-1)
			return &orNode{a, b}, "(" + sa + pick(r, []string{" or ", " || "}) + sb + ")"
		}
	}
	switch r.IntN(4) {
	case 0:
		p := pick(r, []string{"ip", "ip6", "arp", "rarp", "tcp", "udp", "sctp", "icmp", "icmp6"})
		return &protoNode{p}, p
	case 1:
		d := pick(r, dirs)
		if r.IntN(2) == 0 {
			a := pick(r, pool6)
			return &hostNode{dir: dirOf[d], addr: netip.MustParseAddr(a)}, pick(r, []string{"", "ip6 "}) + d + "host " + a
		}
		q := pick(r, []string{"", "ip ", "arp ", "rarp "})
		a := pick(r, pool4)
		return &hostNode{proto: q[:max(0, len(q)-1)], dir: dirOf[d], addr: netip.MustParseAddr(a)}, q + d + "host " + a
	case 2:
		d := pick(r, dirs)
		s := pick(r, netPool)
		pfx, err := parseNet(s)
		if err != nil {
			panic(err)
		}
		return &netNode{dir: dirOf[d], prefix: pfx}, d + "net " + s
	default:
		d := pick(r, dirs)
		q := pick(r, []string{"", "tcp ", "udp ", "sctp "})
		n := &portNode{proto: q[:max(0, len(q)-1)], dir: dirOf[d]}
		if r.IntN(2) == 0 {
			n.lo = pick(r, portPool)
			n.hi = n.lo
			return n, q + d + fmt.Sprintf("port %d", n.lo)
		}
		n.lo, n.hi = pick(r, portPool), pick(r, portPool)
		if n.lo > n.hi {
			n.lo, n.hi = n.hi, n.lo
		}
		return n, q + d + fmt.Sprintf("portrange %d-%d", n.lo, n.hi)
	}
}

func randomFrame(r *rand.Rand) frame {
	f := frame{payloadLen: r.IntN(40)}
	switch r.IntN(6) {
	case 0, 1:
		f.ether = etherIP4
	case 2, 3:
		f.ether = etherIP6
	case 4:
		f.ether = pick(r, []uint16{etherARP, etherRARP})
	default:
		f.ether = 0x88cc
		return f
	}
	if f.ether == etherIP6 {
		f.src, f.dst = netip.MustParseAddr(pick(r, pool6)), netip.MustParseAddr(pick(r, pool6))
		f.proto = pick(r, []uint8{protoTCP, protoUDP, protoSCTP, protoICMP6})
		f.v6Frag = r.IntN(5) == 0
	} else {
		f.src, f.dst = netip.MustParseAddr(pick(r, pool4)), netip.MustParseAddr(pick(r, pool4))
		f.proto = pick(r, []uint8{protoTCP, protoUDP, protoSCTP, protoICMP})
		f.laterFrag = r.IntN(6) == 0
		f.ipOptions = r.IntN(4) == 0
	}
	f.sport, f.dport = pick(r, portPool), pick(r, portPool)
	return f
}

// TestAgainstReference compiles random expressions and checks the BPF
// verdict against the reference evaluator on random frames.
func TestAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	frames := make([]frame, 300)
	data := make([][]byte, len(frames))
	for i := range frames {
		frames[i] = randomFrame(r)
		data[i] = frames[i].bytes(t)
	}
	for i := 0; i < 400; i++ {
		n, s := randomNode(r, 4)
		prog, err := Compile(s, Options{SnapLen: 4242})
		if err != nil {
			t.Fatalf("Compile(%q): %v", s, err)
		}
		for j, f := range frames {
			want := ref(n, f)
			got := run(t, prog, data[j]) == 4242
			if got != want {
				t.Fatalf("%q on %+v: bpf %v, reference %v", s, f, got, want)
			}
		}
	}
}

// FuzzCompile checks that no input crashes the compiler, that every
// accepted program is valid classic BPF within the kernel limit, and that
// it runs on arbitrary frames with one of its two verdicts.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{"", "tcp port 80", "host 10.0.0.1 or 10.0.0.2", "not (udp and dst net fd00::/8)",
		"portrange 1-1024 && ! arp", "src 10.1", "vlan", "tcp[13]&2!=0", "((((ip6))))", "port 80 or http or 443"} {
		f.Add(s, []byte{})
	}
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20; i++ {
		_, s := randomNode(r, 3)
		f.Add(s, randomFrame(r).bytes(f))
	}
	f.Fuzz(func(t *testing.T, expr string, data []byte) {
		prog, err := Compile(expr, Options{SnapLen: 77, ExcludeTCPPorts: []uint16{9494}})
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not *Error", err)
			}
			return
		}
		if len(prog) > MaxInstructions {
			t.Fatalf("%d instructions", len(prog))
		}
		if got := run(t, prog, data); got != 0 && got != 77 {
			t.Fatalf("verdict %d", got)
		}
	})
}
