package streammask

import "bytes"

// h2Preface is what an HTTP/2 client sends first.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// probeLen is how many first bytes of a direction decide its protocol.
const probeLen = len(h2Preface)

// detect holds a direction's first bytes until they say which protocol
// it speaks, then hands them to that protocol's layer. A direction whose
// peer already decided follows it.
type detect struct {
	sd    *side
	probe []byte
	at    int64
}

func (d *detect) data(off int64, b []byte) {
	if len(d.probe) == 0 {
		d.at = off
	}
	d.probe = append(d.probe, b...)
	if l := d.decide(false); l != nil {
		p := d.probe
		d.probe = nil
		d.sd.switchTo(l, d.at, p)
	}
}

func (d *detect) gap() {
	d.flushRaw()
}

func (d *detect) end() {
	if len(d.probe) > 0 {
		if l := d.decide(true); l != nil {
			p := d.probe
			d.probe = nil
			d.sd.switchTo(l, d.at, p)
			d.sd.lay.end()
			return
		}
	}
	d.flushRaw()
	d.sd.lay.end()
}

// flushRaw scans what was held as raw bytes; the rest of the stream is
// raw.
func (d *detect) flushRaw() {
	p := d.probe
	d.probe = nil
	d.sd.toRaw(d.at, p)
}

// decide returns the layer for this direction, or nil while the probe
// cannot tell yet (unless final).
func (d *detect) decide(final bool) layer {
	sd, p := d.sd, d.probe
	// A peer that decided sets what this direction speaks.
	if peer := sd.peer(); peer != nil {
		switch l := peer.lay.(type) {
		case opaque:
			return opaque{}
		case *h2:
			if !l.client {
				return newH2(sd, true, !bytes.HasPrefix(p, []byte(h2Preface)))
			}
			return newH2(sd, false, false)
		case *h1:
			if l.req {
				return newH1(sd, false)
			}
			return newH1(sd, true)
		}
	}
	if looksTLS(p) {
		sd.peerOrNew().setIfUndecided(opaque{})
		return opaque{}
	}
	if bytes.HasPrefix(p, []byte(h2Preface)) {
		sd.c.client = sd.idx
		l := newH2(sd, true, false)
		peer := sd.peerOrNew()
		peer.setIfUndecided(newH2(peer, false, false))
		return l
	}
	if len(p) < len(h2Preface) && bytes.HasPrefix([]byte(h2Preface), p) && !final {
		return nil
	}
	if l, wait := decidePostgres(sd, p, final); l != nil || wait {
		return l
	}
	if l, wait := decideMySQL(sd, p, final); l != nil || wait {
		return l
	}
	if l, wait := decideRedis(sd, p, final); l != nil || wait {
		return l
	}
	if l, wait := decideKafka(sd, p, final); l != nil || wait {
		return l
	}
	if bytes.HasPrefix(p, []byte("HTTP/1.")) {
		peer := sd.peerOrNew()
		sd.c.client = peer.idx
		peer.setIfUndecided(newH1(peer, true))
		return newH1(sd, false)
	}
	switch methodPrefix(p) {
	case 1:
		sd.c.client = sd.idx
		peer := sd.peerOrNew()
		peer.setIfUndecided(newH1(peer, false))
		return newH1(sd, true)
	case 0:
		if !final && len(p) < probeLen {
			return nil
		}
	}
	if len(p) >= 9 && p[3] == 4 && p[5]|p[6]|p[7]|p[8] == 0 && !sd.isClient() {
		// An HTTP/2 server's SETTINGS frame, its client joined late.
		if int(p[0])<<16|int(p[1])<<8|int(p[2]) <= 6*64 {
			return newH2(sd, false, false)
		}
	}
	if !final && len(p) < probeLen {
		return nil
	}
	return &raw{sd: sd}
}

// setIfUndecided gives a direction that has not sent anything a layer.
func (sd *side) setIfUndecided(l layer) {
	if d, ok := sd.lay.(*detect); sd.lay == nil || ok && len(d.probe) == 0 {
		sd.lay = l
	}
}

// looksTLS reports a TLS record header: content type 20-23, version 3.x.
func looksTLS(p []byte) bool {
	return len(p) >= 3 && p[0] >= 20 && p[0] <= 23 && p[1] == 3 && p[2] <= 4
}

// methodPrefix says whether p starts with an HTTP method and a space
// (1), cannot be one (-1) or might still become one (0).
func methodPrefix(p []byte) int {
	for i, c := range p {
		switch {
		case c == ' ':
			if i >= 3 {
				return 1
			}
			return -1
		case c >= 'A' && c <= 'Z' || c == '-' || c == '_':
			if i >= 24 {
				return -1
			}
		default:
			return -1
		}
	}
	return 0
}
