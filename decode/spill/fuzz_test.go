package spill

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzDecodeExchange checks that DecodeExchange never panics and that what
// it accepts is canonical: re-encoding gives the same bytes, and decoding
// those gives the same value.
func FuzzDecodeExchange(f *testing.F) {
	for _, e := range samples() {
		f.Add(AppendExchange(nil, e))
	}
	f.Add([]byte{})
	f.Add([]byte{codecVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeExchange(b)
		if err != nil {
			if e != nil {
				t.Fatal("an error with a non-nil exchange")
			}
			return
		}
		again := AppendExchange(nil, e)
		if !bytes.Equal(again, b) {
			t.Fatalf("accepted input re-encodes differently:\n in %x\nout %x", b, again)
		}
		e2, err := DecodeExchange(again)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !reflect.DeepEqual(e, e2) {
			t.Fatalf("decode(encode(decode(x))) differs from decode(x)")
		}
	})
}

// segmentBytes frames the samples as a segment file would hold them.
func segmentBytes() []byte {
	b := []byte(segMagic)
	for _, e := range samples() {
		start := len(b)
		b = AppendExchange(beginFrame(b), e)
		if err := finishFrame(b, start); err != nil {
			panic(err)
		}
	}
	return b
}

// FuzzReadFrame feeds arbitrary segment contents to the record reader
// Get uses, walking the records as a scan would: no panic, no payload
// without a matching checksum, and every payload it hands out safe to
// decode.
func FuzzReadFrame(f *testing.F) {
	seg := segmentBytes()
	f.Add(seg, uint16(segHeaderLen))
	f.Add(seg[:len(seg)-3], uint16(segHeaderLen))
	f.Add(seg, uint16(0))
	f.Add([]byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, start uint16) {
		r := bytes.NewReader(data)
		var buf []byte
		for off := int64(start); off < int64(len(data)); {
			var payload []byte
			var err error
			payload, buf, err = readFrame(r, off, int64(len(data)), buf)
			if err != nil {
				return
			}
			// The in-memory parser used for buffered records
			// must agree with the file reader.
			p2, size, err := parseFrame(data[off:])
			if err != nil || !bytes.Equal(p2, payload) {
				t.Fatalf("parseFrame disagrees with readFrame at %d: %v", off, err)
			}
			_, _ = DecodeExchange(payload)
			off += int64(size)
		}
	})
}

func TestFrameRoundTrip(t *testing.T) {
	seg := segmentBytes()
	n := 0
	for off := segHeaderLen; off < int64(len(seg)); n++ {
		payload, _, err := readFrame(bytes.NewReader(seg), off, int64(len(seg)), nil)
		if err != nil {
			t.Fatalf("record %d at %d: %v", n, off, err)
		}
		if _, err := DecodeExchange(payload); err != nil {
			t.Fatalf("record %d: %v", n, err)
		}
		off += frameHeader + int64(len(payload))
	}
	if n != len(samples()) {
		t.Errorf("walked %d records, wrote %d", n, len(samples()))
	}
	// Every single-byte change in a frame is caught.
	end := segHeaderLen + frameHeader + int64(len(AppendExchange(nil, samples()[0])))
	for i := segHeaderLen; i < end; i++ {
		bad := bytes.Clone(seg)
		bad[i] ^= 0x40
		if _, _, err := readFrame(bytes.NewReader(bad), segHeaderLen, int64(len(bad)), nil); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
}
