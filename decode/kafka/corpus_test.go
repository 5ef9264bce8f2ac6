package kafka

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
)

// The captures of scripts/record-kafka.sh: kfake driven by franz-go's
// kgo (port 19092, SASL PLAIN and SCRAM) and by kcat (port 19093).
var captures = []struct {
	name string
	port int
}{{"kgo", 19092}, {"kcat", 19093}}

func capturePath(name, ext string) string {
	return filepath.Join("..", "..", "testdata", "kafka", name+ext)
}

// truthLine is one line of a truth file (scripts/kafkarec says what
// each kind is).
type truthLine struct {
	Kind      string   `json:"kind"`
	Key       int16    `json:"key"`
	API       string   `json:"api"`
	Version   int16    `json:"version"`
	Topics    []string `json:"topics"`
	TopicIDs  []string `json:"topic_ids"`
	Records   int64    `json:"records"`
	Batches   int      `json:"batches"`
	Bytes     int64    `json:"bytes"`
	Name      string   `json:"name"`
	ID        string   `json:"id"`
	Topic     string   `json:"topic"`
	User      string   `json:"user"`
	Password  string   `json:"password"`
	Mechanism string   `json:"mechanism"`
	Error     string   `json:"error"`
}

func readTruth(t *testing.T, name string) []truthLine {
	t.Helper()
	f, err := os.Open(capturePath(name, ".truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []truthLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l truthLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("truth line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func kind(ls []truthLine, k string) []truthLine {
	var out []truthLine
	for _, l := range ls {
		if l.Kind == k {
			out = append(out, l)
		}
	}
	return out
}

// requests returns the exchanges that carry a request.
func requests(col *decodetest.Collector) []*decode.Exchange {
	var out []*decode.Exchange
	for _, x := range col.Exchanges() {
		if x.Request != nil {
			out = append(out, x)
		}
	}
	return out
}

// sortedKeys renders a multiset for comparison.
func multiset(keys []string) string {
	s := slices.Clone(keys)
	sort.Strings(s)
	return strings.Join(s, "\n")
}

func diffMultisets(t *testing.T, what string, got, want []string) {
	t.Helper()
	gm, wm := map[string]int{}, map[string]int{}
	for _, k := range got {
		gm[k]++
	}
	for _, k := range want {
		wm[k]++
	}
	for k, n := range wm {
		if gm[k] != n {
			t.Errorf("%s: %q decoded %d times, truth has it %d times", what, k, gm[k], n)
		}
	}
	for k, n := range gm {
		if _, ok := wm[k]; !ok {
			t.Errorf("%s: %q decoded %d times, not in the truth", what, k, n)
		}
	}
}

// TestCapturesAgainstBroker compares every request decoded from each
// capture with what the broker (kfake) parsed: api, version, topics (ids
// named through the truth's topic table) and, for Produce, the records
// and batches; and checks correlation ids count up by one per connection
// as both clients number them (kgo from 0, librdkafka from 1).
func TestCapturesAgainstBroker(t *testing.T) {
	for _, c := range captures {
		t.Run(c.name, func(t *testing.T) {
			truth := readTruth(t, c.name)
			idName := map[string]string{}
			for _, l := range kind(truth, "topic") {
				idName[l.ID] = l.Name
			}
			var want []string
			for _, l := range kind(truth, "broker") {
				topics := slices.Clone(l.Topics)
				for _, id := range l.TopicIDs {
					topics = append(topics, idName[id])
				}
				sort.Strings(topics)
				k := fmt.Sprintf("%s v%d [%s]", apiName(l.Key), l.Version, strings.Join(topics, ","))
				if l.Key == keyProduce {
					k += fmt.Sprintf(" records=%d batches=%d", l.Records, l.Batches)
				}
				want = append(want, k)
			}
			col := decodeFile(t, capturePath(c.name, ".pcap"))
			reqs := requests(col)
			var got, answered []string
			nextCorr := map[uint64]int{}
			for _, x := range reqs {
				topics := []string{}
				if x.Request.Target != "" {
					topics = strings.Split(x.Request.Target, ",")
				}
				sort.Strings(topics)
				k := fmt.Sprintf("%s v%s [%s]", x.Request.Method, x.Request.HeaderValue("Api-Version"), strings.Join(topics, ","))
				if x.Request.Method == "Produce" {
					k += fmt.Sprintf(" records=%d batches=%d", x.Query.Rows, x.Query.Batches)
				}
				got = append(got, k)
				if x.Response != nil {
					answered = append(answered, k)
				}
				corr, _ := strconv.Atoi(x.Request.HeaderValue("Correlation-Id"))
				if n, ok := nextCorr[x.FlowID]; ok && corr != n {
					t.Errorf("flow %d: %s has correlation id %d, want %d", x.FlowID, x.Request.Method, corr, nextCorr[x.FlowID])
				}
				nextCorr[x.FlowID] = corr + 1
				if x.Query == nil || x.Query.ClientID == "" {
					t.Errorf("%s: no client id", k)
				}
			}
			// A request sent as the connection closed may never have
			// reached the broker's handler: every answered request is in
			// the broker's record, and every recorded one was decoded.
			within(t, answered, want, got)
		})
	}
}

// within checks the multisets lo ⊆ mid ⊆ hi, key by key.
func within(t *testing.T, lo, mid, hi []string) {
	t.Helper()
	count := func(ks []string) map[string]int {
		m := map[string]int{}
		for _, k := range ks {
			m[k]++
		}
		return m
	}
	l, m, h := count(lo), count(mid), count(hi)
	for k, n := range l {
		if n > m[k] {
			t.Errorf("request %q: %d answered, the broker handled %d", k, n, m[k])
		}
	}
	for k, n := range m {
		if n > h[k] {
			t.Errorf("request %q: the broker handled %d, %d decoded", k, n, h[k])
		}
	}
	if len(lo) > len(mid) || len(mid) > len(hi) {
		t.Errorf("%d requests answered, %d handled by the broker, %d decoded", len(lo), len(mid), len(hi))
	}
}

// TestKgoHooksAndRecords compares the kgo capture with the client's own
// record: every request kgo wrote and every response it read (api and
// size with the prefix), the records it produced and consumed, the error
// of the missing topic, and the SASL identities.
func TestKgoHooksAndRecords(t *testing.T) {
	truth := readTruth(t, "kgo")
	col := decodeFile(t, capturePath("kgo", ".pcap"))
	reqs := requests(col)
	var wantW, wantR, gotW, gotR []string
	// Reads and writes that failed (the connection closed under a
	// pending Fetch) moved no message.
	for _, l := range kind(truth, "write") {
		if l.Error != "" {
			continue
		}
		wantW = append(wantW, fmt.Sprintf("%s %d", apiName(l.Key), l.Bytes))
	}
	for _, l := range kind(truth, "read") {
		if l.Error != "" {
			continue
		}
		wantR = append(wantR, fmt.Sprintf("%s %d", apiName(l.Key), l.Bytes))
	}
	var produced, fetched int64
	var sawMissing bool
	users := map[string]bool{}
	for _, x := range reqs {
		gotW = append(gotW, fmt.Sprintf("%s %d", x.Request.Method, x.Request.BodySize+4))
		if x.Response != nil {
			gotR = append(gotR, fmt.Sprintf("%s %d", x.Request.Method, x.Response.BodySize+4))
		}
		switch x.Request.Method {
		case "Produce":
			produced += x.Query.Rows
			if x.Query.Batches < 1 || x.Query.RecordBytes < batchHeaderSize {
				t.Errorf("Produce %s: %d batches of %d bytes", x.Request.Target, x.Query.Batches, x.Query.RecordBytes)
			}
		case "Fetch":
			if x.Response != nil {
				fetched += x.Query.Rows
			}
		case "Metadata":
			if strings.Contains(x.Request.Target, "no-such-topic") {
				sawMissing = true
				if x.Query.ReplyError != "UNKNOWN_TOPIC_OR_PARTITION" || x.Query.ErrorCode != "3" {
					t.Errorf("Metadata %s: error %q (%s), want UNKNOWN_TOPIC_OR_PARTITION (3)", x.Request.Target, x.Query.ReplyError, x.Query.ErrorCode)
				}
			}
		case "SaslAuthenticate":
			users[x.Query.User] = true
			if strings.Contains(string(x.Request.Body), "secret") {
				t.Errorf("SaslAuthenticate body shows the secret: %q", x.Request.Body)
			}
		}
		if x.State != decode.Complete && !(x.Request.Method == "Fetch" && x.State == decode.Orphan) {
			t.Errorf("%s %s: state %s (%s)", x.Request.Method, x.Request.Target, x.State, x.Error)
		}
	}
	diffMultisets(t, "written", gotW, wantW)
	diffMultisets(t, "read", gotR, wantR)
	if want := int64(len(kind(truth, "produced"))); produced != want {
		t.Errorf("Produce requests carry %d records, kgo produced %d", produced, want)
	}
	if want := int64(len(kind(truth, "consumed"))); fetched != want {
		t.Errorf("Fetch responses carry %d records, kgo consumed %d", fetched, want)
	}
	if !sawMissing {
		t.Error("no Metadata exchange names the missing topic")
	}
	for _, s := range kind(truth, "secret") {
		if !users[s.User] {
			t.Errorf("SASL user %q (%s) not found", s.User, s.Mechanism)
		}
		if s.Mechanism != "PLAIN" {
			continue
		}
		found := false
		for _, x := range reqs {
			if strings.Contains(x.Request.HeaderValue("Password"), s.Password) {
				found = true
			}
		}
		if !found {
			t.Errorf("the PLAIN password is not in any Password header")
		}
	}
}

// TestKcatRecords: kcat's produced and consumed records (alone and as a
// group member) against the Produce and Fetch counts.
func TestKcatRecords(t *testing.T) {
	truth := readTruth(t, "kcat")
	col := decodeFile(t, capturePath("kcat", ".pcap"))
	var produced, fetched int64
	for _, x := range requests(col) {
		switch {
		case x.Request.Method == "Produce":
			produced += x.Query.Rows
		case x.Request.Method == "Fetch" && x.Response != nil:
			fetched += x.Query.Rows
		}
	}
	if want := int64(len(kind(truth, "produced"))); produced != want {
		t.Errorf("Produce requests carry %d records, kcat produced %d", produced, want)
	}
	if want := int64(len(kind(truth, "consumed")) + len(kind(truth, "group_consumed"))); fetched != want {
		t.Errorf("Fetch responses carry %d records, kcat consumed %d", fetched, want)
	}
}

// TestAgainstTshark compares the requests with Wireshark's Kafka
// dissector on the same captures (api key, version, correlation id per
// request PDU). tshark needs the port mapped to Kafka; the decoder does
// not.
func TestAgainstTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (scripts/test-deps.sh installs it)")
	}
	for _, c := range captures {
		t.Run(c.name, func(t *testing.T) {
			out, err := exec.Command("tshark", "-r", capturePath(c.name, ".pcap"), "-d", fmt.Sprintf("tcp.port==%d,kafka", c.port),
				"-Y", "kafka", "-T", "fields", "-E", "occurrence=a", "-e", "kafka.api_key", "-e", "kafka.api_version",
				"-e", "kafka.correlation_id", "-e", "kafka.request_frame").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			var want []string
			// Trim only newlines: the last line's empty request_frame
			// is a trailing tab.
			for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
				f := strings.Split(line, "\t")
				if len(f) < 4 || f[3] != "" || f[0] == "" {
					continue // a response (it names its request frame, or has no api key)
				}
				keys, vers, corrs := strings.Split(f[0], ","), strings.Split(f[1], ","), strings.Split(f[2], ",")
				for i := range keys {
					if i < len(vers) && i < len(corrs) {
						want = append(want, keys[i]+" v"+vers[i]+" #"+corrs[i])
					}
				}
			}
			var got []string
			for _, x := range requests(decodeFile(t, capturePath(c.name, ".pcap"))) {
				key := slices.IndexFunc(apis[:], func(a apiInfo) bool { return a.name == x.Request.Method })
				got = append(got, fmt.Sprintf("%d v%s #%s", key, x.Request.HeaderValue("Api-Version"), x.Request.HeaderValue("Correlation-Id")))
			}
			if len(got) != len(want) {
				t.Errorf("%d requests decoded, tshark dissects %d", len(got), len(want))
			}
			diffMultisets(t, "tshark request", got, want)
		})
	}
}
