package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/tapview/tapview/sources/kube"
	"github.com/tapview/tapview/sources/kube/kubetest"
)

// complete runs the hidden __complete command the shell scripts call on
// <Tab>, in-process on the real command tree, and returns the offered
// values and the directive.
func complete(t *testing.T, args ...string) ([]string, cobra.ShellCompDirective) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{cobra.ShellCompRequestCmd}, args...))
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("__complete %q: %v (%s)", args, err, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	var d int
	if _, err := fmt.Sscanf(last, ":%d", &d); err != nil {
		t.Fatalf("__complete %q: no directive line in %q", args, out.String())
	}
	var values []string
	for _, l := range lines[:len(lines)-1] {
		v, _, _ := strings.Cut(l, "\t")
		values = append(values, v)
	}
	return values, cobra.ShellCompDirective(d)
}

func wantCompletion(t *testing.T, want []string, wantDir cobra.ShellCompDirective, args ...string) {
	t.Helper()
	got, dir := complete(t, args...)
	if strings.Join(got, " ") != strings.Join(want, " ") || dir != wantDir {
		t.Errorf("__complete %q = %q %d, want %q %d", args, got, dir, want, wantDir)
	}
}

func TestCompleteFlagValues(t *testing.T) {
	noFiles := cobra.ShellCompDirectiveNoFileComp
	wantCompletion(t, []string{"json", "table"}, noFiles, "open", "-o", "")
	wantCompletion(t, []string{"json", "table"}, noFiles, "attach", "--output", "")
	wantCompletion(t, []string{"text", "json"}, noFiles, "version", "-o", "")
	wantCompletion(t, []string{"ephemeral", "envoy", "agent"}, noFiles, "attach", "pod", "web-1", "--via", "")
	wantCompletion(t, []string{"netraw", "baseline"}, noFiles, "attach", "--profile", "")
	wantCompletion(t, []string{"pcap", "pcapng", "har", "json"}, noFiles, "export", "x.pcap", "--format", "")

	ext := cobra.ShellCompDirectiveFilterFileExt
	wantCompletion(t, []string{"pcap", "pcapng", "har", "json"}, ext, "export", "x.pcap", "-w", "")
	wantCompletion(t, []string{"pcapng", "pcap", "pb_length_delimited"}, ext, "open", "x.pcap", "-w", "")
	wantCompletion(t, []string{"yaml", "yml"}, ext, "open", "--mask-rules", "")
	wantCompletion(t, []string{"log", "txt", "keys"}, ext, "open", "--keylog", "")
	if got, dir := complete(t, "open", ""); dir != ext || !strings.Contains(strings.Join(got, " "), "pcapng") {
		t.Errorf("open's file arguments: %q %d, want capture extensions", got, dir)
	}
}

// TestCompletionValuesAccepted keeps the offered values in step with what
// the commands accept.
func TestCompletionValuesAccepted(t *testing.T) {
	for _, v := range flagValues()["via"] {
		if _, err := kube.ParseVia(v); err != nil {
			t.Errorf("--via %s offered but rejected: %v", v, err)
		}
	}
	for _, v := range flagValues()["format"] {
		if _, err := exportFormat("-", v); err != nil {
			t.Errorf("--format %s offered but rejected: %v", v, err)
		}
	}
}

// TestCompletePodNames completes pod names through client-go against
// kubetest, the Kubernetes wire-protocol server on loopback the attach
// tests use: only running pods of the namespace given with -n.
func TestCompletePodNames(t *testing.T) {
	srv := kubetest.New(t)
	srv.AddPod(kubetest.RunningPod("shop", "web-1", nil))
	srv.AddPod(kubetest.RunningPod("shop", "web-2", nil))
	pending := kubetest.RunningPod("shop", "web-3", nil)
	pending.Status.Phase = corev1.PodPending
	srv.AddPod(pending)
	srv.AddPod(kubetest.RunningPod("other", "db-0", nil))
	kc := srv.WriteKubeconfig(filepath.Join(t.TempDir(), "kubeconfig"), "default")

	noFiles := cobra.ShellCompDirectiveNoFileComp
	wantCompletion(t, []string{"pod", "deployment"}, noFiles, "attach", "--kubeconfig", kc, "")
	wantCompletion(t, []string{"web-1", "web-2"}, noFiles, "attach", "--kubeconfig", kc, "-n", "shop", "pod", "")
	wantCompletion(t, []string{"web-2"}, noFiles, "attach", "--kubeconfig", kc, "-n", "shop", "pod", "web-1", "")
	wantCompletion(t, []string{"pod/web-1", "pod/web-2"}, noFiles, "attach", "--kubeconfig", kc, "-n", "shop", "pod/")
	// The context's namespace ("default") has no pods.
	wantCompletion(t, nil, noFiles, "attach", "--kubeconfig", kc, "pod", "")
	wantCompletion(t, []string{"kubetest"}, noFiles, "attach", "--kubeconfig", kc, "--context", "")
}

// TestCompleteUnreachableCluster: a cluster that accepts connections and
// never answers costs the shell the completion timeout, and offers nothing.
func TestCompleteUnreachableCluster(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://%s"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u, namespace: shop}}]
current-context: c
`, ln.Addr())
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	wantCompletion(t, nil, cobra.ShellCompDirectiveNoFileComp, "attach", "--kubeconfig", kc, "pod", "")
	if d := time.Since(start); d > clusterCompletionTimeout+2*time.Second {
		t.Errorf("completion took %v against a silent server, want about %v", d, clusterCompletionTimeout)
	}
	wantCompletion(t, nil, cobra.ShellCompDirectiveNoFileComp, "attach", "--kubeconfig", filepath.Join(t.TempDir(), "missing"), "-n", "")
}
