package view

import (
	"net/url"
	"strings"
)

// formLines shows an application/x-www-form-urlencoded body as one
// "key = value" line per field, percent-decoding both sides. A field that
// does not decode is shown as sent, so nothing is hidden by a bad escape.
func formLines(body []byte) []string {
	s := strings.TrimRight(string(body), "\r\n")
	if s == "" {
		return nil
	}
	fields := strings.Split(s, "&")
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		if f == "" {
			continue
		}
		k, v, hasValue := strings.Cut(f, "=")
		line := Sanitize(unescapeForm(k))
		if hasValue {
			line = strings.TrimRight(line+" = "+Sanitize(unescapeForm(v)), " ")
		}
		out = append(out, line)
	}
	return out
}

func unescapeForm(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}
