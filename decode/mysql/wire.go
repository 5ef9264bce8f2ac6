package mysql

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"
)

// Capability flags of the handshake (the low 32 bits both sides send).
const (
	capConnectWithDB    = 1 << 3
	capCompress         = 1 << 5
	capProtocol41       = 1 << 9
	capSSL              = 1 << 11
	capSecureConnection = 1 << 15
	capMultiResults     = 1 << 17
	capPluginAuth       = 1 << 19
	capConnectAttrs     = 1 << 20
	capPluginAuthLenenc = 1 << 21
	capSessionTrack     = 1 << 23
	capDeprecateEOF     = 1 << 24
)

// MariaDB extended capabilities (the upper 32 bits, sent in reserved
// bytes of the greeting and the handshake response).
const (
	extCacheMetadata = 1 << 4
)

// Server status flags of OK and EOF packets.
const (
	statusCursorExists   = 0x0040
	statusMoreResults    = 0x0008
	statusSessionChanged = 0x4000
)

// Commands of the command phase.
const (
	comQuit             = 0x01
	comInitDB           = 0x02
	comQuery            = 0x03
	comFieldList        = 0x04
	comCreateDB         = 0x05
	comDropDB           = 0x06
	comRefresh          = 0x07
	comStatistics       = 0x09
	comProcessInfo      = 0x0a
	comProcessKill      = 0x0c
	comDebug            = 0x0d
	comPing             = 0x0e
	comChangeUser       = 0x11
	comBinlogDump       = 0x12
	comStmtPrepare      = 0x16
	comStmtExecute      = 0x17
	comStmtSendLongData = 0x18
	comStmtClose        = 0x19
	comStmtReset        = 0x1a
	comSetOption        = 0x1b
	comStmtFetch        = 0x1c
	comResetConnection  = 0x1f
)

// commandName is the Method of exchanges whose command carries no SQL.
func commandName(c byte) string {
	switch c {
	case comQuit:
		return "QUIT"
	case comInitDB:
		return "USE"
	case comQuery:
		return "QUERY"
	case comFieldList:
		return "FIELD_LIST"
	case comCreateDB:
		return "CREATE_DB"
	case comDropDB:
		return "DROP_DB"
	case comRefresh:
		return "REFRESH"
	case comStatistics:
		return "STATISTICS"
	case comProcessInfo:
		return "PROCESS_INFO"
	case comProcessKill:
		return "PROCESS_KILL"
	case comDebug:
		return "DEBUG"
	case comPing:
		return "PING"
	case comChangeUser:
		return "CHANGE_USER"
	case comBinlogDump:
		return "BINLOG_DUMP"
	case comStmtPrepare:
		return "PREPARE"
	case comStmtExecute:
		return "EXECUTE"
	case comStmtSendLongData:
		return "STMT_SEND_LONG_DATA"
	case comStmtClose:
		return "STMT_CLOSE"
	case comStmtReset:
		return "STMT_RESET"
	case comSetOption:
		return "SET_OPTION"
	case comStmtFetch:
		return "STMT_FETCH"
	case comResetConnection:
		return "RESET_CONNECTION"
	}
	return ""
}

var errShort = errors.New("packet too short")

// reader walks a packet payload; the first read past the end sets err and
// later reads return zero values, so parsers check err once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errShort
	}
	r.b = nil
}

func (r *reader) n(k int) []byte {
	if k < 0 || len(r.b) < k {
		r.fail()
		return nil
	}
	v := r.b[:k]
	r.b = r.b[k:]
	return v
}

func (r *reader) u8() byte {
	v := r.n(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (r *reader) u16() uint16 {
	v := r.n(2)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(v)
}

func (r *reader) u24() uint32 {
	v := r.n(3)
	if v == nil {
		return 0
	}
	return uint32(v[0]) | uint32(v[1])<<8 | uint32(v[2])<<16
}

func (r *reader) u32() uint32 {
	v := r.n(4)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(v)
}

func (r *reader) u64() uint64 {
	v := r.n(8)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(v)
}

// lenenc reads a length-encoded integer; null is set for 0xfb, which
// stands for NULL in rows.
func (r *reader) lenenc() (v uint64, null bool) {
	c := r.u8()
	switch {
	case r.err != nil:
		return 0, false
	case c < 0xfb:
		return uint64(c), false
	case c == 0xfb:
		return 0, true
	case c == 0xfc:
		return uint64(r.u16()), false
	case c == 0xfd:
		return uint64(r.u24()), false
	case c == 0xfe:
		return r.u64(), false
	}
	r.fail() // 0xff is no length
	return 0, false
}

// lenencBytes reads a length-encoded string.
func (r *reader) lenencBytes() (v []byte, null bool) {
	n, null := r.lenenc()
	if null || r.err != nil {
		return nil, null
	}
	if n > uint64(len(r.b)) {
		r.fail()
		return nil, false
	}
	return r.n(int(n)), false
}

// cstring reads a NUL-terminated string (or the rest when there is no NUL).
func (r *reader) cstring() []byte {
	for i, c := range r.b {
		if c == 0 {
			v := r.b[:i]
			r.b = r.b[i+1:]
			return v
		}
	}
	v := r.b
	r.b = nil
	return v
}

// column is what rows need of a column definition.
type column struct {
	name     string
	typ      byte
	flags    uint16
	decimals byte
}

const flagUnsigned = 0x20

// parseColumn reads a ColumnDefinition41. MariaDB may add an extended
// type-info string after org_name; it is skipped when the fixed-length
// block does not follow.
func parseColumn(b []byte) (column, error) {
	r := reader{b: b}
	for range 4 { // catalog, schema, table, org_table
		r.lenencBytes()
	}
	name, _ := r.lenencBytes()
	r.lenencBytes() // org_name
	if r.err == nil && (len(r.b) < 13 || r.b[0] != 0x0c) {
		r.lenencBytes() // MariaDB extended metadata
	}
	if r.u8() != 0x0c && r.err == nil {
		return column{}, errors.New("column definition without its fixed-length block")
	}
	r.u16() // character set
	r.u32() // column length
	c := column{name: string(name), typ: r.u8(), flags: r.u16(), decimals: r.u8()}
	if r.err != nil {
		return column{}, r.err
	}
	return c, nil
}

// textRow renders a text-protocol row, one value per column.
func textRow(b []byte, n int) ([]string, error) {
	r := reader{b: b}
	vals := make([]string, 0, min(n, 256))
	for len(r.b) > 0 {
		v, null := r.lenencBytes()
		if r.err != nil {
			return vals, r.err
		}
		if null {
			vals = append(vals, "NULL")
		} else {
			vals = append(vals, printable(v))
		}
	}
	if n > 0 && len(vals) != n {
		return vals, errors.New("row has " + strconv.Itoa(len(vals)) + " values for " + strconv.Itoa(n) + " columns")
	}
	return vals, nil
}

// Column and parameter types of the binary protocol.
const (
	typeDecimal    = 0x00
	typeTiny       = 0x01
	typeShort      = 0x02
	typeLong       = 0x03
	typeFloat      = 0x04
	typeDouble     = 0x05
	typeNull       = 0x06
	typeTimestamp  = 0x07
	typeLongLong   = 0x08
	typeInt24      = 0x09
	typeDate       = 0x0a
	typeTime       = 0x0b
	typeDateTime   = 0x0c
	typeYear       = 0x0d
	typeNewDate    = 0x0e
	typeVarchar    = 0x0f
	typeBit        = 0x10
	typeTimestamp2 = 0x11
	typeDateTime2  = 0x12
	typeTime2      = 0x13
)

// binaryValue reads one value of the binary protocol.
func binaryValue(r *reader, typ byte, unsigned bool) (string, error) {
	switch typ {
	case typeNull:
		return "NULL", nil
	case typeTiny:
		v := r.u8()
		if unsigned {
			return strconv.FormatUint(uint64(v), 10), r.err
		}
		return strconv.FormatInt(int64(int8(v)), 10), r.err
	case typeShort, typeYear:
		v := r.u16()
		if unsigned || typ == typeYear {
			return strconv.FormatUint(uint64(v), 10), r.err
		}
		return strconv.FormatInt(int64(int16(v)), 10), r.err
	case typeLong, typeInt24:
		v := r.u32()
		if unsigned {
			return strconv.FormatUint(uint64(v), 10), r.err
		}
		return strconv.FormatInt(int64(int32(v)), 10), r.err
	case typeLongLong:
		v := r.u64()
		if unsigned {
			return strconv.FormatUint(v, 10), r.err
		}
		return strconv.FormatInt(int64(v), 10), r.err
	case typeFloat:
		return strconv.FormatFloat(float64(math.Float32frombits(r.u32())), 'g', -1, 32), r.err
	case typeDouble:
		return strconv.FormatFloat(math.Float64frombits(r.u64()), 'g', -1, 64), r.err
	case typeDate, typeDateTime, typeTimestamp, typeNewDate, typeTimestamp2, typeDateTime2:
		return binaryDateTime(r, typ == typeDate || typ == typeNewDate), r.err
	case typeTime, typeTime2:
		return binaryTime(r), r.err
	}
	// Decimal, strings, blobs, enum, set, JSON, bit, geometry.
	v, _ := r.lenencBytes()
	if r.err != nil {
		return "", r.err
	}
	if typ == typeBit || typ >= 0xf9 && typ <= 0xfc && !isText(v) || typ == 0xff {
		return "0x" + hexString(v), nil
	}
	return printable(v), nil
}

func binaryDateTime(r *reader, dateOnly bool) string {
	n := r.u8()
	var y uint16
	var mo, d, h, mi, s byte
	var us uint32
	if n >= 4 {
		y, mo, d = r.u16(), r.u8(), r.u8()
	}
	if n >= 7 {
		h, mi, s = r.u8(), r.u8(), r.u8()
	}
	if n >= 11 {
		us = r.u32()
	}
	if n != 0 && n != 4 && n != 7 && n != 11 {
		r.fail()
	}
	var b strings.Builder
	b.WriteString(pad(int(y), 4) + "-" + pad(int(mo), 2) + "-" + pad(int(d), 2))
	if !dateOnly {
		b.WriteString(" " + pad(int(h), 2) + ":" + pad(int(mi), 2) + ":" + pad(int(s), 2))
		if us != 0 {
			b.WriteString("." + pad(int(us), 6))
		}
	}
	return b.String()
}

func binaryTime(r *reader) string {
	n := r.u8()
	var neg byte
	var days uint32
	var h, mi, s byte
	var us uint32
	if n >= 8 {
		neg, days, h, mi, s = r.u8(), r.u32(), r.u8(), r.u8(), r.u8()
	}
	if n >= 12 {
		us = r.u32()
	}
	if n != 0 && n != 8 && n != 12 {
		r.fail()
	}
	sign := ""
	if neg == 1 {
		sign = "-"
	}
	v := sign + pad(int(days)*24+int(h), 2) + ":" + pad(int(mi), 2) + ":" + pad(int(s), 2)
	if us != 0 {
		v += "." + pad(int(us), 6)
	}
	return v
}

func pad(v, w int) string {
	s := strconv.Itoa(v)
	for len(s) < w {
		s = "0" + s
	}
	return s
}

// isText reports bytes that read as UTF-8 text without control bytes
// other than tab and line breaks.
func isText(b []byte) bool {
	s := string(b)
	for _, c := range s {
		if c == 0xfffd || c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

// printable renders a value for the tab-separated body: text as it is
// with tabs and line breaks escaped, anything else as hex.
func printable(b []byte) string {
	if !isText(b) {
		return "0x" + hexString(b)
	}
	if strings.ContainsAny(string(b), "\t\n\r\\") {
		return strings.NewReplacer("\\", "\\\\", "\t", "\\t", "\n", "\\n", "\r", "\\r").Replace(string(b))
	}
	return string(b)
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}
