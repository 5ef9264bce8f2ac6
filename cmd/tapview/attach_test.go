package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources/kube/kubetest"
)

// These tests run `tapview attach` in-process against kubetest, an
// httptest server on loopback that speaks the Kubernetes wire protocol of
// the endpoints attach uses (SelfSubjectAccessReview, pods get/list/watch
// with JSON or protobuf, the ephemeralcontainers strategic merge patch,
// and pods/attach over WebSocket v5.channel.k8s.io streaming a corpus
// capture's bytes on the stdout channel). The kubeconfig is a real file
// pointing at it, read by client-go's loader as kubectl would.

const attachCorpus = "http11_keepalive_5req_1conn.pcap"

// attachLine is the part of a JSON Lines record the attach tests read.
type attachLine struct {
	Type      string `json:"type"`
	Source    string `json:"source"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Status    int    `json:"status"`
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	Level     string `json:"level"`
	Kind      string `json:"kind"`
	Message   string `json:"message"`
}

// runAttachCLI runs the root command with args and returns its JSON lines.
func runAttachCLI(t *testing.T, args ...string) ([]attachLine, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	err := cmd.ExecuteContext(context.Background())
	var lines []attachLine
	for _, l := range bytes.Split(out.Bytes(), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var a attachLine
		if jerr := json.Unmarshal(l, &a); jerr != nil {
			t.Fatalf("invalid JSON line %q: %v", l, jerr)
		}
		lines = append(lines, a)
	}
	return lines, err
}

// exchanges returns "METHOD PATH STATUS" of the exchange lines, with the
// pod when withPod is set, sorted.
func exchanges(lines []attachLine, withPod bool) []string {
	var out []string
	for _, l := range lines {
		if l.Type != "exchange" {
			continue
		}
		s := fmt.Sprintf("%s %s %d", l.Method, l.Path, l.Status)
		if withPod {
			s = l.Namespace + "/" + l.Pod + " " + s
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// attachServer starts kubetest with running pods shop/web-1 and
// shop/web-2 (app=web) that stream file, and returns it with a kubeconfig
// whose context namespace is "default" (so -n matters).
func attachServer(t *testing.T, file string) (*kubetest.Server, string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	srv := kubetest.New(t)
	for _, n := range []string{"web-1", "web-2"} {
		srv.AddPod(kubetest.RunningPod("shop", n, map[string]string{"app": "web"}))
		srv.SetCapture("shop", n, kubetest.Capture{Data: data})
	}
	return srv, srv.WriteKubeconfig(filepath.Join(t.TempDir(), "kubeconfig"), "default")
}

func TestAttachPodDecodesLikeOpen(t *testing.T) {
	file := filepath.Join(corpustest.Dir(t), attachCorpus)
	srv, kc := attachServer(t, file)
	opened, err := runAttachCLI(t, "open", "-o", "json", "--no-mask", file)
	if err != nil {
		t.Fatal(err)
	}
	want := exchanges(opened, false)
	if len(want) != 5 {
		t.Fatalf("open found %d exchanges in %s, want 5: %v", len(want), attachCorpus, want)
	}
	attached, err := runAttachCLI(t, "attach", "pod", "web-1", "-n", "shop", "--kubeconfig", kc, "-o", "json", "--no-mask")
	if err != nil {
		t.Fatalf("attach: %v", err)
	}
	got := exchanges(attached, false)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("attach exchanges:\n%s\nopen exchanges:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, l := range attached {
		if l.Type == "exchange" && (l.Pod != "web-1" || l.Namespace != "shop" || l.Source != "shop/web-1") {
			t.Errorf("exchange %s %s: pod %q namespace %q source %q, want web-1, shop, shop/web-1", l.Method, l.Path, l.Pod, l.Namespace, l.Source)
		}
	}
	if ps := srv.Patches(); len(ps) != 1 || ps[0].Pod != "web-1" || len(ps[0].Added) != 1 {
		t.Errorf("want one capture container added to web-1, got %+v", ps)
	}
	if got := srv.AttachProtocol("shop", "web-1"); got != "websocket" {
		t.Errorf("attach went over %q, want websocket", got)
	}
}

func TestAttachSelectorMergesPods(t *testing.T) {
	file := filepath.Join(corpustest.Dir(t), attachCorpus)
	_, kc := attachServer(t, file)
	// A selector session watches for new pods until stopped: --count
	// ends it once both pods' five exchanges are out.
	lines, err := runAttachCLI(t, "attach", "-l", "app=web", "-n", "shop", "--kubeconfig", kc,
		"-o", "json", "--no-mask", "--count", "10", "--duration", "20s", "--filter", `namespace == "shop"`)
	if err != nil {
		t.Fatalf("attach -l: %v", err)
	}
	got := exchanges(lines, true)
	perPod := map[string]int{}
	for _, l := range lines {
		if l.Type == "exchange" {
			perPod[l.Pod]++
			if l.Source != l.Namespace+"/"+l.Pod {
				t.Errorf("exchange of pod %s/%s has source %q", l.Namespace, l.Pod, l.Source)
			}
		}
	}
	if perPod["web-1"] != 5 || perPod["web-2"] != 5 || len(got) != 10 {
		t.Fatalf("exchanges per pod %v, want 5 of web-1 and 5 of web-2:\n%s", perPod, strings.Join(got, "\n"))
	}
	// The filter variable pod selects one of them.
	lines, err = runAttachCLI(t, "attach", "-l", "app=web", "-n", "shop", "--kubeconfig", kc,
		"-o", "json", "--no-mask", "--count", "5", "--duration", "20s", "--filter", `pod == "web-2"`)
	if err != nil {
		t.Fatalf("attach -l with a pod filter: %v", err)
	}
	for _, l := range lines {
		if l.Type == "exchange" && l.Pod != "web-2" {
			t.Errorf("filter pod == \"web-2\" let through an exchange of %q", l.Pod)
		}
	}
	if n := len(exchanges(lines, false)); n != 5 {
		t.Errorf("%d exchanges of web-2, want 5", n)
	}
}

func TestAttachErrorsSayWhatToDo(t *testing.T) {
	file := filepath.Join(corpustest.Dir(t), attachCorpus)
	srv, kc := attachServer(t, file)
	_, err := runAttachCLI(t, "attach", "pod", "nope", "-n", "shop", "--kubeconfig", kc)
	if err == nil || !strings.Contains(err.Error(), "pod nope not found in namespace shop") {
		t.Errorf("missing pod: %v", err)
	}
	srv.Deny("create", "", "pods", "attach")
	_, err = runAttachCLI(t, "attach", "pod", "web-1", "-n", "shop", "--kubeconfig", kc, "-o", "json")
	if err == nil || !strings.Contains(err.Error(), "create pods/attach in namespace shop") ||
		!strings.Contains(err.Error(), "deploy/rbac.yaml") {
		t.Errorf("denied attach: %v", err)
	}
	if len(srv.Patches()) != 0 {
		t.Error("a capture container was added although the permission check failed")
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"attach"}, "attach pod NAME"},
		{[]string{"attach", "service", "web"}, "attach pod NAME"},
		{[]string{"attach", "pod", "web-1", "-A"}, "-A works with -l"},
		{[]string{"attach", "pod", "web-1", "--via", "sniff"}, "use ephemeral, envoy or agent"},
		{[]string{"attach", "-l", "app=web", "pod", "x"}, "not both"},
	} {
		_, err := runAttachCLI(t, append(c.args, "--kubeconfig", kc)...)
		var ee *exitError
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%v: error %v, want a usage error containing %q", c.args, err, c.want)
		}
	}
}
