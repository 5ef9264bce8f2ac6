package mesh

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/tapview/tapview/decode"
)

// Bounds of the DNS cache.
const (
	maxDNSAddrs   = 4096 // addresses remembered
	maxAddrsPerNm = 8    // addresses kept per name
)

// dnsCache remembers what DNS answers seen in the capture said: which name
// the pod asked for to get an address, and which addresses a name had. A
// connection to an address is then shown by the name the app used. TTLs
// are ignored: a capture is short, and a name the app resolved stays its
// intent for the connections it opened. Entries go in insertion order
// when the cache is full.
type dnsCache struct {
	byIP   map[netip.Addr]dnsEntry
	byName map[string][]netip.Addr
	order  []netip.Addr
	// suffixes are the cluster's search domains as the pod's queries
	// show them ("shop.svc.cluster.local", "svc.cluster.local",
	// "cluster.local"): a resolver with Kubernetes' search list and
	// ndots:5 asks for "reviews.shop.shop.svc.cluster.local", then
	// "reviews.shop.svc.cluster.local", before "reviews.shop" itself.
	suffixes []string
}

// maxSuffixes bounds the search domains learnt.
const maxSuffixes = 16

type dnsEntry struct {
	name string
	ptr  bool // from a reverse lookup: weaker than a forward answer
}

func newDNSCache() *dnsCache {
	return &dnsCache{byIP: make(map[netip.Addr]dnsEntry), byName: make(map[string][]netip.Addr)}
}

// add records the answers of a DNS exchange: A and AAAA answers map to
// the question's name (what the app asked, not the CNAME target), PTR
// answers name the address of a reverse query unless a forward answer
// already did.
func (c *dnsCache) add(d *decode.DNSInfo) {
	if d == nil {
		return
	}
	qname := normalizeName(d.Name)
	c.learnSuffixes(qname)
	if d.Rcode != "NOERROR" {
		return
	}
	for _, a := range d.Answers {
		typ, data, ok := strings.Cut(a, " ")
		if !ok {
			continue
		}
		switch typ {
		case "A", "AAAA":
			ip, err := netip.ParseAddr(strings.TrimSpace(data))
			if err != nil {
				continue
			}
			c.put(ip.Unmap(), dnsEntry{name: qname})
			c.addName(qname, ip.Unmap())
		case "PTR":
			ip, ok := reverseAddr(qname)
			if !ok {
				continue
			}
			if old, ok := c.byIP[ip]; ok && !old.ptr {
				continue
			}
			c.put(ip, dnsEntry{name: normalizeName(strings.TrimSpace(data)), ptr: true})
		}
	}
}

func (c *dnsCache) put(ip netip.Addr, e dnsEntry) {
	if _, ok := c.byIP[ip]; !ok {
		if len(c.order) >= maxDNSAddrs {
			old := c.order[0]
			c.order = c.order[1:]
			delete(c.byIP, old)
		}
		c.order = append(c.order, ip)
	}
	c.byIP[ip] = e
}

func (c *dnsCache) addName(name string, ip netip.Addr) {
	ips := c.byName[name]
	for _, x := range ips {
		if x == ip {
			return
		}
	}
	if len(ips) >= maxAddrsPerNm {
		return
	}
	if len(c.byName) >= maxDNSAddrs {
		clear(c.byName) // rare; names are learnt again from later answers
	}
	c.byName[name] = append(ips, ip)
}

// name returns the name the pod resolved to get ip, or "".
func (c *dnsCache) name(ip netip.Addr) string {
	return c.byIP[ip.Unmap()].name
}

// addrs returns the addresses DNS gave for name.
func (c *dnsCache) addrs(name string) []netip.Addr { return c.byName[name] }

// reverseAddr parses an in-addr.arpa or ip6.arpa query name.
func reverseAddr(q string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(q, ".in-addr.arpa"); ok {
		p := strings.Split(rest, ".")
		if len(p) != 4 {
			return netip.Addr{}, false
		}
		ip, err := netip.ParseAddr(p[3] + "." + p[2] + "." + p[1] + "." + p[0])
		return ip, err == nil
	}
	if rest, ok := strings.CutSuffix(q, ".ip6.arpa"); ok {
		p := strings.Split(rest, ".")
		if len(p) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, nib := range p {
			if len(nib) != 1 {
				return netip.Addr{}, false
			}
			v := strings.IndexByte("0123456789abcdef", nib[0])
			if v < 0 {
				return netip.Addr{}, false
			}
			pos := 31 - i
			b[pos/2] |= byte(v) << (4 * (1 - pos%2))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

// learnSuffixes takes the search domains of a cluster from a query for a
// name under "NS.svc.DOMAIN".
func (c *dnsCache) learnSuffixes(q string) {
	i := strings.Index(q, ".svc.")
	if i <= 0 || len(c.suffixes) >= maxSuffixes {
		return
	}
	domain := q[i+len(".svc."):]
	ns := q[:i]
	ns = ns[strings.LastIndexByte(ns, '.')+1:]
	for _, s := range [...]string{ns + ".svc." + domain, "svc." + domain, domain} {
		if !slices.Contains(c.suffixes, s) && len(c.suffixes) < maxSuffixes {
			c.suffixes = append(c.suffixes, s)
		}
	}
}

// clusterDomain reports whether name is, or lies under, a search domain
// of the cluster.
func (c *dnsCache) clusterDomain(name string) bool {
	for _, s := range c.suffixes {
		if name == s || strings.HasSuffix(name, "."+s) {
			return true
		}
	}
	return false
}

// searchAddrs returns the addresses DNS gave for name completed with a
// search domain of the cluster ("reviews.shop" as
// "reviews.shop.svc.cluster.local").
func (c *dnsCache) searchAddrs(name string) []netip.Addr {
	for _, s := range c.suffixes {
		if ips := c.byName[name+"."+s]; len(ips) > 0 {
			return ips
		}
	}
	return nil
}
