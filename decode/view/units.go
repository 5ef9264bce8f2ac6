package view

import (
	"strconv"
	"time"

	"github.com/tapview/tapview/decode"
)

// The formatters below are shared by the UI's lists and the CLI's -o
// table, so one exchange reads the same everywhere (issue 19: the UI said
// 36B where the table said 29B for one body, and the table printed 0s for
// a 28 µs latency).

// Size shows a byte count in at most five cells: 512B, 1.2k, 34k, 1.2M.
func Size(n int64) string {
	if n < 0 {
		return "?"
	}
	if n < 1000 {
		return strconv.FormatInt(n, 10) + "B"
	}
	units := "kMGTP"
	f := float64(n)
	for i := 0; i < len(units); i++ {
		f /= 1024
		if f < 9.95 {
			return strconv.FormatFloat(f, 'f', 1, 64) + units[i:i+1]
		}
		if f < 999.5 {
			return strconv.FormatInt(int64(f+0.5), 10) + units[i:i+1]
		}
	}
	return strconv.FormatFloat(f, 'f', 0, 64) + "E"
}

// BodySize is the size a list shows for a body: the body as the
// application sees it (content encodings removed), or as transferred
// when it could not be decoded.
func BodySize(m *decode.Message) int64 {
	if m == nil {
		return -1
	}
	if m.DecodedSize >= 0 && (m.DecodedSize > 0 || m.BodySize == 0 || len(m.ContentEncoding) > 0) {
		return m.DecodedSize
	}
	return m.BodySize
}

// Duration shows a latency in at most six cells with three significant
// digits: 28µs, 850µs, 12.3ms, 1.23s, 2m03s.
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return strconv.FormatInt(d.Microseconds(), 10) + "µs"
	case d < time.Second:
		return sig3(float64(d)/float64(time.Millisecond)) + "ms"
	case d < time.Minute:
		return sig3(d.Seconds()) + "s"
	case d < time.Hour:
		s := int(d.Seconds())
		return strconv.Itoa(s/60) + "m" + pad2(s%60) + "s"
	default:
		m := int(d.Minutes())
		return strconv.Itoa(m/60) + "h" + pad2(m%60) + "m"
	}
}

func sig3(f float64) string {
	switch {
	case f < 10:
		return strconv.FormatFloat(f, 'f', 2, 64)
	case f < 100:
		return strconv.FormatFloat(f, 'f', 1, 64)
	default:
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// GRPCStatus names a gRPC status code as the gRPC spec does ("OK",
// "UNAVAILABLE").
func GRPCStatus(code int) string {
	names := [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
		"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
		"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}
	if code >= 0 && code < len(names) {
		return names[code]
	}
	return "CODE_" + strconv.Itoa(code)
}
