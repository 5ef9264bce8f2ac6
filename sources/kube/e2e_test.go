package kube

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources/kube/kubetest"
)

// These tests run the real client-go stack (typed client, remotecommand
// WebSocket and SPDY executors, portforward dialers) against kubetest,
// which speaks the Kubernetes wire protocol on loopback.

const keepalive = "http11_keepalive_5req_1conn.pcap"

func TestAttachPodStreamsCaptureOverWebSocket(t *testing.T) {
	srv := newServer(t, keepalive)
	ctx := context.Background()
	s, err := Start(ctx, options(srv, Target{Kind: KindPod, Names: []string{"web-1"}}))
	if err != nil {
		t.Fatal(err)
	}
	c, errs := runAll(t, ctx, s)
	if errs[0] != nil {
		t.Fatalf("run: %v", errs[0])
	}
	samePackets(t, c.packets(), corpustest.Read(t, keepalive), "shop/web-1")
	if got := srv.AttachProtocol("shop", "web-1"); got != "websocket" {
		t.Errorf("attach protocol %q, want websocket (v5.channel.k8s.io)", got)
	}
	if n := c.note("tcpdump"); n == nil || !contains(n.Message, "listening on any") || n.Source != "shop/web-1" {
		t.Errorf("tcpdump's stderr not relayed as a note of shop/web-1: %+v", n)
	}
	if c.note("ended") == nil {
		t.Errorf("no note that the capture ended: %+v", c.statuses())
	}

	// The patch added exactly one capture container, by strategic merge.
	ps := srv.Patches()
	if len(ps) != 1 || len(ps[0].Added) != 1 {
		t.Fatalf("patches: %+v", ps)
	}
	if ps[0].ContentType != "application/strategic-merge-patch+json" {
		t.Errorf("patch content type %q", ps[0].ContentType)
	}
	var body map[string]map[string][]corev1.EphemeralContainer
	if err := json.Unmarshal(ps[0].Body, &body); err != nil || len(body["spec"]["ephemeralContainers"]) != 1 {
		t.Errorf("patch body %s (%v): want only spec.ephemeralContainers with one container", ps[0].Body, err)
	}
	ec := ps[0].Added[0]
	if !ec.Stdin || !ec.StdinOnce || ec.TTY {
		t.Errorf("capture container stdin=%v stdinOnce=%v tty=%v", ec.Stdin, ec.StdinOnce, ec.TTY)
	}
	// Permissions were checked before anything changed.
	reviews := srv.Reviews()
	want := []string{
		"shop get  pods ", "shop list  pods ", "shop watch  pods ",
		"shop patch  pods ephemeralcontainers", "shop create  pods attach", "shop get  pods attach",
	}
	if len(reviews) != len(want) {
		t.Fatalf("reviews %q, want %q", reviews, want)
	}
	for i := range want {
		if reviews[i] != want[i] {
			t.Errorf("review %d %q, want %q", i, reviews[i], want[i])
		}
	}
}

func TestAttachFallsBackToSPDY(t *testing.T) {
	srv := newServer(t, keepalive)
	srv.NoWebSocket = true
	ctx := context.Background()
	s, err := Start(ctx, options(srv, Target{Kind: KindPod, Names: []string{"web-1"}}))
	if err != nil {
		t.Fatal(err)
	}
	c, errs := runAll(t, ctx, s)
	if errs[0] != nil {
		t.Fatalf("run: %v", errs[0])
	}
	samePackets(t, c.packets(), corpustest.Read(t, keepalive), "shop/web-1")
	if got := srv.AttachProtocol("shop", "web-1"); got != "spdy" {
		t.Errorf("attach protocol %q, want spdy", got)
	}
}

// TestDetachEndsCapture: when tapview stops, it closes the capture's
// stdin (which ends tcpdump in the pod) before it disconnects.
func TestDetachEndsCapture(t *testing.T) {
	for _, noWS := range []bool{false, true} {
		srv := newServer(t, keepalive)
		srv.NoWebSocket = noWS
		srv.SetCapture("shop", "web-1", kubetest.Capture{Data: corpusFile(t, keepalive), Hold: true})
		ctx, cancel := context.WithCancel(context.Background())
		s, err := Start(ctx, options(srv, Target{Kind: KindPod, Names: []string{"web-1"}}))
		if err != nil {
			t.Fatal(err)
		}
		c := &collector{}
		done := make(chan error, 1)
		go func() { done <- s.Sources()[0].Run(ctx, c) }()
		want := len(corpustest.Read(t, keepalive))
		waitFor(t, "all packets", func() bool { return len(c.packets()) == want })
		if srv.StdinClosed("shop", "web-1") {
			t.Fatal("stdin closed before tapview detached")
		}
		began := time.Now()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run after cancel: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		if !srv.StdinClosed("shop", "web-1") {
			t.Errorf("websocket=%v: the capture's stdin was not closed on detach, tcpdump would keep running", !noWS)
		}
		if d := time.Since(began); d >= detachGrace {
			t.Errorf("detach took %s: the pod side should end the stream, not the grace timer", d)
		}
	}
}
