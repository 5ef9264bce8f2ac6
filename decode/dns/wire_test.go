package dns

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// build encodes a message with x/net's builder (with name compression), an
// encoder independent of the parser under test.
func build(t testing.TB, h dnsmessage.Header, qs []dnsmessage.Question, add func(b *dnsmessage.Builder) error) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, h)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if err := b.Question(q); err != nil {
			t.Fatal(err)
		}
	}
	if add != nil {
		if err := add(&b); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func q(name string, typ dnsmessage.Type) dnsmessage.Question {
	return dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}
}

func rh(name string, ttl uint32) dnsmessage.ResourceHeader {
	return dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: dnsmessage.ClassINET, TTL: ttl}
}

// query is a recursive A query for name with the given id.
func query(t testing.TB, id uint16, name string, typ dnsmessage.Type) []byte {
	return build(t, dnsmessage.Header{ID: id, RecursionDesired: true}, []dnsmessage.Question{q(name, typ)}, nil)
}

// richResponse answers www.example.org with one record of each common
// type across all three record sections.
func richResponse(t testing.TB, id uint16) []byte {
	return build(t, dnsmessage.Header{ID: id, Response: true, RecursionDesired: true, RecursionAvailable: true},
		[]dnsmessage.Question{q("www.example.org.", dnsmessage.TypeA)},
		func(b *dnsmessage.Builder) error {
			if err := b.StartAnswers(); err != nil {
				return err
			}
			errs := []error{
				b.CNAMEResource(rh("www.example.org.", 60), dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName("web.example.org.")}),
				b.AResource(rh("web.example.org.", 300), dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}}),
				b.AAAAResource(rh("web.example.org.", 300), dnsmessage.AAAAResource{AAAA: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}}),
				b.MXResource(rh("example.org.", 10), dnsmessage.MXResource{Pref: 5, MX: dnsmessage.MustNewName("mail.example.org.")}),
				b.TXTResource(rh("example.org.", 10), dnsmessage.TXTResource{TXT: []string{"v=spf1 -all", `say "hi"\`}}),
				b.SRVResource(rh("_sip._tcp.example.org.", 10), dnsmessage.SRVResource{Priority: 1, Weight: 2, Port: 5060, Target: dnsmessage.MustNewName("sip.example.org.")}),
				b.PTRResource(rh("1.2.0.192.in-addr.arpa.", 10), dnsmessage.PTRResource{PTR: dnsmessage.MustNewName("web.example.org.")}),
				b.StartAuthorities(),
				b.NSResource(rh("example.org.", 3600), dnsmessage.NSResource{NS: dnsmessage.MustNewName("ns1.example.org.")}),
				b.SOAResource(rh("example.org.", 3600), dnsmessage.SOAResource{NS: dnsmessage.MustNewName("ns1.example.org."), MBox: dnsmessage.MustNewName("hostmaster.example.org."), Serial: 2024010101, Refresh: 7200, Retry: 900, Expire: 1209600, MinTTL: 300}),
				b.StartAdditionals(),
				b.AResource(rh("ns1.example.org.", 3600), dnsmessage.AResource{A: [4]byte{192, 0, 2, 53}}),
				b.OPTResource(dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("."), Class: 1232, TTL: 1<<24 | 0x8000}, dnsmessage.OPTResource{Options: []dnsmessage.Option{{Code: 10, Data: []byte("12345678")}}}),
			}
			return errors.Join(errs...)
		})
}

func TestParseRichResponse(t *testing.T) {
	raw := richResponse(t, 0xbeef)
	m, err := parseMessage(raw)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if m.id != 0xbeef || !m.response || m.end != len(raw) {
		t.Fatalf("header: id %x response %v end %d/%d", m.id, m.response, m.end, len(raw))
	}
	// The OPT record's TTL carries extended rcode 1: 1<<4 | 0 = BADVERS.
	if got := rcodeName(m.rcode()); got != "BADVERS" {
		t.Errorf("rcode %s, want BADVERS", got)
	}
	want := map[int][]string{
		secAnswer: {
			"www.example.org. 60 IN CNAME web.example.org.",
			"web.example.org. 300 IN A 192.0.2.1",
			"web.example.org. 300 IN AAAA 2001:db8::1",
			"example.org. 10 IN MX 5 mail.example.org.",
			`example.org. 10 IN TXT "v=spf1 -all" "say \"hi\"\\"`,
			"_sip._tcp.example.org. 10 IN SRV 1 2 5060 sip.example.org.",
			"1.2.0.192.in-addr.arpa. 10 IN PTR web.example.org.",
		},
		secAuthority: {
			"example.org. 3600 IN NS ns1.example.org.",
			"example.org. 3600 IN SOA ns1.example.org. hostmaster.example.org. 2024010101 7200 900 1209600 300",
		},
		secAdditional: {
			"ns1.example.org. 3600 IN A 192.0.2.53",
			". OPT udp=1232 version=0 do cookie",
		},
	}
	for s, lines := range want {
		var got []string
		for _, r := range m.sections[s] {
			got = append(got, recordLine(r))
		}
		if strings.Join(got, "\n") != strings.Join(lines, "\n") {
			t.Errorf("%s section:\n got %q\nwant %q", sectionName[s], got, lines)
		}
	}
	as := answers(m)
	if as[0] != "CNAME web.example.org." || as[1] != "A 192.0.2.1" || len(as) != 7 {
		t.Errorf("answers %q", as)
	}
}

// TestParseAgreesWithXNet checks the question and record names of every
// message against x/net's parser.
func TestParseAgreesWithXNet(t *testing.T) {
	for _, raw := range [][]byte{richResponse(t, 1), query(t, 2, "a.b.c.", dnsmessage.TypeAAAA)} {
		var p dnsmessage.Parser
		if _, err := p.Start(raw); err != nil {
			t.Fatal(err)
		}
		qs, err := p.AllQuestions()
		if err != nil {
			t.Fatal(err)
		}
		m, err := parseMessage(raw)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range qs {
			if m.questions[i].name != x.Name.String() || m.questions[i].qtype != uint16(x.Type) {
				t.Errorf("question %d: %s %d, x/net %s %d", i, m.questions[i].name, m.questions[i].qtype, x.Name, x.Type)
			}
		}
		ans, err := p.AllAnswers()
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range ans {
			if m.sections[secAnswer][i].name != r.Header.Name.String() {
				t.Errorf("answer %d owner %s, x/net %s", i, m.sections[secAnswer][i].name, r.Header.Name)
			}
		}
	}
}

func TestReadNameHostile(t *testing.T) {
	hdr := make([]byte, headerLen)
	cases := []struct {
		name string
		body []byte
		want error
	}{
		{"pointer to itself", []byte{0xc0, 12}, errNamePointer},
		{"pointer forward", []byte{0xc0, 14, 0}, errNamePointer},
		{"pointer loop via label", []byte{1, 'a', 0xc0, 12}, errNamePointer},
		{"reserved label type", []byte{0x40, 0}, errLabelType},
		{"label past end", []byte{5, 'a', 'b'}, errNameRange},
		{"no terminator", []byte{1, 'a'}, errNameRange},
		{"half pointer", []byte{0xc0}, errNameRange},
		{"too long", append(append([]byte{}, repeatLabels(5, 63)...), 0), errNameLong},
	}
	for _, c := range cases {
		b := append(append([]byte{}, hdr...), c.body...)
		if _, _, err := readName(b, headerLen); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

func repeatLabels(n, size int) []byte {
	var out []byte
	for i := 0; i < n; i++ {
		out = append(out, byte(size))
		out = append(out, strings.Repeat("x", size)...)
	}
	return out
}

func TestReadNameEscapes(t *testing.T) {
	b := append(make([]byte, headerLen), 4, 'a', '.', 0x01, '\\', 4, 0xe2, 0x80, 0x99, 's', 3, 0xff, ' ', 'z', 0)
	got, next, err := readName(b, headerLen)
	if err != nil || next != len(b) {
		t.Fatalf("err %v next %d", err, next)
	}
	if want := `a\.\001\\.’s.\255 z.`; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	// A chain of backward pointers within maxPointers is followed.
	c := append(make([]byte, headerLen), 1, 'a', 0, 1, 'b', 0xc0, 12, 1, 'c', 0xc0, 15)
	got, next, err = readName(c, 19)
	if err != nil || got != "c.b.a." || next != len(c) {
		t.Errorf("chain: %q %d %v", got, next, err)
	}
}

func TestParseTruncatedResponseKeepsQuestion(t *testing.T) {
	raw := richResponse(t, 7)
	m, err := parseMessage(raw[:len(raw)-30])
	if err == nil || m == nil {
		t.Fatalf("want a partial message and an error, got %v %v", m, err)
	}
	if len(m.questions) != 1 || m.parsed[secAnswer] != 7 {
		t.Errorf("partial: %d questions, %d answers", len(m.questions), m.parsed[secAnswer])
	}
	if _, err := parseMessage(raw[:headerLen+3]); err == nil {
		t.Error("a message cut inside its question must fail")
	}
}

func TestRdataFormats(t *testing.T) {
	cases := []struct {
		typ  uint16
		rd   []byte
		want string
	}{
		{typeCAA, append([]byte{0, 5}, "issueletsencrypt.org"...), `0 issue "letsencrypt.org"`},
		{typeHTTPS, []byte{0, 1, 0, 0, 1, 0, 6, 2, 'h', '2', 2, 'h', '3', 0, 4, 0, 4, 192, 0, 2, 1}, "1 . alpn=h2,h3 ipv4hint=192.0.2.1"},
		{typeNSEC, append([]byte{3, 'f', 'o', 'o', 0}, 0, 6, 0x40, 0x01, 0x80, 0x08, 0, 0x03), "foo. A MX TXT AAAA RRSIG NSEC"},
		{99 + 1000, []byte{1, 2, 3}, `\# 3 010203`},
	}
	for _, c := range cases {
		b := append(make([]byte, headerLen), c.rd...)
		got, err := formatRdata(b, headerLen, len(c.rd), record{rtype: c.typ})
		if err != nil || got != c.want {
			t.Errorf("type %d: %q %v, want %q", c.typ, got, err, c.want)
		}
	}
	if _, err := formatRdata(append(make([]byte, headerLen), 1, 2, 3), headerLen, 3, record{rtype: typeA}); err == nil {
		t.Error("a 3-byte A record must fail")
	}
}

func TestSummary(t *testing.T) {
	info, err := Summary(richResponse(t, 0x77))
	if err != nil || info.ID != 0x77 || info.Name != "www.example.org" || info.Type != "A" || info.Rcode != "BADVERS" || len(info.Answers) != 7 {
		t.Errorf("response summary %+v %v", info, err)
	}
	info, err = Summary(query(t, 1, "doh.example.", dnsmessage.TypeHTTPS))
	if err != nil || info.Name != "doh.example" || info.Type != "HTTPS" || info.Rcode != "" || info.Answers != nil {
		t.Errorf("query summary %+v %v", info, err)
	}
	if _, err := Summary([]byte{1, 2}); err == nil {
		t.Error("a 2-byte message must fail")
	}
}
