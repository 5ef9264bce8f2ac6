package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The leak corpus (testdata/leak, recorded by scripts/record-leak.sh from
// real Go servers and clients on loopback) plants secrets where packet
// masking used to leak them: split across TCP segments (also hundreds of
// packets apart), chunks, HTTP/2 HEADERS + CONTINUATION and DATA frames,
// gRPC's 16 KB frames, masked and permessage-deflate WebSocket frames,
// DNS TXT answers. Each capture, the ports tshark must be told about.
var leakCaptures = []struct {
	name, file string
	decodeAs   []string
}{
	{"h1", "h1.pcap", []string{"tcp.port==18080,http"}},
	{"h2", "h2.pcapng", []string{"tcp.port==18081,http2"}},
	{"h2up", "h2up.pcap", []string{"tcp.port==18085,http"}},
	{"grpc", "grpc.pcap", []string{"tcp.port==18082,http2"}},
	{"ws", "ws.pcapng", []string{"tcp.port==18083,http"}},
	{"wsraw", "wsraw.pcap", []string{"tcp.port==18084,http"}},
	{"dns", "dns.pcap", []string{"udp.port==15353,dns"}},
	{"dnstcp", "dnstcp.pcapng", []string{"tcp.port==15354,dns"}},
}

// leakWindow is the length of the pieces of a secret looked for: a
// secret counts as found when any of its pieces of this length is
// readable, so half a secret left behind is found too.
const leakWindow = 8

type plantedSecret struct {
	name, capture, value, where string
	pieces                      []string // leakWindow-long pieces found in no other secret
}

func loadPlanted(t *testing.T) []*plantedSecret {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "leak", "secrets.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*plantedSecret
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") || sc.Text() == "" {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 4 || len(c[2]) < 2*leakWindow {
			t.Fatalf("secrets.tsv: bad line %q", sc.Text())
		}
		out = append(out, &plantedSecret{name: c[0], capture: c[1], value: c[2], where: c[3]})
	}
	count := make(map[string]int)
	for _, s := range out {
		seen := make(map[string]bool)
		for i := 0; i+leakWindow <= len(s.value); i++ {
			p := s.value[i : i+leakWindow]
			if !seen[p] {
				seen[p] = true
				count[p]++
			}
		}
	}
	for _, s := range out {
		for i := 0; i+leakWindow <= len(s.value); i++ {
			if p := s.value[i : i+leakWindow]; count[p] == 1 {
				s.pieces = append(s.pieces, p)
			}
		}
		if len(s.pieces) == 0 {
			t.Fatalf("secret %s shares every piece with another secret", s.name)
		}
	}
	return out
}

// found returns the planted secrets of which any piece is in text.
func (s *plantedSecret) in(text []byte) bool {
	for _, p := range s.pieces {
		if bytes.Contains(text, []byte(p)) {
			return true
		}
	}
	return false
}

// tsharkView is everything tshark shows of a capture: every field of
// every packet (-V: HTTP/2 header values after HPACK, WebSocket text
// after unmasking and inflating, DNS TXT strings, ...), the bytes of
// every data source it builds (-x: reassembled TCP segments, de-chunked
// and uncompressed bodies, unmasked and decompressed WebSocket payloads,
// decompressed header blocks), and each TCP stream followed per
// direction.
func tsharkView(t *testing.T, path string, decodeAs []string) []byte {
	t.Helper()
	args := []string{"-n", "-r", path, "-o", "tcp.reassemble_out_of_order:TRUE"}
	for _, d := range decodeAs {
		args = append(args, "-d", d)
	}
	args = append(args, "-V", "-x")
	// Every TCP stream of the corpus's captures, followed (an index
	// without a stream follows nothing).
	const follow = 32
	for i := 0; i < follow; i++ {
		args = append(args, "-z", "follow,tcp,raw,"+strconv.Itoa(i))
	}
	full := runTshark(t, args...)
	for _, m := range regexp.MustCompile(`\[Stream index: (\d+)\]`).FindAllSubmatch(full, -1) {
		if n, _ := strconv.Atoi(string(m[1])); n >= follow {
			t.Fatalf("%s has more than %d TCP streams: follow more", filepath.Base(path), follow)
		}
	}
	var out bytes.Buffer
	out.Write(full)
	out.Write(hexSources(full))
	out.Write(followDirections(full))
	return out.Bytes()
}

func runTshark(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

var hexLine = regexp.MustCompile(`^[0-9a-f]{4,8}  ((?:[0-9a-f]{2} ){1,16})`)

// hexSources decodes the hex dumps of -x output, each data source on
// its own line.
func hexSources(dump []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.Split(string(dump), "\n") {
		m := hexLine.FindStringSubmatch(line)
		if m == nil {
			out.WriteByte('\n')
			continue
		}
		if b, err := hex.DecodeString(strings.ReplaceAll(m[1], " ", "")); err == nil {
			out.Write(b)
		}
	}
	return out.Bytes()
}

// followDirections turns `-z follow,tcp,raw` output into each stream's
// bytes, one direction after the other (server lines are indented).
func followDirections(text []byte) []byte {
	var client, server, out bytes.Buffer
	flush := func() {
		out.Write(client.Bytes())
		out.WriteByte('\n')
		out.Write(server.Bytes())
		out.WriteByte('\n')
		client.Reset()
		server.Reset()
	}
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "=====") {
			flush()
			continue
		}
		dst := &client
		if strings.HasPrefix(line, "\t") {
			dst = &server
		}
		if b, err := hex.DecodeString(strings.TrimSpace(line)); err == nil {
			dst.Write(b)
		}
	}
	flush()
	return out.Bytes()
}

// jsonView is a HAR or JSON Lines export with every string that is
// base64 decoded as well.
func jsonView(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(b)
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			break
		}
		walkStrings(v, func(s string) {
			if d, err := base64.StdEncoding.DecodeString(s); err == nil {
				out = append(append(out, '\n'), d...)
			}
		})
	}
	return out
}

func walkStrings(v any, f func(string)) {
	switch v := v.(type) {
	case string:
		f(v)
	case []any:
		for _, x := range v {
			walkStrings(x, f)
		}
	case map[string]any:
		for _, x := range v {
			walkStrings(x, f)
		}
	}
}

// TestExportLeakCorpus exports the captures of the leak corpus in every
// format, masked and not, reads the packet exports back with tshark and
// looks for the planted secrets: a masked export must show none of
// them, an unmasked pcap or pcapng all of them (HAR and JSON hold only
// what they have fields for; their unmasked counts are logged). All
// captures go into one export per format, so tshark runs once per file.
func TestExportLeakCorpus(t *testing.T) {
	needTshark(t)
	secrets := loadPlanted(t)
	dir := t.TempDir()
	var inputs, decodeAs []string
	for _, c := range leakCaptures {
		inputs = append(inputs, filepath.Join("..", "..", "testdata", "leak", c.file))
		decodeAs = append(decodeAs, c.decodeAs...)
		n := 0
		for _, s := range secrets {
			if s.capture == c.name {
				n++
			}
		}
		if n == 0 {
			t.Fatalf("no secrets planted in %s", c.file)
		}
	}
	type key struct{ format, mode string }
	found := map[key]map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, format := range []string{"pcap", "pcapng", "har", "json"} {
		for _, mode := range []string{"masked", "unmasked"} {
			out := filepath.Join(dir, mode+"."+format)
			args := append(append([]string(nil), inputs...), "-w", out)
			if mode == "unmasked" {
				args = append(args, "--no-mask")
			}
			mustExport(t, args...)
			wg.Add(1)
			go func() {
				defer wg.Done()
				var view []byte
				if format == "pcap" || format == "pcapng" {
					view = tsharkView(t, out, decodeAs)
				} else {
					view = jsonView(t, out)
				}
				hit := map[string]bool{}
				for _, s := range secrets {
					if s.in(view) {
						hit[s.name] = true
					}
				}
				mu.Lock()
				found[key{format, mode}] = hit
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	var lines []string
	for _, format := range []string{"pcap", "pcapng", "har", "json"} {
		masked, unmasked := found[key{format, "masked"}], found[key{format, "unmasked"}]
		lines = append(lines, fmt.Sprintf("%-6s masked: %d of %d planted secrets found; --no-mask: %d of %d", format, len(masked), len(secrets), len(unmasked), len(secrets)))
		for _, s := range secrets {
			if masked[s.name] {
				t.Errorf("%s export, masked: secret %s (%s) is readable", format, s.name, s.where)
			}
			if (format == "pcap" || format == "pcapng") && !unmasked[s.name] {
				t.Errorf("%s export, --no-mask: secret %s (%s) not found: the test would not see it leak", format, s.name, s.where)
			}
		}
	}
	t.Log("leak corpus, " + strconv.Itoa(len(secrets)) + " planted secrets:\n" + strings.Join(lines, "\n"))
}
