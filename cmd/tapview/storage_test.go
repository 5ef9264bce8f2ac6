package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/storage/s3/s3test"
)

// TestOpenS3 reads captures stored as segments on a real S3 server
// (SeaweedFS on loopback) and checks `open s3://` shows exactly what
// opening the original files shows, that --since/--until keep only the
// chosen time, that export reads from the store, and that store errors
// are sentences.
func TestOpenS3(t *testing.T) {
	dir := corpustest.Dir(t)
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "tapview-open")
	web := filepath.Join(dir, "http11_pipelined_40req_retrans.pcap")
	doh := filepath.Join(dir, "h2c_prior_knowledge_doh_34streams.pcap")
	// Sources named as the files, so the JSON names them alike.
	webSegs := srv.UploadSegments(t, bucket, "team", "cap1", filepath.Base(web), web, 7)
	srv.UploadSegments(t, bucket, "team", "cap1", filepath.Base(doh), doh, 30)
	s3 := []string{"--s3-endpoint", srv.Endpoint, "--s3-path-style"}

	t.Run("same exchanges as the files", func(t *testing.T) {
		// One source reads the same as its file, byte for byte.
		local, _, err := runTapview(t, nil, "open", "-o", "json", "--no-mask", web)
		if err != nil {
			t.Fatal(err)
		}
		stored, stderr, err := runTapview(t, nil, append([]string{"open", "-o", "json", "--no-mask", "s3://" + bucket + "/team/cap1/" + filepath.Base(web) + "/"}, s3...)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		if n := bytes.Count(local, []byte(`"type":"exchange"`)); n != 40 {
			t.Fatalf("the file gives %d exchanges, want 40", n)
		}
		sameJSON(t, local, stored)
		if !strings.Contains(stderr, "tapview: read ") || !strings.Contains(stderr, "from the store") {
			t.Errorf("no read summary on stderr: %q", stderr)
		}
		// Several sources interleave as several files do: in the order
		// their batches reach the decoder, which numbers exchanges and
		// flows as they come. Compare everything else.
		local, _, err = runTapview(t, nil, "open", "-o", "json", "--no-mask", doh, web)
		if err != nil {
			t.Fatal(err)
		}
		stored, stderr, err = runTapview(t, nil, append([]string{"open", "-o", "json", "--no-mask", "s3://" + bucket + "/team/cap1/"}, s3...)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		sameJSON(t, unordered(local), unordered(stored))
	})

	t.Run("since and until", func(t *testing.T) {
		since, until := webSegs[1].Start, webSegs[3].End
		out, stderr, err := runTapview(t, nil, append([]string{"open", "-o", "json", "s3://" + bucket + "/team/",
			"--since", since.Format(time.RFC3339Nano), "--until", until.Format(time.RFC3339Nano)}, s3...)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		n := 0
		for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
			var x struct {
				Type, Source string
				Start        time.Time
			}
			if err := json.Unmarshal(line, &x); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if x.Type != "exchange" {
				continue
			}
			n++
			if x.Start.Before(since) || x.Start.After(until) || x.Source != filepath.Base(web) {
				t.Errorf("exchange of %s at %v outside %v..%v", x.Source, x.Start, since, until)
			}
		}
		if n == 0 || n >= 40 {
			t.Errorf("%d exchanges in the range; want some of web's 40", n)
		}
	})

	t.Run("export", func(t *testing.T) {
		outFile := filepath.Join(t.TempDir(), "out.json")
		_, stderr, err := runTapview(t, nil, append([]string{"export", "s3://" + bucket + "/team/cap1/", "-w", outFile}, s3...)...)
		if err != nil || !strings.Contains(stderr, "wrote 74 JSON lines") {
			t.Fatalf("export: %v\n%s", err, stderr)
		}
		pcap := filepath.Join(t.TempDir(), "out.pcapng")
		_, stderr, err = runTapview(t, nil, append([]string{"export", "s3://" + bucket + "/team/cap1/", "--filter", "status >= 200", "-w", pcap}, s3...)...)
		if err != nil {
			t.Fatalf("export pcapng: %v\n%s", err, stderr)
		}
		stored, _, _ := runTapview(t, nil, "open", "-o", "json", "--no-mask", pcap)
		if n := bytes.Count(stored, []byte(`"type":"exchange"`)); n < 70 {
			t.Errorf("the pcapng exported from the store holds %d exchanges", n)
		}
	})

	t.Run("lifecycle apply", func(t *testing.T) {
		out, stderr, err := runTapview(t, nil, "storage", "lifecycle", "s3://"+bucket+"/team/", "--days", "3", "--apply",
			"--s3-endpoint", srv.Endpoint, "--s3-path-style")
		if err != nil && strings.Contains(err.Error(), "does not support S3 lifecycle rules") {
			t.Skipf("this store cannot apply lifecycle rules; the CLI says so: %v", err)
		}
		if err != nil {
			t.Fatalf("--apply: %v\n%s", err, stderr)
		}
		if !bytes.Contains(out, []byte(`"Days": 3`)) || !bytes.Contains(out, []byte(`"Prefix": "team/"`)) || !strings.Contains(stderr, "applied") {
			t.Errorf("--apply printed %s / %s", out, stderr)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, _, err := runTapview(t, nil, append([]string{"open", "-o", "json", "s3://no-such-bucket/x/"}, s3...)...)
		if err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "--s3-endpoint") {
			t.Errorf("missing bucket: %v", err)
		}
		_, _, err = runTapview(t, nil, append([]string{"open", "-o", "json", "s3://" + bucket + "/"}, s3...)...)
		if err != nil {
			t.Errorf("one capture in the bucket should open from its root: %v", err)
		}
		_, _, err = runTapview(t, nil, "open", "-o", "json", "--since", "1h", web)
		if err == nil || !strings.Contains(err.Error(), "editcap") {
			t.Errorf("--since on a file: %v", err)
		}
		_, _, err = runTapview(t, nil, append([]string{"open", "-o", "json", "s3://" + bucket + "/team/", "--since", "yesterday"}, s3...)...)
		if err == nil || !strings.Contains(err.Error(), "give a time such as") {
			t.Errorf("--since yesterday: %v", err)
		}
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		_, _, err = runTapview(t, nil, append([]string{"open", "-o", "json", "s3://" + bucket + "/team/"}, s3...)...)
		if err == nil || !strings.Contains(err.Error(), "no AWS credentials were found") {
			t.Errorf("no credentials: %v", err)
		}
	})
}

// TestStorageLifecycle prints the rule (TestOpenS3 applies one to a real
// store).
func TestStorageLifecycle(t *testing.T) {
	out, stderr, err := runTapview(t, nil, "storage", "lifecycle", "s3://captures/team-a/", "--days", "7")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Rules []struct {
			Filter     struct{ Prefix string }
			Expiration struct{ Days int }
		}
	}
	if err := json.Unmarshal(out, &cfg); err != nil || len(cfg.Rules) != 1 || cfg.Rules[0].Filter.Prefix != "team-a/" || cfg.Rules[0].Expiration.Days != 7 {
		t.Fatalf("printed rule %s (%v)", out, err)
	}
	if !strings.Contains(stderr, "7 days") || !strings.Contains(stderr, "--apply") {
		t.Errorf("stderr %q does not explain the rule", stderr)
	}
	if _, _, err := runTapview(t, nil, "storage", "lifecycle", "s3://captures/", "--days", "0"); err == nil {
		t.Error("--days 0 accepted")
	}
}

// sameJSON reports where two runs' JSON output differ.
func sameJSON(t *testing.T, files, store []byte) {
	t.Helper()
	if bytes.Equal(files, store) {
		return
	}
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "files.json"), files, 0o644)
	_ = os.WriteFile(filepath.Join(dir, "store.json"), store, 0o644)
	out, _ := exec.Command("diff", filepath.Join(dir, "files.json"), filepath.Join(dir, "store.json")).CombinedOutput()
	t.Errorf("open s3:// differs from opening the files:\n%.3000s", out)
}

// unordered drops the exchange and flow numbers and sorts the lines.
func unordered(out []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, l := range lines {
		lines[i] = numbering.ReplaceAllString(l, "")
	}
	sort.Strings(lines)
	return []byte(strings.Join(lines, "\n"))
}

var numbering = regexp.MustCompile(`"(id|flow)":[0-9]+,`)
