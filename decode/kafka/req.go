package kafka

import "strconv"

// readTopic reads a topic named by id (the versions that name them so)
// or by name.
func readTopic(r *reader, byID bool) topicRef {
	if byID {
		return topicRef{id: r.uuid(), byID: true}
	}
	return topicRef{name: r.str()}
}

// label is a topic in a body line: its name, or "id:" and the id in
// Kafka's base64 form (Namer names it where exchanges are published).
func (h *handler) label(t topicRef) string {
	if !t.byID {
		return t.name
	}
	return "id:" + idString(t.id)
}

func i64s(v int64) string { return strconv.FormatInt(v, 10) }
func i32s(v int32) string { return strconv.Itoa(int(v)) }

// parseRequest summarises the body of a request (the reader is past the
// header). Fields follow the Kafka protocol guide's request schemas.
func (h *handler) parseRequest(key, ver int16, r *reader, s *summary) {
	if !knownKey(key) {
		s.undecoded = true
		h.note("key", "api key "+strconv.Itoa(int(key))+" is not one this decoder knows; header only")
		return
	}
	if ver > apis[key].maxKnown {
		s.undecoded = true
		h.note("version", apiName(key)+" v"+strconv.Itoa(int(ver))+" is newer than this decoder knows; header only")
		return
	}
	switch key {
	case keyProduce:
		h.produceRequest(ver, r, s)
	case keyFetch:
		h.fetchRequest(ver, r, s)
	case keyListOffsets:
		r.int32() // replica id
		if ver >= 2 {
			r.int8()
		}
		for range r.array(4) {
			t := readTopic(r, false)
			s.topic(t)
			n := r.array(4)
			for range n {
				r.int32()
				if ver >= 4 {
					r.int32()
				}
				r.int64()
				if ver == 0 {
					r.int32()
				}
				r.tags()
			}
			r.tags()
			s.line("topic", h.label(t)+":", strconv.Itoa(n), "partition(s)")
		}
	case keyMetadata:
		n := r.length(true)
		if n < 0 || (n == 0 && ver == 0) {
			s.line("all topics")
		}
		for range max(0, min(n, r.left())) {
			var t topicRef
			if ver >= 10 {
				t.id = r.uuid()
				t.name = r.str()
				t.byID = t.name == "" && t.id != [16]byte{}
			} else {
				t.name = r.str()
			}
			r.tags()
			if r.err != nil {
				break
			}
			s.topic(t)
		}
		if ver >= 4 && r.err == nil && r.left() > 0 {
			s.header("Auto-Create", strconv.FormatBool(r.int8() != 0))
		}
	case keyOffsetCommit:
		s.header("Group", r.str())
		if ver >= 1 {
			r.int32()
			r.str()
		}
		if ver >= 7 {
			r.str()
		}
		if ver >= 2 && ver <= 4 {
			r.int64()
		}
		for range r.array(4) {
			t := readTopic(r, ver >= 10)
			s.topic(t)
			n := r.array(12)
			for range n {
				p := r.int32()
				off := r.int64()
				if ver >= 6 {
					r.int32()
				}
				if ver == 1 {
					r.int64()
				}
				r.str()
				r.tags()
				s.line("commit", h.label(t), "partition", i32s(p), "offset", i64s(off))
			}
			r.tags()
		}
	case keyOffsetFetch:
		h.offsetFetchRequest(ver, r, s)
	case keyFindCoordinator:
		if ver <= 3 {
			s.header("Coordinator-Key", r.str())
			if ver >= 1 {
				s.header("Key-Type", strconv.Itoa(int(r.int8())))
			}
			break
		}
		s.header("Key-Type", strconv.Itoa(int(r.int8())))
		for range r.array(1) {
			s.header("Coordinator-Key", r.str())
		}
	case keyJoinGroup:
		s.header("Group", r.str())
		r.int32()
		if ver >= 1 {
			r.int32()
		}
		s.header("Member-Id", r.str())
		if ver >= 5 {
			r.str()
		}
		s.header("Protocol-Type", r.str())
		for range r.array(2) {
			s.line("protocol", r.str())
			r.bytes()
			r.tags()
		}
	case keyHeartbeat, keySyncGroup:
		s.header("Group", r.str())
		s.header("Generation", i32s(r.int32()))
		s.header("Member-Id", r.str())
	case keyLeaveGroup:
		s.header("Group", r.str())
		if ver <= 2 {
			s.header("Member-Id", r.str())
			break
		}
		for range r.array(2) {
			s.header("Member-Id", r.str())
			r.str()
			if ver >= 5 {
				r.str()
			}
			r.tags()
		}
	case keyInitProducerID:
		s.header("Transactional-Id", r.str())
		s.line("transaction timeout", i32s(r.int32())+"ms")
	case keySaslHandshake:
		s.header("Mechanism", r.str())
	case keySaslAuthenticate:
		b := r.bytes()
		if r.err == nil {
			s.secret = append([]byte{}, b...)
			s.user = saslUser(b)
			s.line("auth bytes: <password>")
		}
	case keyApiVersions:
		if ver >= 3 {
			name, v := r.str(), r.str()
			s.header("Client-Software", name+" "+v)
		}
	case keyCreateTopics:
		for range r.array(6) {
			name := r.str()
			s.topic(topicRef{name: name})
			np, rf := r.int32(), r.int16()
			for range r.array(4) {
				r.int32()
				for range r.array(4) {
					r.int32()
				}
				r.tags()
			}
			for range r.array(2) {
				r.str()
				r.str()
				r.tags()
			}
			r.tags()
			s.line("create", name, "partitions", i32s(np), "replication", strconv.Itoa(int(rf)))
		}
	default:
		s.undecoded = true
	}
}

// produceRequest: transactional id (v3+), acks, timeout, topics with
// partitions and their record batches.
func (h *handler) produceRequest(ver int16, r *reader, s *summary) {
	if ver >= 3 {
		if id := r.str(); id != "" {
			s.header("Transactional-Id", id)
		}
	}
	acks := r.int16()
	s.header("Acks", strconv.Itoa(int(acks)))
	s.noResponse = acks == 0
	r.int32() // timeout
	s.records = true
	for range r.array(4) {
		t := readTopic(r, ver >= 13)
		s.topic(t)
		for range r.array(8) {
			p := r.int32()
			st := walkBatches(r.bytes())
			r.tags()
			if r.err != nil {
				break
			}
			s.stats.add(st)
			s.line("produce", h.label(t), "partition", i32s(p)+":", strconv.Itoa(st.batches), "batch(es),", i64s(st.records), "record(s),", i64s(st.bytes), "bytes")
		}
		r.tags()
	}
}

// fetchRequest: limits, session, topics with partitions and offsets.
func (h *handler) fetchRequest(ver int16, r *reader, s *summary) {
	if ver <= 14 {
		r.int32() // replica id
	}
	maxWait, minBytes := r.int32(), r.int32()
	s.line("max wait", i32s(maxWait)+"ms,", "min bytes", i32s(minBytes))
	if ver >= 3 {
		r.int32()
	}
	if ver >= 4 {
		r.int8()
	}
	if ver >= 7 {
		s.header("Session", i32s(r.int32())+"/"+i32s(r.int32()))
	}
	for range r.array(4) {
		t := readTopic(r, ver >= 13)
		s.topic(t)
		for range r.array(16) {
			p := r.int32()
			if ver >= 9 {
				r.int32()
			}
			off := r.int64()
			if ver >= 12 {
				r.int32()
			}
			if ver >= 5 {
				r.int64()
			}
			r.int32()
			r.tags()
			if r.err != nil {
				break
			}
			s.line("fetch", h.label(t), "partition", i32s(p), "from offset", i64s(off))
		}
		r.tags()
	}
	if ver >= 7 {
		for range r.array(4) {
			t := readTopic(r, ver >= 13)
			n := r.array(4)
			for range n {
				r.int32()
			}
			r.tags()
			s.line("forget", h.label(t), strconv.Itoa(n), "partition(s)")
		}
	}
	if ver >= 11 {
		if rack := r.str(); rack != "" {
			s.header("Rack", rack)
		}
	}
}

// offsetFetchRequest: one group (v0-7) or several (v8+).
func (h *handler) offsetFetchRequest(ver int16, r *reader, s *summary) {
	topics := func(byID bool) {
		n := r.length(true)
		if n < 0 {
			s.line("all committed topics")
		}
		for range max(0, min(n, r.left()/4)) {
			t := readTopic(r, byID)
			s.topic(t)
			np := r.array(4)
			for range np {
				r.int32()
			}
			r.tags()
			if r.err != nil {
				return
			}
			s.line("offsets of", h.label(t)+":", strconv.Itoa(np), "partition(s)")
		}
	}
	if ver <= 7 {
		s.header("Group", r.str())
		topics(false)
		return
	}
	for range r.array(2) {
		s.header("Group", r.str())
		if ver >= 9 {
			r.str()
			r.int32()
		}
		topics(ver >= 10)
		r.tags()
	}
}
