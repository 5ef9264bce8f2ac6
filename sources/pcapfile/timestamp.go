package pcapfile

import (
	"math/bits"
	"time"
)

// resolutionOK reports whether an if_tsresol value can be converted
// exactly: any power of two, and powers of ten whose divisor fits in 64
// bits (10^-19 and finer could not tick in a 64-bit counter anyway).
func resolutionOK(res uint8) bool {
	return res&0x80 != 0 || res <= 19
}

// timestamp converts a pcapng 64-bit timestamp counted in units of the
// interface's if_tsresol into a time, keeping nanosecond digits when the
// resolution has them, and adds the interface's if_tsoffset seconds.
func timestamp(ts uint64, res uint8, offset int64) time.Time {
	var sec, nsec uint64
	if res&0x80 != 0 {
		sec, nsec = binaryFraction(ts, uint(res&0x7f))
	} else {
		sec, nsec = decimalFraction(ts, uint(res))
	}
	return time.Unix(int64(sec)+offset, int64(nsec))
}

// decimalFraction splits ts counted in 10^-exp seconds into seconds and
// nanoseconds.
func decimalFraction(ts uint64, exp uint) (sec, nsec uint64) {
	unit := pow10(exp)
	sec, frac := ts/unit, ts%unit
	if exp <= 9 {
		return sec, frac * pow10(9-exp)
	}
	return sec, frac / pow10(exp-9)
}

// binaryFraction splits ts counted in 2^-exp seconds into seconds and
// nanoseconds (rounded down), without overflowing for any exp < 128.
func binaryFraction(ts uint64, exp uint) (sec, nsec uint64) {
	if exp == 0 {
		return ts, 0
	}
	if exp < 64 {
		sec = ts >> exp
		ts &= 1<<exp - 1
	}
	hi, lo := bits.Mul64(ts, 1e9)
	if exp < 64 {
		return sec, hi<<(64-exp) | lo>>exp
	}
	return 0, hi >> (exp - 64)
}

// pow10 returns 10^n for n <= 19.
func pow10(n uint) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}
