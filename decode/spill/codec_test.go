package spill

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

func TestCodecRoundTrip(t *testing.T) {
	for i, e := range samples() {
		b := AppendExchange(nil, e)
		got, err := DecodeExchange(b)
		if err != nil {
			t.Fatalf("sample %d: decode: %v", i, err)
		}
		normalize(e)
		if !reflect.DeepEqual(got, e) {
			t.Errorf("sample %d: round trip differs\n got %+v\nwant %+v", i, got, e)
		}
		if again := AppendExchange(nil, got); !bytes.Equal(again, b) {
			t.Errorf("sample %d: re-encoding differs", i)
		}
	}
}

func TestCodecKeepsNilAndEmptyApart(t *testing.T) {
	e := &decode.Exchange{Request: &decode.Message{Body: []byte{}, Headers: []decode.Header{}}, Response: &decode.Message{}}
	got, err := DecodeExchange(AppendExchange(nil, e))
	if err != nil {
		t.Fatal(err)
	}
	if got.Request.Body == nil || got.Request.Headers == nil {
		t.Error("empty slices came back nil")
	}
	if got.Response.Body != nil || got.Response.Headers != nil || got.Interim != nil {
		t.Error("nil slices came back non-nil")
	}
}

func TestCodecTimes(t *testing.T) {
	now := time.Now() // has a monotonic reading and a local zone
	zone := time.Date(2020, 2, 29, 23, 59, 59, 999999999, time.FixedZone("UTC+5", 5*3600))
	for _, tm := range []time.Time{now, zone, {}, time.Unix(0, 0), time.Unix(1<<40, 1), time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)} {
		got, err := DecodeExchange(AppendExchange(nil, &decode.Exchange{Start: tm}))
		if err != nil {
			t.Fatal(err)
		}
		if !got.Start.Equal(tm) || got.Start.IsZero() != tm.IsZero() {
			t.Errorf("time %v came back as %v", tm, got.Start)
		}
		if got.Start.Location() != time.UTC {
			t.Errorf("time %v: location %v, want UTC", tm, got.Start.Location())
		}
	}
}

func TestCodecAddrPorts(t *testing.T) {
	for _, ap := range []netip.AddrPort{
		{}, netip.AddrPortFrom(netip.Addr{}, 80), netip.MustParseAddrPort("1.2.3.4:0"),
		netip.MustParseAddrPort("[::1]:65535"), netip.MustParseAddrPort("[::ffff:1.2.3.4]:1"),
		netip.MustParseAddrPort("[fe80::1%en0]:22"),
	} {
		got, err := DecodeExchange(AppendExchange(nil, &decode.Exchange{Upstream: ap}))
		if err != nil {
			t.Fatal(err)
		}
		if got.Upstream != ap {
			t.Errorf("addr %v came back as %v", ap, got.Upstream)
		}
	}
}

// handledFields lists, per struct, the fields AppendExchange and
// DecodeExchange encode. When this test fails, a field was added to the
// model: encode and decode it in codec.go (in the same position in both),
// then add it here.
func handledFields() map[reflect.Type][]string {
	return map[reflect.Type][]string{
		reflect.TypeFor[decode.Exchange](): {"ID", "FlowID", "Source", "Proto", "Version", "Client", "Server", "Start", "End",
			"Request", "Response", "Interim", "State", "Error", "Upstream", "StreamID", "TLS", "SNI", "GRPC", "DNS",
			"Pod", "Namespace", "Leg", "Direction", "Linked", "Query", "Slim"},
		reflect.TypeFor[decode.Message](): {"First", "Last", "Method", "Target", "Host", "Scheme", "Status", "Reason", "Proto",
			"Headers", "Trailers", "Body", "BodySize", "Truncated", "ContentEncoding", "DecodedSize", "DecodeError", "Parts", "Masked"},
		reflect.TypeFor[decode.Part]():      {"Time", "Kind", "Compressed", "Data", "Size", "Truncated", "FromClient"},
		reflect.TypeFor[decode.Header]():    {"Name", "Value"},
		reflect.TypeFor[decode.GRPCInfo]():  {"Service", "Method", "Status", "Message"},
		reflect.TypeFor[decode.DNSInfo]():   {"ID", "Name", "Type", "Rcode", "Answers"},
		reflect.TypeFor[decode.QueryInfo](): {"ReplyError", "ErrorCode", "Rows", "Database", "User", "ClientID", "Batches", "RecordBytes", "TopicIDs"},
		reflect.TypeFor[decode.TopicID]():   {"ID", "Name"},
	}
}

func TestCodecCoversEveryField(t *testing.T) {
	for typ, want := range handledFields() {
		var have []string
		for f := range typ.Fields() {
			have = append(have, f.Name)
		}
		slices.Sort(have)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(have, want) {
			t.Errorf("%s has fields %v, the codec handles %v: update codec.go and handledFields", typ, have, want)
		}
	}
}

// TestCodecFilledRoundTrip sets every field of every struct to a non-zero
// value by reflection and checks the round trip, so a field added to the
// list above without being encoded still fails.
func TestCodecFilledRoundTrip(t *testing.T) {
	var e decode.Exchange
	n := 0
	fill(t, reflect.ValueOf(&e).Elem(), &n)
	checkAllSet(t, reflect.ValueOf(e), "Exchange")
	got, err := DecodeExchange(AppendExchange(nil, &e))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, &e) {
		t.Errorf("filled exchange differs after a round trip\n got %+v\nwant %+v", got, &e)
	}
}

func fill(t *testing.T, v reflect.Value, n *int) {
	*n++
	switch v.Interface().(type) {
	case time.Time:
		v.Set(reflect.ValueOf(time.Unix(int64(*n), int64(*n)).UTC()))
		return
	case netip.AddrPort:
		v.Set(reflect.ValueOf(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(*n)}), uint16(*n))))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n))
	case reflect.Uint64, reflect.Uint32, reflect.Uint16, reflect.Uint8:
		v.SetUint(uint64(*n))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(t, v.Index(i), n)
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(t, v.Index(i), n)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(t, v.Field(i), n)
		}
	default:
		t.Fatalf("fill does not know %s; teach it and the codec", v.Type())
	}
}

func checkAllSet(t *testing.T, v reflect.Value, path string) {
	if v.IsZero() {
		t.Errorf("%s is still zero after fill", path)
		return
	}
	if v.Kind() == reflect.Pointer {
		checkAllSet(t, v.Elem(), path)
	}
	if v.Kind() == reflect.Struct && v.Type().PkgPath() == "github.com/tapview/tapview/decode" {
		for i := 0; i < v.NumField(); i++ {
			checkAllSet(t, v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	}
}

func TestDecodeRejectsTruncationsAndTrailingBytes(t *testing.T) {
	for i, e := range samples() {
		b := AppendExchange(nil, e)
		for n := 0; n < len(b); n++ {
			if _, err := DecodeExchange(b[:n]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("sample %d cut to %d of %d bytes: err %v, want ErrMalformed", i, n, len(b), err)
			}
		}
		if _, err := DecodeExchange(append(b, 0)); !errors.Is(err, ErrMalformed) {
			t.Errorf("sample %d with a trailing byte: err %v", i, err)
		}
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	good := AppendExchange(nil, &decode.Exchange{})
	for name, b := range map[string][]byte{
		"version":         append([]byte{2}, good[1:]...),
		"huge length":     {1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
		"non-minimal":     append([]byte{1, 0x80, 0}, good[2:]...),
		"varint too long": {1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"empty":           nil,
	} {
		if _, err := DecodeExchange(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
}

// TestDecodeBoundedAllocation claims a billion headers in a few bytes:
// the decoder must refuse before allocating for them.
func TestDecodeBoundedAllocation(t *testing.T) {
	b := AppendExchange(nil, &decode.Exchange{})
	// Replace the Request presence byte with a message whose header
	// count is huge. Build it by hand from a real encoding.
	req := AppendExchange(nil, &decode.Exchange{Request: &decode.Message{Headers: make([]decode.Header, 1)}})
	i := bytes.Index(req, []byte{2, 0, 0}) // header count 1 (+1), then an empty name and value
	if i < 0 || len(b) == 0 {
		t.Fatal("could not find the header count in the encoding")
	}
	evil := append(append(slices.Clone(req[:i]), 0x80, 0x94, 0xeb, 0xdc, 0x03), req[i+1:]...) // 1e9
	allocs := testing.AllocsPerRun(10, func() {
		_, err := DecodeExchange(evil)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "Request.Headers") {
			t.Fatalf("err %v, want ErrMalformed at Request.Headers", err)
		}
	})
	var ms1, ms2 runtimeMem
	ms1.read()
	_, _ = DecodeExchange(evil)
	ms2.read()
	if d := ms2.total - ms1.total; d > 1<<20 {
		t.Errorf("decoding a %d byte input allocated %d bytes", len(evil), d)
	}
	t.Logf("%v allocs per run", allocs)
}

func TestKnownStrings(t *testing.T) {
	for _, s := range []string{"", "GET", "Content-Type", ":authority", "x-envoy-upstream-service-time"} {
		if k, ok := known([]byte(s)); !ok || k != s {
			t.Errorf("known(%q) = %q, %v", s, k, ok)
		}
	}
	for _, s := range []string{"get", "Content-Typ", "X", strings.Repeat("a", 40)} {
		if k, ok := known([]byte(s)); ok {
			t.Errorf("known(%q) = %q, want not known", s, k)
		}
	}
}
