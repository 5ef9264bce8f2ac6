package kafka

// plausibleBody checks the first fields of a request body at detection,
// where a binary protocol's bytes can pass the header checks by chance
// (an HTTP/2 SETTINGS frame reads as Produce v0 with an empty client
// id). body may be a prefix of the request: running out is fine, a field
// out of range is not.
func plausibleBody(key, ver int16, body []byte) bool {
	r := &reader{b: body, flex: flexible(key, ver)}
	ok := true
	switch key {
	case keyProduce:
		if ver >= 3 {
			r.str()
		}
		acks := r.int16()
		timeout := r.int32()
		n := r.array(4)
		ok = (acks == -1 || acks == 0 || acks == 1) && timeout >= 0
		if ok && n > 0 && ver < 13 {
			ok = legalTopic(r, r.str())
		}
	case keyFetch:
		if ver <= 14 {
			ok = r.int32() >= -1
		}
		ok = ok && r.int32() >= 0 && r.int32() >= 0 // max wait, min bytes
	case keyMetadata:
		n := r.length(true)
		ok = n >= -1
		if ok && n > 0 && ver < 10 {
			ok = legalTopic(r, r.str())
		}
	case keyApiVersions:
		if ver >= 3 {
			name := r.str()
			ok = r.err != nil || legalSoftware(name)
		}
	}
	return ok && (r.err == nil || r.err == errShort)
}

// legalTopic: Kafka topic names are 1-249 of [a-zA-Z0-9._-]; a name
// cut short by the end of what is held passes.
func legalTopic(r *reader, name string) bool {
	if r.err != nil {
		return r.err == errShort
	}
	if len(name) == 0 || len(name) > 249 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// legalSoftware: ApiVersions v3+ client software names are
// [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?, or empty.
func legalSoftware(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
