package jsonl

import (
	"strconv"
	"time"
)

// appendMillis appends a duration of us microseconds in milliseconds as
// strconv.AppendFloat(float64(us)/1000, 'f', -1, 64) does, without the
// float formatting (a tenth of a line's encoding time). For |us| below
// 1e15 (31 years) the quotient has at most 15 significant digits, and
// two such decimals never round to the same float64, so the shortest
// decimal naming the float is the quotient itself: the integer part, and
// the three decimals without trailing zeros. Longer durations take the
// float path.
func appendMillis(b []byte, us int64) []byte {
	if us <= -1e15 || us >= 1e15 {
		return strconv.AppendFloat(b, float64(us)/1000, 'f', -1, 64)
	}
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	if frac == 0 {
		return b
	}
	d := [4]byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 4
	for d[n-1] == '0' {
		n--
	}
	return append(b, d[:n]...)
}

// trimSpaceTab is strings.Trim(v, " \t") without building a cutset.
func trimSpaceTab(v string) string {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

// appendTimeUTC appends t in UTC as t.UTC().AppendFormat(b,
// time.RFC3339Nano) does (fraction without trailing zeros, none when
// zero, "Z"), writing the digits directly for years 0-9999; other years
// take AppendFormat.
func appendTimeUTC(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	h, mi, s := t.Clock()
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10))
	if ns := t.Nanosecond(); ns != 0 {
		var f [10]byte
		f[0] = '.'
		for i := 9; i >= 1; i-- {
			f[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for f[n-1] == '0' {
			n--
		}
		b = append(b, f[:n]...)
	}
	return append(b, 'Z')
}
