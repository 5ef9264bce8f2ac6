// Package netnstest creates throw-away network namespaces and veth links
// for tests that need real interfaces and real traffic, isolated from the
// host. Namespaces are named "tapview-test-" plus a random suffix and are
// deleted when the test ends, whether it passed or not. Tests are skipped
// with the reason when the process may not create namespaces.
package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tapview/tapview/sources/live/netns"
)

// Prefix starts the name of every namespace this package creates.
const Prefix = "tapview-test-"

// NS is a network namespace created for one test.
type NS struct {
	// Name is the `ip netns` name.
	Name string
}

// New creates a namespace with its loopback up and deletes it at the end
// of the test. It skips the test when not running as root or when the
// kernel or container refuses namespaces.
func New(t testing.TB) *NS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root to create network namespaces (running as uid %d)", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2) to create network namespaces")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	ns := &NS{Name: Prefix + hex.EncodeToString(b[:])}
	if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace (ip netns add: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			t.Errorf("delete namespace %s: %v: %s", ns.Name, err, out)
		}
	})
	ns.Exec(t, "ip", "link", "set", "lo", "up")
	return ns
}

// Path is the namespace file, for netns.Do.
func (n *NS) Path() string { return netns.Path(n.Name) }

// Exec runs a command inside the namespace and fails the test when it
// fails. It returns the combined output.
func (n *NS) Exec(t testing.TB, args ...string) string {
	t.Helper()
	full := append([]string{"netns", "exec", n.Name}, args...)
	out, err := exec.Command("ip", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(full, " "), err, out)
	}
	return string(out)
}

// Do runs fn with its sockets created inside the namespace; see netns.Do.
func (n *NS) Do(t testing.TB, fn func() error) {
	t.Helper()
	if err := netns.Do(n.Path(), fn); err != nil {
		t.Fatalf("in namespace %s: %v", n.Name, err)
	}
}

// Link connects two namespaces with a veth pair: ifA with address addrA
// (CIDR) in a, ifB with addrB in b, both up. The pair disappears with
// either namespace.
func Link(t testing.TB, a *NS, ifA, addrA string, b *NS, ifB, addrB string) {
	t.Helper()
	a.Exec(t, "ip", "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b.Name)
	a.Exec(t, addrCmd(addrA, ifA)...)
	b.Exec(t, addrCmd(addrB, ifB)...)
	a.Exec(t, "ip", "link", "set", ifA, "up")
	b.Exec(t, "ip", "link", "set", ifB, "up")
}

// addrCmd adds an address; IPv6 skips duplicate address detection so the
// address is usable at once.
func addrCmd(addr, dev string) []string {
	cmd := []string{"ip", "addr", "add", addr, "dev", dev}
	if strings.Contains(addr, ":") {
		cmd = append(cmd, "nodad")
	}
	return cmd
}
