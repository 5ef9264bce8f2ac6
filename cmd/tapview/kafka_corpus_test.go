package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kafkaCapture is scripts/record-kafka.sh's kgo recording: franz-go's
// kfake broker and kgo client, SASL PLAIN (producer) and SCRAM-SHA-256
// (consumer).
var kafkaCapture = filepath.Join("..", "..", "testdata", "kafka", "kgo.pcap")

type kafkaJSON struct {
	Type        string      `json:"type"`
	Proto       string      `json:"proto"`
	Method      string      `json:"method"`
	Path        string      `json:"path"`
	State       string      `json:"state"`
	ReplyError  string      `json:"reply_error"`
	ErrorCode   string      `json:"error_code"`
	Rows        *int64      `json:"rows"`
	User        string      `json:"db_user"`
	ClientID    string      `json:"client_id"`
	Batches     int         `json:"batches"`
	RecordBytes int64       `json:"record_bytes"`
	ReqHeaders  [][2]string `json:"req_headers"`
}

// kafkaTruth counts the kinds of lines of the kgo truth file
// (scripts/kafkarec says what each is).
func kafkaTruth(t *testing.T) map[string]int64 {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "kafka", "kgo.truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct{ Kind string }
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out[l.Kind]++
		}
	}
	return out
}

// kafkaSecrets reads the planted SASL credentials from the truth file.
func kafkaSecrets(t *testing.T) map[string][2]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "kafka", "kgo.truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][2]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct{ Kind, Mechanism, User, Password string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Kind == "secret" {
			out[l.Mechanism] = [2]string{l.User, l.Password}
		}
	}
	if len(out) != 2 {
		t.Fatalf("truth has %d secrets, want PLAIN and SCRAM-SHA-256", len(out))
	}
	return out
}

func kafkaOpen(t *testing.T, args ...string) []kafkaJSON {
	t.Helper()
	out, stderr, err := runTapview(t, nil, append([]string{"open", "-o", "json"}, args...)...)
	if err != nil {
		t.Fatalf("tapview open: %v\n%s", err, stderr)
	}
	if pw := kafkaSecrets(t)["PLAIN"][1]; bytes.Contains(out, []byte(pw)) && !strings.Contains(strings.Join(args, " "), "--no-mask") {
		t.Errorf("JSON output holds the PLAIN password")
	}
	all := jsonExchanges[kafkaJSON](t, out)
	return all
}

// TestKafkaOpenJSON runs `tapview open -o json` on the kgo recording
// (the real CLI, in-process) and checks the fields the Kafka decoder
// fills, and that the SASL password is masked.
func TestKafkaOpenJSON(t *testing.T) {
	all := kafkaOpen(t, kafkaCapture)
	var produced, fetched int64
	seen := map[string]bool{}
	for _, e := range all {
		if e.Proto != "kafka" {
			t.Errorf("exchange %s %s: proto %q", e.Method, e.Path, e.Proto)
		}
		switch e.Method {
		case "Produce":
			if e.Rows != nil {
				produced += *e.Rows
			}
			seen["batches"] = seen["batches"] || e.Batches == 1 && e.RecordBytes > 61 && e.ClientID == "tapview-producer"
		case "Fetch":
			if e.Rows != nil && e.State == "complete" {
				fetched += *e.Rows
				// kgo fetches by topic id (v13+); the ids are named
				// from the Metadata responses of other connections.
				seen["fetch-names"] = seen["fetch-names"] || *e.Rows > 0 && (e.Path == "payments,orders" || e.Path == "orders,payments")
			}
		case "Metadata":
			seen["error"] = seen["error"] || e.ReplyError == "UNKNOWN_TOPIC_OR_PARTITION" && e.ErrorCode == "3" && strings.Contains(e.Path, "no-such-topic")
		case "SaslAuthenticate":
			for _, h := range e.ReqHeaders {
				if h[0] == "Password" && h[1] != "" && !strings.Contains(h[1], kafkaSecrets(t)["PLAIN"][1]) {
					seen["masked"] = true
				}
			}
			seen["user"] = seen["user"] || e.User == "alice"
		}
	}
	for _, k := range []string{"batches", "fetch-names", "error", "masked", "user"} {
		if !seen[k] {
			t.Errorf("JSON: %s not as expected", k)
		}
	}
	tr := kafkaTruth(t)
	if int64(len(all)) != tr["broker"] || produced != tr["produced"] || fetched != tr["consumed"] {
		t.Errorf("%d exchanges, the broker handled %d requests; %d records produced, kgo produced %d; %d fetched, kgo consumed %d",
			len(all), tr["broker"], produced, tr["produced"], fetched, tr["consumed"])
	}
}

// TestKafkaSameOutputAnyLanes decodes each Kafka recording with one and
// with three decoder lanes: the JSON is byte for byte the same (topic
// ids are named where the lanes' exchanges are merged, in publication
// order), and in the kgo recording, whose client produces and fetches
// by topic id on connections other than its Metadata ones, every
// Produce and Fetch names its topics.
func TestKafkaSameOutputAnyLanes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "kafka", "*.pcap"))
	if err != nil || len(files) < 2 {
		t.Fatalf("%d Kafka recordings (%v)", len(files), err)
	}
	for _, f := range files {
		var outs [2][]byte
		for i, j := range []string{"1", "3"} {
			out, stderr, err := runTapview(t, nil, "open", "-o", "json", "-j", j, f)
			if err != nil {
				t.Fatalf("tapview open -j %s %s: %v\n%s", j, f, err, stderr)
			}
			outs[i] = out
		}
		if !bytes.Equal(outs[0], outs[1]) {
			a, b := strings.Split(string(outs[0]), "\n"), strings.Split(string(outs[1]), "\n")
			for i := range min(len(a), len(b)) {
				if a[i] != b[i] {
					t.Errorf("%s: -j 1 and -j 3 differ at line %d:\n%s\n%s", filepath.Base(f), i+1, a[i], b[i])
					break
				}
			}
			t.Errorf("%s: -j 1 gives %d bytes, -j 3 %d", filepath.Base(f), len(outs[0]), len(outs[1]))
		}
		if filepath.Base(f) != "kgo.pcap" {
			continue
		}
		named := 0
		for _, e := range jsonExchanges[kafkaJSON](t, outs[1]) {
			if e.Method != "Produce" && e.Method != "Fetch" || e.Path == "" {
				continue
			}
			for _, topic := range strings.Split(e.Path, ",") {
				if !strings.Contains("orders payments audit events", topic) {
					t.Errorf("%s %q: topic %q is not named", e.Method, e.Path, topic)
				}
			}
			named++
		}
		if named < 10 {
			t.Errorf("kgo: %d Produce and Fetch exchanges with topics, want at least 10", named)
		}
	}
}

// TestKafkaExportMasksSASL exports the kgo recording to pcapng: masked,
// neither the PLAIN password nor the SCRAM client messages are left in
// the payloads tshark reads back; with --no-mask they all are, as often
// as in the capture.
func TestKafkaExportMasksSASL(t *testing.T) {
	needTshark(t)
	sec := kafkaSecrets(t)
	dir := t.TempDir()
	masked, unmasked := filepath.Join(dir, "masked.pcapng"), filepath.Join(dir, "unmasked.pcapng")
	mustExport(t, kafkaCapture, "-w", masked)
	mustExport(t, kafkaCapture, "-w", unmasked, "--no-mask")
	orig, mt, ut := tsharkPayloads(t, kafkaCapture), tsharkPayloads(t, masked), tsharkPayloads(t, unmasked)
	planted := []string{
		"\x00" + sec["PLAIN"][0] + "\x00" + sec["PLAIN"][1], // PLAIN: authzid NUL user NUL password
		"n,,n=" + sec["SCRAM-SHA-256"][0] + ",r=",           // SCRAM client-first
		"c=biws,r=", // SCRAM client-final (with the proof)
	}
	for _, p := range planted {
		want := bytes.Count(orig, []byte(p))
		if want == 0 {
			t.Fatalf("%q is not in the capture", p)
		}
		if n := bytes.Count(mt, []byte(p)); n != 0 {
			t.Errorf("masked export: %q found %d times", p, n)
		}
		if n := bytes.Count(ut, []byte(p)); n != want {
			t.Errorf("--no-mask export: %q found %d times, the capture has it %d times", p, n, want)
		}
	}
	if len(mt) != len(ut) || !bytes.Contains(mt, []byte("tapview-producer")) {
		t.Errorf("masked payloads (%d bytes, unmasked %d) lost more than the SASL bytes", len(mt), len(ut))
	}
}
