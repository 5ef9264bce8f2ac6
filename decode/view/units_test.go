package view

import (
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

func TestUnits(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{Size(29), "29B"}, {Size(999), "999B"}, {Size(1200), "1.2k"}, {Size(34 << 10), "34k"}, {Size(5 << 20), "5.0M"},
		{Duration(28 * time.Microsecond), "28µs"}, {Duration(12300 * time.Microsecond), "12.3ms"}, {Duration(1230 * time.Millisecond), "1.23s"},
		{Duration(123 * time.Second), "2m03s"}, {GRPCStatus(0), "OK"}, {GRPCStatus(14), "UNAVAILABLE"}, {GRPCStatus(99), "CODE_99"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	// A gzip body is sized as the application sees it; an undecodable
	// one as transferred.
	if n := BodySize(&decode.Message{BodySize: 36, DecodedSize: 29, ContentEncoding: []string{"gzip"}}); n != 29 {
		t.Errorf("gzip body: %d", n)
	}
	if n := BodySize(&decode.Message{BodySize: 36, DecodedSize: -1}); n != 36 {
		t.Errorf("undecodable body: %d", n)
	}
}
