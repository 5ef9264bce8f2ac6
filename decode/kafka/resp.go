package kafka

import "strconv"

// parseResponse summarises the body of a response to key at ver (the
// reader is past the response header). Error codes go to s.code in the
// order met, so the exchange's error is the first one.
func (h *handler) parseResponse(key, ver int16, r *reader, s *summary) {
	if !knownKey(key) || ver > apis[key].maxKnown {
		s.undecoded = true
		return
	}
	switch key {
	case keyProduce:
		h.produceResponse(ver, r, s)
	case keyFetch:
		h.fetchResponse(ver, r, s)
	case keyListOffsets:
		if ver >= 2 {
			r.int32()
		}
		for range r.array(4) {
			t := readTopic(r, false)
			for range r.array(6) {
				p := r.int32()
				ec := r.int16()
				s.code(ec)
				var off int64 = -1
				if ver == 0 {
					for i := range r.array(8) {
						if v := r.int64(); i == 0 {
							off = v
						}
					}
				} else {
					r.int64()
					off = r.int64()
				}
				if ver >= 4 {
					r.int32()
				}
				r.tags()
				if r.err != nil {
					return
				}
				s.line("offset", h.label(t), "partition", i32s(p)+":", i64s(off), errSuffix(ec))
			}
			r.tags()
		}
	case keyMetadata:
		h.metadataResponse(ver, r, s)
	case keyOffsetCommit:
		if ver >= 3 {
			r.int32()
		}
		for range r.array(4) {
			t := readTopic(r, ver >= 10)
			for range r.array(6) {
				p := r.int32()
				ec := r.int16()
				s.code(ec)
				r.tags()
				if ec != 0 {
					s.line("commit", h.label(t), "partition", i32s(p)+":", errorName(ec))
				}
			}
			r.tags()
		}
	case keyOffsetFetch:
		h.offsetFetchResponse(ver, r, s)
	case keyFindCoordinator:
		if ver >= 1 {
			r.int32()
		}
		if ver <= 3 {
			ec := r.int16()
			s.code(ec)
			if ver >= 1 {
				s.errMsg = r.str()
			}
			node, host, port := r.int32(), r.str(), r.int32()
			s.line("coordinator", i32s(node), host+":"+i32s(port))
			break
		}
		for range r.array(12) {
			k := r.str()
			node, host, port := r.int32(), r.str(), r.int32()
			ec := r.int16()
			s.code(ec)
			if m := r.str(); m != "" && s.errMsg == "" {
				s.errMsg = m
			}
			r.tags()
			s.line("coordinator of", k+":", i32s(node), host+":"+i32s(port), errSuffix(ec))
		}
	case keyJoinGroup:
		if ver >= 2 {
			r.int32()
		}
		s.code(r.int16())
		s.header("Generation", i32s(r.int32()))
		if ver >= 7 {
			r.str()
		}
		s.header("Protocol", r.str())
		s.header("Leader", r.str())
		if ver >= 9 {
			r.int8()
		}
		s.header("Member-Id", r.str())
		n := r.array(3)
		s.line(strconv.Itoa(n), "member(s)")
	case keyHeartbeat, keySyncGroup, keyLeaveGroup, keyInitProducerID:
		if ver >= 1 || key == keyInitProducerID {
			r.int32()
		}
		s.code(r.int16())
		if key == keyInitProducerID {
			id, epoch := r.int64(), r.int16()
			s.line("producer id", i64s(id), "epoch", strconv.Itoa(int(epoch)))
		}
	case keySaslHandshake:
		s.code(r.int16())
		for range r.array(1) {
			s.line("mechanism", r.str())
		}
	case keySaslAuthenticate:
		s.code(r.int16())
		s.errMsg = r.str()
		b := r.bytes()
		s.line("auth bytes:", strconv.Itoa(len(b)), "bytes")
	case keyApiVersions:
		s.code(r.int16())
		n := r.array(6)
		for range n {
			k, lo, hi := r.int16(), r.int16(), r.int16()
			r.tags()
			if r.err != nil {
				return
			}
			s.line(apiName(k), "v"+strconv.Itoa(int(lo))+"-"+strconv.Itoa(int(hi)))
		}
	case keyCreateTopics:
		if ver >= 2 {
			r.int32()
		}
		for range r.array(4) {
			name := r.str()
			var id [16]byte
			if ver >= 7 {
				id = r.uuid()
			}
			ec := r.int16()
			s.code(ec)
			if ver >= 1 {
				if m := r.str(); m != "" && s.errMsg == "" {
					s.errMsg = m
				}
			}
			if ver >= 5 {
				r.int32()
				r.int16()
				if n := r.length(true); n > 0 {
					for range min(n, r.left()) {
						r.str()
						r.str()
						r.int8()
						r.int8()
						r.int8()
						r.tags()
						if r.err != nil {
							return
						}
					}
				}
			}
			r.tags()
			if r.err != nil {
				return
			}
			if ec == 0 {
				s.learn(id, name)
			}
			s.line("created", name, errSuffix(ec))
		}
	default:
		s.undecoded = true
	}
}

// errSuffix is "" for no error, else the error's name.
func errSuffix(ec int16) string {
	if ec == 0 {
		return ""
	}
	return errorName(ec)
}

func (h *handler) produceResponse(ver int16, r *reader, s *summary) {
	for range r.array(4) {
		t := readTopic(r, ver >= 13)
		s.topic(t)
		for range r.array(14) {
			p := r.int32()
			ec := r.int16()
			s.code(ec)
			base := r.int64()
			if ver >= 2 {
				r.int64()
			}
			if ver >= 5 {
				r.int64()
			}
			if ver >= 8 {
				for range r.array(4) {
					r.int32()
					r.str()
					r.tags()
				}
				if m := r.str(); m != "" && s.errMsg == "" {
					s.errMsg = m
				}
			}
			r.tags()
			if r.err != nil {
				return
			}
			s.line("produced", h.label(t), "partition", i32s(p)+":", "base offset", i64s(base), errSuffix(ec))
		}
		r.tags()
	}
	if ver >= 1 {
		r.int32()
	}
}

func (h *handler) fetchResponse(ver int16, r *reader, s *summary) {
	if ver >= 1 {
		r.int32()
	}
	if ver >= 7 {
		s.code(r.int16())
		r.int32() // session id
	}
	s.records = true
	for range r.array(4) {
		t := readTopic(r, ver >= 13)
		for range r.array(18) {
			p := r.int32()
			ec := r.int16()
			s.code(ec)
			hw := r.int64()
			if ver >= 4 {
				r.int64()
			}
			if ver >= 5 {
				r.int64()
			}
			if ver >= 4 {
				if n := r.length(true); n > 0 {
					for range min(n, r.left()/16) {
						r.int64()
						r.int64()
						r.tags()
					}
				}
			}
			if ver >= 11 {
				r.int32()
			}
			st := walkBatches(r.bytes())
			r.tags()
			if r.err != nil {
				return
			}
			s.stats.add(st)
			s.line("fetched", h.label(t), "partition", i32s(p)+":", strconv.Itoa(st.batches), "batch(es),", i64s(st.records), "record(s),", i64s(st.bytes), "bytes, high watermark", i64s(hw), errSuffix(ec))
		}
		r.tags()
	}
}

func (h *handler) metadataResponse(ver int16, r *reader, s *summary) {
	if ver >= 3 {
		r.int32()
	}
	nb := r.array(10)
	for range nb {
		node, host, port := r.int32(), r.str(), r.int32()
		if ver >= 1 {
			r.str()
		}
		r.tags()
		s.line("broker", i32s(node), host+":"+i32s(port))
	}
	if ver >= 2 {
		if id := r.str(); id != "" {
			s.header("Cluster-Id", id)
		}
	}
	if ver >= 1 {
		r.int32()
	}
	for range r.array(6) {
		ec := r.int16()
		s.code(ec)
		name := r.str()
		var id [16]byte
		if ver >= 10 {
			id = r.uuid()
		}
		if ver >= 1 {
			r.int8()
		}
		np := r.array(14)
		for range np {
			s.code(r.int16())
			r.int32()
			r.int32()
			if ver >= 7 {
				r.int32()
			}
			for range r.array(4) {
				r.int32()
			}
			for range r.array(4) {
				r.int32()
			}
			if ver >= 5 {
				for range r.array(4) {
					r.int32()
				}
			}
			r.tags()
		}
		if ver >= 8 {
			r.int32()
		}
		r.tags()
		if r.err != nil {
			return
		}
		if ec == 0 {
			s.learn(id, name)
		}
		l := []string{"topic", name}
		if id != ([16]byte{}) {
			l = append(l, "id", idString(id))
		}
		l = append(l, strconv.Itoa(np), "partition(s)")
		if ec != 0 {
			l = append(l, errorName(ec))
		}
		s.line(l...)
		s.topic(topicRef{name: name})
	}
	if ver >= 8 && ver <= 10 {
		r.int32()
	}
	if ver >= 13 {
		s.code(r.int16())
	}
}

func (h *handler) offsetFetchResponse(ver int16, r *reader, s *summary) {
	if ver >= 3 {
		r.int32()
	}
	topics := func(byID bool) {
		for range r.array(4) {
			t := readTopic(r, byID)
			for range r.array(12) {
				p := r.int32()
				off := r.int64()
				if ver >= 5 {
					r.int32()
				}
				r.str()
				ec := r.int16()
				s.code(ec)
				r.tags()
				if r.err != nil {
					return
				}
				s.line("committed", h.label(t), "partition", i32s(p)+":", i64s(off), errSuffix(ec))
			}
			r.tags()
		}
	}
	if ver <= 7 {
		topics(false)
		if ver >= 2 {
			s.code(r.int16())
		}
		return
	}
	for range r.array(4) {
		g := r.str()
		topics(ver >= 10)
		ec := r.int16()
		s.code(ec)
		r.tags()
		s.line("group", g, errSuffix(ec))
	}
}
