package tls

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/pipeline"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// TestCorpusSNI checks the handshake facts of every TLS capture of the
// corpus against MANIFEST.tsv's tls_sni (tshark's reading).
func TestCorpusSNI(t *testing.T) {
	cases := []struct {
		file, sni, version, cipher, alpnChosen string
		alpn                                   []string
	}{
		{"tls12_clienthello_split_3segments_sni.pcap", "www.google.com", "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "h2", []string{"h2", "http/1.1"}},
		{"tls13_sll2_sni_zeek_org.pcap", "zeek.org", "TLS 1.3", "TLS_AES_256_GCM_SHA384", "", []string{"h2", "http/1.1"}},
		{"pcapng_dsb_tls_keys_decryptable.pcapng", "www.baidu.com", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "http/1.1", []string{"h2", "http/1.1"}},
		{"tls_corrupt_record_header.pcap", "", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			out := decodeFile(t, corpusFile(t, tc.file), nil)
			flows := out.tcpFlows()
			if len(flows) != 1 {
				t.Fatalf("%d TCP flows, want 1", len(flows))
			}
			f := flows[0]
			if f.Proto != "tls" || f.TLS == nil {
				t.Fatalf("flow proto %q TLS %+v, want tls", f.Proto, f.TLS)
			}
			if f.SNI != tc.sni || f.TLS.SNI != tc.sni {
				t.Errorf("SNI %q / %q, want %q", f.SNI, f.TLS.SNI, tc.sni)
			}
			if f.TLS.Version != tc.version || f.TLS.Cipher != tc.cipher || f.TLS.ALPNChosen != tc.alpnChosen {
				t.Errorf("version %q cipher %q alpn %q, want %q %q %q", f.TLS.Version, f.TLS.Cipher, f.TLS.ALPNChosen, tc.version, tc.cipher, tc.alpnChosen)
			}
			if strings.Join(f.TLS.ALPN, ",") != strings.Join(tc.alpn, ",") {
				t.Errorf("offered ALPN %q, want %q", f.TLS.ALPN, tc.alpn)
			}
			if f.TLS.Decrypted {
				t.Error("decrypted without keys")
			}
			if n := len(out.ex); n != 0 {
				t.Errorf("%d exchanges published for undecrypted TLS", n)
			}
		})
	}
}

// TestCorpusDSB decrypts the capture whose keys are in a pcapng
// Decryption Secrets Block: tshark finds GET /s?wd=ccc and a 200
// text/html response inside TLS.
func TestCorpusDSB(t *testing.T) {
	keys := keylog.New()
	out := decodeFile(t, corpusFile(t, "pcapng_dsb_tls_keys_decryptable.pcapng"), keys)
	if keys.Len() != 1 {
		t.Fatalf("key log holds %d randoms from the DSB, want 1 (%+v)", keys.Len(), keys.Stats())
	}
	flows := out.tcpFlows()
	if len(flows) != 1 {
		t.Fatalf("%d flows", len(flows))
	}
	f := flows[0]
	if f.Proto != "tls" || f.TLS == nil || !f.TLS.Decrypted || f.SNI != "www.baidu.com" {
		t.Fatalf("flow %q %+v, want decrypted tls to www.baidu.com", f.Proto, f.TLS)
	}
	ex := out.exchanges()
	if len(ex) != 1 {
		for _, e := range ex {
			t.Logf("exchange %s %s %d %s", e.Method(), e.Path(), e.Status(), e.State)
		}
		t.Fatalf("%d exchanges, want 1 (flow error %q)", len(ex), f.Error)
	}
	e := ex[0]
	if e.Method() != "GET" || e.Path() != "/s?wd=ccc" || e.Host() != "www.baidu.com" {
		t.Errorf("request %s %s host %s", e.Method(), e.Path(), e.Host())
	}
	if e.Status() != 200 || e.Response.ContentType() != "text/html" {
		t.Errorf("response %d %q", e.Status(), e.Response.ContentType())
	}
	if !e.TLS || e.SNI != "www.baidu.com" {
		t.Errorf("exchange TLS %v SNI %q", e.TLS, e.SNI)
	}
	if e.State != "complete" {
		t.Errorf("state %s (%s)", e.State, e.Error)
	}
	// tshark 4.0 --export-objects http on this file writes 855996 bytes
	// with this SHA-256: the decrypted, de-chunked body must be the same.
	sum := sha256.Sum256(e.Response.Body)
	if e.Response.BodySize != 855996 || hex.EncodeToString(sum[:]) != "c3006cd55604f5cdb01e0083cbfb568630118a9f6cb12dc02b1017a536cbc735" {
		t.Errorf("response body %d bytes (size %d, truncated %v) sha256 %x, want tshark's 855996 bytes", len(e.Response.Body), e.Response.BodySize, e.Response.Truncated, sum)
	}
	if f.Error != "" {
		t.Errorf("flow error %q", f.Error)
	}
}

// TestCorpusDSBKeysLate delivers the same keys only after part of the
// capture was read, as a lagging live key log would: the records wait
// and decrypt when the keys come. With a small pending budget the records
// past it are skipped, and the response is cut with a note.
func TestCorpusDSBKeysLate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxPending int
		full       bool
	}{
		{"default budget", 0, true},
		{"64 KiB budget", 64 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := keylog.New()
			src, err := pcapfile.Open(corpusFile(t, "pcapng_dsb_tls_keys_decryptable.pcapng"))
			if err != nil {
				t.Fatal(err)
			}
			out := newCollector()
			inner := innerParsers()
			p := NewWithConfig(Config{Keys: keys, Inner: inner, MaxPending: tc.maxPending})
			dec := tcp.NewDecoder(out, tcp.Config{Parsers: append([]decode.Parser{p}, inner...)})
			em := &lateEmitter{emitter: emitter{dec: dec}, keys: keys, after: 150}
			if err := src.Run(context.Background(), em); err != nil {
				t.Fatal(err)
			}
			dec.Finish(em.last)
			f := out.tcpFlows()[0]
			ex := out.exchanges()
			if len(ex) != 1 || ex[0].Path() != "/s?wd=ccc" || ex[0].Status() != 200 || !f.TLS.Decrypted {
				t.Fatalf("late keys: %d exchanges, decrypted %v, error %q", len(ex), f.TLS.Decrypted, f.Error)
			}
			size := ex[0].Response.BodySize
			if tc.full && (size != 855996 || f.Error != "") {
				t.Errorf("body %d bytes, flow error %q: want all 855996 bytes", size, f.Error)
			}
			if !tc.full && (size >= 855996 || !strings.Contains(f.Error, "before their keys")) {
				t.Errorf("body %d bytes, flow error %q: want a cut body and a note", size, f.Error)
			}
		})
	}
}

// lateEmitter holds DSB contents back until after packets were read.
type lateEmitter struct {
	emitter
	keys    *keylog.KeyLog
	after   int
	n       int
	secrets []byte
}

func (e *lateEmitter) Packet(p sources.Packet) {
	e.n++
	if e.n == e.after {
		e.keys.AddText(e.secrets)
	}
	e.emitter.Packet(p)
}

func (e *lateEmitter) Secrets(kind uint32, data []byte) {
	if kind == keylog.SecretsTLSKeyLog {
		e.secrets = append(e.secrets, data...)
	}
}

// TestPipelineDSB runs the DSB capture through decode/pipeline with the
// key log as Options.Secrets, the way cmd/tapview wires it.
func TestPipelineDSB(t *testing.T) {
	src, err := pcapfile.Open(corpusFile(t, "pcapng_dsb_tls_keys_decryptable.pcapng"))
	if err != nil {
		t.Fatal(err)
	}
	keys := keylog.New()
	out := newCollector()
	dec := tcp.NewDecoder(out, tcp.Config{Parsers: parsers(keys)})
	if err := pipeline.Run(context.Background(), []pipeline.Input{{Source: src}}, dec, pipeline.Options{Secrets: keys}); err != nil {
		t.Fatal(err)
	}
	ex := out.exchanges()
	if len(ex) != 1 || ex[0].Path() != "/s?wd=ccc" || ex[0].Status() != 200 || !ex[0].TLS {
		t.Fatalf("%d exchanges, want the decrypted GET /s?wd=ccc", len(ex))
	}
	f := out.tcpFlows()[0]
	random := mustHex(t, "75db01ecd858f0066c5b75884de569b7370101ee0cd6a21f900333d501ffc2a4")
	if !bytes.Equal(f.TLS.ClientRandom, random) {
		t.Errorf("flow client random %x", f.TLS.ClientRandom)
	}
	lines := keys.LinesFor(f.TLS.ClientRandom)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "CLIENT_RANDOM 75db01ec") {
		t.Errorf("LinesFor the flow's client random: %q", lines)
	}
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
