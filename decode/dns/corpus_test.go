package dns

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
)

// dnsCaptures are the corpus files with DNS (or mDNS) traffic.
var dnsCaptures = []string{
	"dns_udp_query_response.pcap",
	"dns_tcp_query_response.pcap",
	"mix_non_http_services.pcap",
	"pcapng_multi_interface_ns_us.pcapng",
	"grpc_unary.pcapng",
}

// msgSummary is what both tshark and tapview say about one DNS message:
// query or response, id, question names and types, and the A, AAAA and
// CNAME rdata of all sections in order.
func msgSummary(resp bool, id int, names, types, a, aaaa, cname []string) string {
	kind := "Q"
	if resp {
		kind = "R"
	}
	return fmt.Sprintf("%s id=%d q=%s/%s a=%s aaaa=%s cname=%s", kind, id,
		strings.Join(names, ","), strings.Join(types, ","),
		strings.Join(a, ","), strings.Join(aaaa, ","), strings.Join(cname, ","))
}

// ourSummaries re-reads the Body of every published DNS message.
func ourSummaries(t *testing.T, exs []*decode.Exchange) []string {
	var out []string
	for _, x := range exs {
		if x.Proto != "dns" {
			continue
		}
		for _, m := range []*decode.Message{x.Request, x.Response} {
			if m == nil {
				continue
			}
			pm, err := parseMessage(m.Body)
			if pm == nil {
				t.Fatalf("exchange %d: body does not parse: %v", x.ID, err)
			}
			var names, types, a, aaaa, cname []string
			for _, q := range pm.questions {
				names = append(names, trimDot(q.name))
				types = append(types, strconv.Itoa(int(q.qtype)))
			}
			for _, sec := range pm.sections {
				for _, r := range sec {
					switch r.rtype {
					case typeA:
						a = append(a, r.data)
					case typeAAAA:
						aaaa = append(aaaa, r.data)
					case typeCNAME:
						cname = append(cname, trimDot(r.data))
					}
				}
			}
			out = append(out, msgSummary(pm.response, int(pm.id), names, types, a, aaaa, cname))
		}
	}
	slices.Sort(out)
	return out
}

// tsharkSummaries asks tshark about every DNS, mDNS and LLMNR message.
func tsharkSummaries(t *testing.T, path string) []string {
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed; skipping the comparison with tshark's dissection")
	}
	out, err := exec.Command(bin, "-n", "-r", path, "-Y", "dns || mdns || llmnr", "-T", "fields",
		"-E", "aggregator=|", "-E", "occurrence=a",
		"-e", "dns.flags.response", "-e", "dns.id", "-e", "dns.qry.name", "-e", "dns.qry.type",
		"-e", "dns.a", "-e", "dns.aaaa", "-e", "dns.cname").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, "|")
	}
	var sums []string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		for len(f) < 7 {
			f = append(f, "")
		}
		id, err := strconv.ParseInt(f[1], 0, 32)
		if err != nil {
			t.Fatalf("tshark id %q: %v", f[1], err)
		}
		sums = append(sums, msgSummary(f[0] == "1" || f[0] == "True", int(id), split(f[2]), split(f[3]), split(f[4]), split(f[5]), split(f[6])))
	}
	slices.Sort(sums)
	return sums
}

// TestCorpusMatchesTshark decodes every DNS capture and compares each
// message tapview published with tshark's dissection of the same file.
func TestCorpusMatchesTshark(t *testing.T) {
	for _, name := range dnsCaptures {
		t.Run(name, func(t *testing.T) {
			col := decodeCorpus(t, name)
			got := ourSummaries(t, col.Exchanges())
			want := tsharkSummaries(t, filepath.Join(corpustest.Dir(t), name))
			if !slices.Equal(got, want) {
				t.Errorf("messages differ from tshark:\n%s", diffLines(want, got))
			}
		})
	}
}

// diffLines lists lines only in want (-) or only in got (+).
func diffLines(want, got []string) string {
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	for _, g := range got {
		count[g]--
	}
	var b strings.Builder
	for _, w := range want {
		if count[w] > 0 {
			fmt.Fprintf(&b, "- %s\n", w)
			count[w]--
		}
	}
	for _, g := range got {
		if count[g] < 0 {
			fmt.Fprintf(&b, "+ %s\n", g)
			count[g]++
		}
	}
	return b.String()
}

// TestCorpusPairs checks pairing and the exchange summary against the
// manifest and against facts read off the captures.
func TestCorpusPairs(t *testing.T) {
	rows := map[string]corpustest.Row{}
	for _, r := range corpustest.Manifest(t) {
		rows[r["file"]] = r
	}
	for _, name := range dnsCaptures {
		t.Run(name, func(t *testing.T) {
			col := decodeCorpus(t, name)
			queries := 0
			for _, x := range col.Exchanges() {
				if x.Proto != "dns" {
					continue
				}
				if !x.State.Final() {
					t.Errorf("exchange %d left %s after Finish", x.ID, x.State)
				}
				if x.Request != nil {
					queries++
				}
				unicast := x.Server.Port() == 53 || x.Client.Port() == 53
				if unicast && x.State != decode.Complete {
					t.Errorf("unicast exchange %d %s %s is %s (%s)", x.ID, x.DNS.Name, x.DNS.Type, x.State, x.Error)
				}
				if x.DNS == nil || x.DNS.Name == "" || x.DNS.Type == "" {
					t.Errorf("exchange %d has no DNS summary: %+v", x.ID, x.DNS)
				}
			}
			if want := rows[name].Int(t, "dns_queries"); queries != want {
				t.Errorf("queries: got %d, manifest dns_queries %d", queries, want)
			}
			for _, f := range col.Flows() {
				if f.Server.Port() == 53 && f.Proto != "dns" {
					t.Errorf("flow %d %s -> %s: proto %q, want dns", f.ID, f.Client, f.Server, f.Proto)
				}
			}
		})
	}
}

// TestCorpusUDPExchange pins the summary of the single UDP exchange
// (values read off the capture with tshark).
func TestCorpusUDPExchange(t *testing.T) {
	col := decodeCorpus(t, "dns_udp_query_response.pcap")
	var dns []*decode.Exchange
	for _, x := range col.Exchanges() {
		if x.Proto == "dns" {
			dns = append(dns, x)
		}
	}
	if len(dns) != 1 {
		t.Fatalf("got %d dns exchanges, want 1", len(dns))
	}
	x := dns[0]
	if x.State != decode.Complete || x.DNS.ID != 0x5934 || x.DNS.Name != "www.tcpdump.org" || x.DNS.Type != "A" || x.DNS.Rcode != "NOERROR" {
		t.Errorf("summary: state %s %+v", x.State, x.DNS)
	}
	// tshark: 2 answers; the other A records are glue in the additional
	// section.
	wantAnswers := []string{"A 192.139.46.66", "A 198.199.88.104"}
	if !slices.Equal(x.DNS.Answers, wantAnswers) {
		t.Errorf("answers %q, want %q", x.DNS.Answers, wantAnswers)
	}
	if x.Request.Method != "" || x.Latency() <= 0 {
		t.Errorf("method %q latency %v", x.Request.Method, x.Latency())
	}
	if x.Response.BodySize != int64(len(x.Response.Body)) || x.Response.BodySize < 100 {
		t.Errorf("response body %d bytes, size %d", len(x.Response.Body), x.Response.BodySize)
	}
}

// TestCorpusNoFalsePositives decodes every capture of the corpus: DNS in
// it only runs on DNS, mDNS and LLMNR ports, so a flow detected as DNS
// anywhere else is a false positive, and a DNS-port flow with DNS
// traffic that is not detected is a miss.
func TestCorpusNoFalsePositives(t *testing.T) {
	for _, row := range corpustest.Manifest(t) {
		name := row["file"]
		t.Run(name, func(t *testing.T) {
			col := decodeCorpus(t, name)
			for _, f := range col.Flows() {
				onPort := dnsPort(f.Client.Port()) || dnsPort(f.Server.Port())
				isDNS := f.Proto == "dns"
				if isDNS != onPort && (isDNS || f.PacketsC2S+f.PacketsS2C > 0 && f.BytesC2S+f.BytesS2C > 0 && f.Transport == "udp") {
					t.Errorf("flow %s %s -> %s (%d bytes): proto %q", f.Transport, f.Client, f.Server, f.BytesC2S+f.BytesS2C, f.Proto)
				}
			}
		})
	}
}
