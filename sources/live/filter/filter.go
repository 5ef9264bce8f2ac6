// Package filter compiles a subset of tcpdump's capture filter language to
// classic BPF for Ethernet frames, without libpcap, so the agent can attach
// the filters pcap-release clients send to an AF_PACKET socket in a binary
// built with CGO_ENABLED=0.
//
// Supported: host, net (CIDR or abbreviated IPv4), port, portrange, each
// with optional src/dst and a protocol qualifier (ip, ip6, arp, rarp for
// host; ip, ip6 for net; tcp, udp, sctp for port); the protocols ip, ip6,
// arp, rarp, tcp, udp, sctp, icmp, icmp6; and/&&, or/||, not/! and
// parentheses, with tcpdump's precedence (not binds tightest, and/or are
// equal and left-associative) and its reuse of qualifiers by bare ids
// ("port 80 or 443"). Anything else is an *Error naming the token.
package filter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// MaxInstructions is the kernel's limit on a classic BPF program
// (BPF_MAXINSNS).
const MaxInstructions = 4096

// MaxSnapLen is the largest snapshot length a filter returns, libpcap's
// MAXIMUM_SNAPLEN; zero or larger requests are clamped to it.
const MaxSnapLen = 262144

// Options tune a compiled program.
type Options struct {
	// SnapLen is what the program returns for an accepted frame, so the
	// kernel cuts frames to it before copying them to user space.
	SnapLen uint32
	// ExcludeTCPPorts drops TCP segments from or to these ports whatever
	// the expression says: an agent excludes its own listening port so the
	// capture does not feed on the stream carrying it.
	ExcludeTCPPorts []uint16
}

// Compile parses expr and returns a classic BPF program that accepts the
// Ethernet frames it matches (returning opts.SnapLen) and drops the rest.
// An empty expr accepts everything not excluded. Errors are *Error.
func Compile(expr string, opts Options) ([]bpf.Instruction, error) {
	root, err := parse(expr)
	if err != nil {
		return nil, err
	}
	var tree irAnd
	for _, p := range opts.ExcludeTCPPorts {
		tree = append(tree, irNot{lower(&portNode{proto: "tcp", lo: p, hi: p})})
	}
	if root != nil {
		tree = append(tree, lower(root))
	}
	snap := opts.SnapLen
	if snap == 0 || snap > MaxSnapLen {
		snap = MaxSnapLen
	}
	prog := assemble(tree, snap)
	if len(prog) > MaxInstructions {
		return nil, &Error{Pos: -1, Msg: fmt.Sprintf("expression compiles to %d BPF instructions, the kernel allows %d", len(prog), MaxInstructions)}
	}
	return prog, nil
}

// Check reports whether expr is in the supported subset without building
// a program, for validating user input early (a CLI flag).
func Check(expr string) error {
	_, err := parse(expr)
	return err
}

// label names a position in the program that jumps resolve to.
type label int

type itemKind uint8

const (
	itemIns   itemKind = iota // a plain instruction
	itemMark                  // the position of a label
	itemJump                  // unconditional jump to t
	itemCJump                 // conditional jump: t when the test holds, else f
)

type item struct {
	kind itemKind
	ins  bpf.Instruction
	test bpf.JumpTest
	k    uint32
	t, f label
	long bool // conditional jump too far for 8-bit offsets: use trampolines
	zero bool // unconditional jump to the very next position: omitted
}

// gen emits items for ir with explicit true/false targets (short-circuit
// evaluation, as libpcap's code generator does).
type gen struct {
	items  []item
	labels int
}

func (g *gen) newLabel() label { g.labels++; return label(g.labels) }

func (g *gen) mark(l label) { g.items = append(g.items, item{kind: itemMark, t: l}) }

func (g *gen) ins(i bpf.Instruction) { g.items = append(g.items, item{kind: itemIns, ins: i}) }

func (g *gen) jump(l label) { g.items = append(g.items, item{kind: itemJump, t: l}) }

func (g *gen) emit(n ir, t, f label) {
	switch n := n.(type) {
	case irTrue:
		g.jump(t)
	case irNot:
		g.emit(n.x, f, t)
	case irAnd:
		if len(n) == 0 {
			g.jump(t)
		}
		for i, x := range n {
			if i == len(n)-1 {
				g.emit(x, t, f)
				break
			}
			next := g.newLabel()
			g.emit(x, next, f)
			g.mark(next)
		}
	case irOr:
		if len(n) == 0 {
			g.jump(f)
		}
		for i, x := range n {
			if i == len(n)-1 {
				g.emit(x, t, f)
				break
			}
			next := g.newLabel()
			g.emit(x, t, next)
			g.mark(next)
		}
	case irCond:
		if n.mode == loadIPv4 {
			g.ins(bpf.LoadMemShift{Off: offIP})
			g.ins(bpf.LoadIndirect{Off: offIP + n.off, Size: n.size})
		} else {
			g.ins(bpf.LoadAbsolute{Off: n.off, Size: n.size})
		}
		if n.mask != 0 {
			g.ins(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: n.mask})
		}
		test := map[cmpOp]bpf.JumpTest{cmpEq: bpf.JumpEqual, cmpGt: bpf.JumpGreaterThan,
			cmpGe: bpf.JumpGreaterOrEqual, cmpSet: bpf.JumpBitsSet}[n.op]
		g.items = append(g.items, item{kind: itemCJump, test: test, k: n.k, t: t, f: f})
	}
}

// assemble generates the program and resolves labels to jump offsets.
func assemble(tree ir, snap uint32) []bpf.Instruction {
	g := &gen{}
	accept, reject := g.newLabel(), g.newLabel()
	g.emit(tree, accept, reject)
	g.mark(accept)
	g.ins(bpf.RetConstant{Val: snap})
	g.mark(reject)
	g.ins(bpf.RetConstant{Val: 0})
	return g.layout()
}

func (g *gen) layout() []bpf.Instruction {
	// A jump to a label that directly follows it (only marks between) is
	// a no-op and is dropped.
	for i := range g.items {
		if g.items[i].kind != itemJump {
			continue
		}
		for j := i + 1; j < len(g.items) && g.items[j].kind == itemMark; j++ {
			if g.items[j].t == g.items[i].t {
				g.items[i].zero = true
				break
			}
		}
	}
	pos := make([]int, len(g.items))
	at := make(map[label]int)
	for {
		n := 0
		for i, it := range g.items {
			pos[i] = n
			switch {
			case it.kind == itemMark:
				at[it.t] = n
			case it.kind == itemJump && it.zero:
			case it.kind == itemCJump && it.long:
				n += 3
			default:
				n++
			}
		}
		// Growing a jump only moves later code further away, so marking
		// more jumps long converges.
		changed := false
		for i, it := range g.items {
			if it.kind == itemCJump && !it.long &&
				(at[it.t]-pos[i]-1 > 255 || at[it.f]-pos[i]-1 > 255) {
				g.items[i].long = true
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	var prog []bpf.Instruction
	for i, it := range g.items {
		p := pos[i]
		switch it.kind {
		case itemIns:
			prog = append(prog, it.ins)
		case itemJump:
			if !it.zero {
				prog = append(prog, bpf.Jump{Skip: uint32(at[it.t] - p - 1)})
			}
		case itemCJump:
			if it.long {
				prog = append(prog,
					bpf.JumpIf{Cond: it.test, Val: it.k, SkipTrue: 0, SkipFalse: 1},
					bpf.Jump{Skip: uint32(at[it.t] - p - 2)},
					bpf.Jump{Skip: uint32(at[it.f] - p - 3)})
				break
			}
			prog = append(prog, bpf.JumpIf{Cond: it.test, Val: it.k,
				SkipTrue: uint8(at[it.t] - p - 1), SkipFalse: uint8(at[it.f] - p - 1)})
		}
	}
	return prog
}
