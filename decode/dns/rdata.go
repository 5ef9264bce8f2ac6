package dns

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Record types with a dedicated rdata format.
const (
	typeA     = 1
	typeNS    = 2
	typeCNAME = 5
	typeSOA   = 6
	typePTR   = 12
	typeMX    = 15
	typeTXT   = 16
	typeAAAA  = 28
	typeSRV   = 33
	typeDNAME = 39
	typeOPT   = 41
	typeNSEC  = 47
	typeSVCB  = 64
	typeHTTPS = 65
	typeSPF   = 99
	typeCAA   = 257
)

// typeNames are the mnemonics of the IANA DNS parameters registry for the
// types a capture is likely to hold; others print as TYPEnnn (RFC 3597).
var typeNames = map[uint16]string{
	1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX",
	16: "TXT", 17: "RP", 18: "AFSDB", 24: "SIG", 25: "KEY", 28: "AAAA",
	29: "LOC", 33: "SRV", 35: "NAPTR", 36: "KX", 37: "CERT", 39: "DNAME",
	41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG",
	47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM",
	52: "TLSA", 53: "SMIMEA", 55: "HIP", 59: "CDS", 60: "CDNSKEY",
	61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB", 65: "HTTPS",
	99: "SPF", 249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR", 255: "ANY",
	256: "URI", 257: "CAA",
}

// typeName returns the mnemonic of a record type.
func typeName(t uint16) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// className returns the mnemonic of a class, without the mDNS top bit.
func className(c uint16) string {
	switch c & 0x7fff {
	case 1:
		return "IN"
	case 3:
		return "CH"
	case 4:
		return "HS"
	case 254:
		return "NONE"
	case 255:
		return "ANY"
	}
	return "CLASS" + strconv.Itoa(int(c&0x7fff))
}

var rcodeNames = [...]string{
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI",
	"RCODE12", "RCODE13", "RCODE14", "RCODE15", "BADVERS", "BADKEY",
	"BADTIME", "BADMODE", "BADNAME", "BADALG", "BADTRUNC", "BADCOOKIE",
}

// rcodeName returns the mnemonic of a (possibly extended) response code.
func rcodeName(rc int) string {
	if rc >= 0 && rc < len(rcodeNames) {
		return rcodeNames[rc]
	}
	return "RCODE" + strconv.Itoa(rc)
}

var errRdata = errors.New("rdata length does not match its content")

// formatRdata renders the n rdata bytes at off (names may point back into
// the whole message b) in zone-file presentation form.
func formatRdata(b []byte, off, n int, r record) (string, error) {
	rd := b[off : off+n]
	switch r.rtype {
	case typeA:
		if n != 4 {
			return "", errRdata
		}
		return netip.AddrFrom4([4]byte(rd)).String(), nil
	case typeAAAA:
		if n != 16 {
			return "", errRdata
		}
		return netip.AddrFrom16([16]byte(rd)).String(), nil
	case typeNS, typeCNAME, typePTR, typeDNAME:
		return nameRdata(b, off, n, "")
	case typeMX:
		if n < 3 {
			return "", errRdata
		}
		return nameRdata(b, off+2, n-2, strconv.Itoa(int(binary.BigEndian.Uint16(rd)))+" ")
	case typeSRV:
		if n < 7 {
			return "", errRdata
		}
		pre := strconv.Itoa(int(binary.BigEndian.Uint16(rd))) + " " +
			strconv.Itoa(int(binary.BigEndian.Uint16(rd[2:]))) + " " +
			strconv.Itoa(int(binary.BigEndian.Uint16(rd[4:]))) + " "
		return nameRdata(b, off+6, n-6, pre)
	case typeSOA:
		return soaRdata(b, off, n)
	case typeTXT, typeSPF:
		return txtRdata(rd)
	case typeCAA:
		return caaRdata(rd)
	case typeOPT:
		return optRdata(rd, r), nil
	case typeNSEC:
		return nsecRdata(b, off, n)
	case typeSVCB, typeHTTPS:
		return svcbRdata(rd)
	}
	return genericRdata(rd), nil
}

// nameRdata is rdata made of exactly one name, after a prefix.
func nameRdata(b []byte, off, n int, prefix string) (string, error) {
	name, next, err := readName(b[:off+n], off)
	if err != nil {
		return "", err
	}
	if next != off+n {
		return "", errRdata
	}
	return prefix + name, nil
}

func soaRdata(b []byte, off, n int) (string, error) {
	end := off + n
	mname, p, err := readName(b[:end], off)
	if err != nil {
		return "", err
	}
	rname, p, err := readName(b[:end], p)
	if err != nil {
		return "", err
	}
	if end-p != 20 {
		return "", errRdata
	}
	var sb strings.Builder
	sb.WriteString(mname + " " + rname)
	for i := 0; i < 5; i++ {
		sb.WriteByte(' ')
		sb.WriteString(strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[p+4*i:])), 10))
	}
	return sb.String(), nil
}

// charStrings splits rdata into RFC 1035 character-strings.
func charStrings(rd []byte) ([][]byte, error) {
	var out [][]byte
	for len(rd) > 0 {
		l := int(rd[0])
		if 1+l > len(rd) {
			return nil, errRdata
		}
		out = append(out, rd[1:1+l])
		rd = rd[1+l:]
	}
	return out, nil
}

func txtRdata(rd []byte) (string, error) {
	parts, err := charStrings(rd)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	for i, p := range parts {
		if i > 0 {
			sb.WriteByte(' ')
		}
		quote(&sb, p)
	}
	return sb.String(), nil
}

// quote writes a character-string in double quotes, escaping quotes,
// backslashes and non-printable bytes.
func quote(sb *strings.Builder, p []byte) {
	sb.WriteByte('"')
	for _, c := range p {
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			sb.WriteByte('\\')
			sb.WriteString(strconv.Itoa(int(c) + 1000)[1:])
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte('"')
}

func caaRdata(rd []byte) (string, error) {
	if len(rd) < 2 || 2+int(rd[1]) > len(rd) {
		return "", errRdata
	}
	var sb strings.Builder
	sb.WriteString(strconv.Itoa(int(rd[0])) + " ")
	sb.Write(printable(rd[2 : 2+int(rd[1])]))
	sb.WriteByte(' ')
	quote(&sb, rd[2+int(rd[1]):])
	return sb.String(), nil
}

// printable replaces bytes that are not printable ASCII with '?'.
func printable(p []byte) []byte {
	out := make([]byte, len(p))
	for i, c := range p {
		if c < 0x21 || c >= 0x7f {
			c = '?'
		}
		out[i] = c
	}
	return out
}

// optRdata summarises an EDNS(0) OPT pseudo-record: payload size (class),
// version and DO bit (TTL), and option codes.
func optRdata(rd []byte, r record) string {
	var sb strings.Builder
	sb.WriteString("udp=" + strconv.Itoa(int(r.class)))
	sb.WriteString(" version=" + strconv.Itoa(int(r.ttl>>16&0xff)))
	if r.ttl&0x8000 != 0 {
		sb.WriteString(" do")
	}
	for len(rd) >= 4 {
		code := binary.BigEndian.Uint16(rd)
		l := int(binary.BigEndian.Uint16(rd[2:]))
		if 4+l > len(rd) {
			sb.WriteString(" malformed-option")
			break
		}
		sb.WriteString(" " + optionName(code))
		rd = rd[4+l:]
	}
	return sb.String()
}

func optionName(code uint16) string {
	switch code {
	case 3:
		return "nsid"
	case 8:
		return "ecs"
	case 10:
		return "cookie"
	case 11:
		return "keepalive"
	case 12:
		return "padding"
	case 15:
		return "ede"
	}
	return "opt" + strconv.Itoa(int(code))
}

// nsecRdata is the next owner name and the type bitmap (RFC 4034 4.1).
func nsecRdata(b []byte, off, n int) (string, error) {
	end := off + n
	next, p, err := readName(b[:end], off)
	if err != nil {
		return "", err
	}
	types, err := typeBitmap(b[p:end])
	if err != nil {
		return "", err
	}
	if types == "" {
		return next, nil
	}
	return next + " " + types, nil
}

// typeBitmap renders RFC 4034 window blocks as type mnemonics.
func typeBitmap(bm []byte) (string, error) {
	var sb strings.Builder
	for len(bm) > 0 {
		if len(bm) < 2 || bm[1] == 0 || bm[1] > 32 || 2+int(bm[1]) > len(bm) {
			return "", errRdata
		}
		win := int(bm[0])
		bits := bm[2 : 2+int(bm[1])]
		for i, by := range bits {
			for j := 0; j < 8; j++ {
				if by&(0x80>>j) == 0 {
					continue
				}
				if sb.Len() > 0 {
					sb.WriteByte(' ')
				}
				sb.WriteString(typeName(uint16(win<<8 | i*8 + j)))
			}
		}
		bm = bm[2+int(bm[1]):]
	}
	return sb.String(), nil
}

// svcbRdata renders SVCB/HTTPS (RFC 9460): priority, target and params.
func svcbRdata(rd []byte) (string, error) {
	if len(rd) < 3 {
		return "", errRdata
	}
	prio := binary.BigEndian.Uint16(rd)
	// The target name is never compressed, so it parses on its own.
	target, p, err := readName(rd, 2)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString(strconv.Itoa(int(prio)) + " " + target)
	for rest := rd[p:]; len(rest) > 0; {
		if len(rest) < 4 {
			return "", errRdata
		}
		key := binary.BigEndian.Uint16(rest)
		l := int(binary.BigEndian.Uint16(rest[2:]))
		if 4+l > len(rest) {
			return "", errRdata
		}
		sb.WriteByte(' ')
		sb.WriteString(svcParam(key, rest[4:4+l]))
		rest = rest[4+l:]
	}
	return sb.String(), nil
}

func svcParam(key uint16, v []byte) string {
	switch key {
	case 1: // alpn: character-strings
		ids, err := charStrings(v)
		if err == nil {
			s := make([]string, len(ids))
			for i, id := range ids {
				s[i] = string(printable(id))
			}
			return "alpn=" + strings.Join(s, ",")
		}
	case 2:
		if len(v) == 0 {
			return "no-default-alpn"
		}
	case 3:
		if len(v) == 2 {
			return "port=" + strconv.Itoa(int(binary.BigEndian.Uint16(v)))
		}
	case 4:
		if len(v)%4 == 0 && len(v) > 0 {
			return "ipv4hint=" + addrList(v, 4)
		}
	case 5:
		return "ech=" + base64.StdEncoding.EncodeToString(v[:min(len(v), maxRdataHex)])
	case 6:
		if len(v)%16 == 0 && len(v) > 0 {
			return "ipv6hint=" + addrList(v, 16)
		}
	}
	return "key" + strconv.Itoa(int(key)) + "=" + hexCapped(v)
}

func addrList(v []byte, size int) string {
	s := make([]string, 0, len(v)/size)
	for ; len(v) >= size; v = v[size:] {
		a, _ := netip.AddrFromSlice(v[:size])
		s = append(s, a.String())
	}
	return strings.Join(s, ",")
}

// genericRdata is the RFC 3597 unknown-type form, "\# len hex", with the
// hex cut after maxRdataHex bytes.
func genericRdata(rd []byte) string {
	return `\# ` + strconv.Itoa(len(rd)) + " " + hexCapped(rd)
}

func hexCapped(v []byte) string {
	if len(v) > maxRdataHex {
		return hex.EncodeToString(v[:maxRdataHex]) + "…"
	}
	return hex.EncodeToString(v)
}
