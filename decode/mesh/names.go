package mesh

import (
	"net/netip"
	"strings"
)

// DefaultEgressSuffixes are the name suffixes of egress proxies that stand
// for an external host: "api.github.com.egress.local" is api.github.com
// reached through the proxy.
func DefaultEgressSuffixes() []string { return []string{".egress.local"} }

// scope tells addresses inside the cluster from outside ones.
type scope struct {
	cidrs []netip.Prefix
}

// inside reports whether a is the cluster's (or a private network's):
// the pod/service CIDRs when known, else RFC 1918, ULA and shared space;
// loopback, link-local, multicast and unspecified addresses always.
func (s scope) inside(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsMulticast() || a.IsUnspecified() || !a.IsValid() {
		return true
	}
	if a.Is4() && a.As4()[0] == 255 {
		return true // broadcast
	}
	if len(s.cidrs) > 0 {
		for _, p := range s.cidrs {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if a.IsPrivate() {
		return true
	}
	if a.Is4() {
		b := a.As4()
		return b[0] == 100 && b[1]&0xc0 == 64 // RFC 6598 shared space
	}
	return false
}

// normalizeName lower-cases a host name and drops a port, brackets and a
// trailing dot.
func normalizeName(n string) string { return hostOnly(n) }

// egressHost returns the external host an egress-proxy name stands for
// ("api.github.com.egress.local" -> "api.github.com"), and whether name is
// such a name at all. The host is "" when the name does not spell one
// ("github.egress.local").
func egressHost(name string, suffixes []string) (string, bool) {
	for _, s := range suffixes {
		if rest, ok := strings.CutSuffix(name, s); ok && rest != "" {
			if strings.Contains(rest, ".") && publicName(rest) {
				return rest, true
			}
			return "", true
		}
	}
	return "", false
}

// internalSuffix reports names that never leave a cluster or a site.
func internalSuffix(name string) bool {
	for _, s := range [...]string{".local", ".svc", ".internal", ".localhost", ".localdomain", ".lan",
		".home.arpa", ".arpa", ".test", ".invalid", ".intranet", ".corp", ".home", ".cluster"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// publicTLD reports generic top-level domains common enough to call a
// name with them public without DNS; two-letter country codes count too.
func publicTLD(tld string) bool {
	switch tld {
	case "com", "net", "org", "io", "dev", "app", "ai", "co", "cloud", "info", "biz", "me", "tech",
		"xyz", "site", "online", "gov", "edu", "mil", "int", "aws", "google", "page", "run", "sh",
		"tv", "goog", "azure", "microsoft", "amazon", "store", "shop", "blog":
		return true
	}
	return strings.HasPrefix(tld, "xn--") || len(tld) == 2 && isLetters(tld)
}

// publicName reports whether a host name looks like it lives on the
// internet: at least two labels and a known public top-level domain. It
// is the fallback when neither an address nor a DNS answer tells, so it
// leans towards "internal" for anything unusual ("reviews.default").
func publicName(name string) bool {
	if !strings.Contains(name, ".") || internalSuffix(name) {
		return false
	}
	return publicTLD(name[strings.LastIndexByte(name, '.')+1:])
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}
