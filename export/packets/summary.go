package packets

import (
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
)

// maxSummary caps a comment, so a 100 kB URL does not become a 100 kB
// packet comment.
const maxSummary = 512

// Summary renders an exchange as the one line Wireshark shows in a packet
// comment, e.g. "GET example.com/api/pets → 200 (12.3 ms)". Pass the
// masked copy: the line shows the URL as it is. Control characters are
// replaced by spaces.
func Summary(e *decode.Exchange) string {
	head, lat, tail := summaryParts(e)
	return joinSummary(head, lat, tail)
}

// joinSummary puts a summary together from summaryParts.
func joinSummary(head string, lat time.Duration, tail string) string {
	if lat > 0 {
		head += " (" + millis(lat) + ")"
	}
	return clip(head + tail)
}

// summaryParts splits a summary into what repeats across exchanges (the
// request and status, the state) and what rarely does (the latency), so
// a plan can keep the repeating parts once (Plan.AddExchange) instead
// of a string per exchange.
func summaryParts(e *decode.Exchange) (head string, lat time.Duration, tail string) {
	var b strings.Builder
	switch e.Proto {
	case "dns":
		b.WriteString("DNS")
		if e.DNS != nil {
			b.WriteString(" " + e.DNS.Type + " " + e.DNS.Name)
			if e.DNS.Rcode != "" {
				b.WriteString(" → " + e.DNS.Rcode + ", " + plural(len(e.DNS.Answers), "answer"))
			} else {
				b.WriteString(" → no response")
			}
		}
	case "ws":
		b.WriteString("WebSocket " + e.Host() + e.Path())
		n := 0
		if e.Request != nil {
			n += len(e.Request.Parts)
		}
		if e.Response != nil {
			n += len(e.Response.Parts)
		}
		b.WriteString(": " + plural(n, "frame"))
	default:
		if e.Proto == "grpc" {
			b.WriteString("gRPC ")
		}
		m := e.Method()
		if m == "" {
			m = "?"
		}
		b.WriteString(m + " " + e.Host() + e.Path() + " → ")
		switch {
		case e.Status() > 0:
			b.WriteString(strconv.Itoa(e.Status()))
		default:
			b.WriteString("no response")
		}
		if e.GRPC != nil && e.GRPC.Status >= 0 {
			b.WriteString(" grpc-status " + strconv.Itoa(e.GRPC.Status))
		}
	}
	if e.State != decode.Complete && e.State != "" {
		tail = " [" + string(e.State) + "]"
	}
	return b.String(), e.Latency(), tail
}

func plural(n int, word string) string {
	s := strconv.Itoa(n) + " " + word
	if n != 1 {
		s += "s"
	}
	return s
}

// millis formats a duration as milliseconds with one decimal.
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

// clip removes control characters and caps the length on a rune
// boundary.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= maxSummary {
		return s
	}
	cut := maxSummary
	for cut > 0 && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
