package tracemask

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/andybalholm/brotli"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/tapview/tapview/decode/body"
)

// Reasons a body or gRPC message is not written as it came.
const (
	WhyUndecodable = "compressed and could not be decompressed to check it"
	WhyUnencodable = "held a secret in a coding tapview cannot write again"
	WhyContinued   = "not text, and its headers (and so its coding) were in an earlier part of the trace"
)

// msgInfo is what a message's headers say about its body.
type msgInfo struct {
	codings []string
	grpc    bool
}

func infoOf(hs []*corev3.HeaderValue) msgInfo {
	var ct, ce, ge string
	for _, h := range hs {
		v := h.GetValue()
		if v == "" {
			v = string(h.GetRawValue())
		}
		switch strings.ToLower(h.GetKey()) {
		case "content-type":
			ct = v
		case "content-encoding":
			ce = v
		case "grpc-encoding":
			ge = v
		}
	}
	var i msgInfo
	i.grpc = strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/grpc")
	if i.grpc {
		i.codings = body.Codings(ge)
	} else {
		i.codings = body.Codings(ce)
	}
	return i
}

// same reports whether the masker returned its input (nothing secret).
func same(a, b []byte) bool { return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0]) }

// body masks a whole body. It returns the bytes to write, the reason
// when the body was withheld (replaced with a note), and whether
// anything changed.
func (x *Masker) body(i msgInfo, data []byte) (out []byte, withheld string, changed bool) {
	if len(data) == 0 {
		return data, "", false
	}
	if i.grpc {
		return x.grpcBody(i.codings, data)
	}
	if !body.NeedsDecoding(i.codings) {
		out := x.m.Bytes(data)
		return out, "", !same(out, data)
	}
	enc, ch, err := x.compressed(i.codings, data)
	if err != nil {
		x.stats.Withheld[err.Error()]++
		return []byte(fmt.Sprintf("[tapview: body withheld: %s (Content-Encoding %s); the masked trace does not carry it]",
			err, strings.Join(i.codings, ", "))), err.Error(), true
	}
	return enc, "", ch
}

// compressed decodes data, masks it and encodes it again with the same
// codings when anything was secret.
func (x *Masker) compressed(codings []string, data []byte) ([]byte, bool, error) {
	plain, err := body.Decode(codings, data, maxBody)
	if err != nil {
		return nil, false, fmt.Errorf("%s", WhyUndecodable)
	}
	masked := x.m.Bytes(plain)
	if same(masked, plain) {
		return data, false, nil
	}
	enc, err := x.enc.encode(codings, masked)
	if err != nil {
		return nil, false, fmt.Errorf("%s", WhyUnencodable)
	}
	return enc, true, nil
}

// encoders keeps one writer per coding, reset for each body: a new
// gzip or zstd writer allocates hundreds of kilobytes of state.
type encoders struct {
	gz *gzip.Writer
	zl *zlib.Writer
	zs *zstd.Encoder
}

// encode applies codings in header order (the first one listed was
// applied first by the sender).
func (e *encoders) encode(codings []string, data []byte) ([]byte, error) {
	for _, c := range codings {
		var buf bytes.Buffer
		switch c {
		case "identity":
			continue
		case "gzip", "x-gzip":
			if e.gz == nil {
				e.gz = gzip.NewWriter(&buf)
			} else {
				e.gz.Reset(&buf)
			}
			e.gz.Write(data)
			if err := e.gz.Close(); err != nil {
				return nil, err
			}
		case "deflate":
			if e.zl == nil {
				e.zl = zlib.NewWriter(&buf)
			} else {
				e.zl.Reset(&buf)
			}
			e.zl.Write(data)
			if err := e.zl.Close(); err != nil {
				return nil, err
			}
		case "br":
			w := brotli.NewWriter(&buf)
			w.Write(data)
			if err := w.Close(); err != nil {
				return nil, err
			}
		case "zstd":
			if e.zs == nil {
				zs, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
				if err != nil {
					return nil, err
				}
				e.zs = zs
			}
			buf.Write(e.zs.EncodeAll(data, nil))
		default:
			return nil, fmt.Errorf("unknown coding %q", c)
		}
		data = buf.Bytes()
	}
	return data, nil
}

// grpcBody masks each length-prefixed message of a gRPC body. A
// compressed message that cannot be checked is overwritten with '*'
// (its prefix kept), as packet export does; a message cut short is
// scanned as it is.
func (x *Masker) grpcBody(codings []string, data []byte) ([]byte, string, bool) {
	out := make([]byte, 0, len(data))
	changed := false
	for i := 0; i < len(data); {
		if len(data)-i < 5 || uint64(len(data)-i-5) < uint64(binary.BigEndian.Uint32(data[i+1:])) {
			rest := x.m.Bytes(data[i:])
			changed = changed || !same(rest, data[i:])
			out = append(out, rest...)
			break
		}
		flag, n := data[i], int(binary.BigEndian.Uint32(data[i+1:]))
		msg := data[i+5 : i+5+n]
		var m []byte
		if flag&1 != 0 {
			var enc []byte
			var ch bool
			var err error
			if body.NeedsDecoding(codings) {
				enc, ch, err = x.compressed(codings, msg)
			} else {
				// Compressed, but no grpc-encoding says how.
				err = fmt.Errorf("%s", WhyUndecodable)
			}
			switch {
			case err != nil:
				x.stats.Withheld[err.Error()]++
				m, changed = bytes.Repeat([]byte{'*'}, n), true
			default:
				m, changed = enc, changed || ch
			}
		} else {
			m = x.m.Bytes(msg)
			changed = changed || !same(m, msg)
		}
		out = append(out, flag)
		out = binary.BigEndian.AppendUint32(out, uint32(len(m)))
		out = append(out, m...)
		i += 5 + n
	}
	if !changed {
		return data, "", false
	}
	return out, "", true
}
