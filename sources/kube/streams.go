package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// attacher attaches to a running container's stdio.
type attacher interface {
	Attach(ctx context.Context, ns, pod, container string, stdin io.Reader, stdout, stderr io.Writer) error
}

// forwarder port-forwards a local loopback port to a pod's port. The
// returned address is valid until ctx ends; done yields the end of the
// forwarding (nil when ctx ended it).
type forwarder interface {
	Forward(ctx context.Context, ns, pod string, port int, notes io.Writer) (addr string, done <-chan error, err error)
}

// restStreams opens attach and port-forward streams the way current
// kubectl does: WebSocket first (v5.channel.k8s.io for attach, SPDY
// tunnelled over WebSocket for port-forward), falling back to SPDY when
// the server (or a proxy in between) cannot upgrade to WebSocket.
type restStreams struct {
	cfg  *rest.Config
	core rest.Interface
}

// fallBack reports whether a WebSocket attempt failed in a way that SPDY
// may not (the upgrade itself was refused), as client-go recommends.
// client-go's WebSocket round tripper reports refused upgrades with
// k8s.io/streaming's error type while the SPDY code still uses
// apimachinery's; both are recognized, or a server without WebSocket
// support would never get the SPDY attempt.
func fallBack(err error) bool {
	return httpstream.IsUpgradeFailure(err) || streamhttp.IsUpgradeFailure(err) ||
		httpstream.IsHTTPSProxyError(err) || streamhttp.IsHTTPSProxyError(err)
}

// Attach streams the container's stdio; stdin, stdout and stderr are
// all attached and no TTY is used, so stdout carries bytes unchanged.
func (s restStreams) Attach(ctx context.Context, ns, pod, container string, stdin io.Reader, stdout, stderr io.Writer) error {
	u := s.core.Post().Namespace(ns).Resource("pods").Name(pod).SubResource("attach").
		// The query PodAttachOptions{Container, Stdin, Stdout, Stderr: true}
		// encodes to, written out: encoding it would need client-go's
		// scheme of every API group (see Client).
		Param("container", container).Param("stdin", "true").Param("stdout", "true").Param("stderr", "true").URL()
	ws, err := remotecommand.NewWebSocketExecutor(s.cfg, http.MethodGet, u.String())
	if err != nil {
		return fmt.Errorf("attach to %s/%s: %w", ns, pod, err)
	}
	sp, err := remotecommand.NewSPDYExecutor(s.cfg, http.MethodPost, u)
	if err != nil {
		return fmt.Errorf("attach to %s/%s: %w", ns, pod, err)
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, sp, fallBack)
	if err != nil {
		return fmt.Errorf("attach to %s/%s: %w", ns, pod, err)
	}
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
	if err != nil {
		return streamError("attach", ns, pod, err)
	}
	return nil
}

// Forward listens on 127.0.0.1 (an ephemeral port) and forwards each
// connection to port in the pod's network namespace, which reaches
// loopback-only listeners such as Envoy's admin port.
func (s restStreams) Forward(ctx context.Context, ns, pod string, port int, notes io.Writer) (string, <-chan error, error) {
	u := s.core.Post().Namespace(ns).Resource("pods").Name(pod).SubResource("portforward").URL()
	rt, up, err := spdy.RoundTripperFor(s.cfg)
	if err != nil {
		return "", nil, fmt.Errorf("port-forward to %s/%s: %w", ns, pod, err)
	}
	var dialer httpstream.Dialer = spdy.NewDialer(up, &http.Client{Transport: rt}, http.MethodPost, u)
	if tunnel, err := portforward.NewSPDYOverWebsocketDialer(u, s.cfg); err == nil {
		dialer = portforward.NewFallbackDialer(tunnel, dialer, fallBack)
	}
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(ctx, dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, ready, io.Discard, notes)
	if err != nil {
		return "", nil, fmt.Errorf("port-forward to %s/%s: %w", ns, pod, err)
	}
	done := make(chan error, 1)
	go func() {
		err := pf.ForwardPorts()
		if ctx.Err() != nil {
			err = nil
		}
		done <- err
	}()
	select {
	case <-ready:
	case err := <-done:
		if err == nil {
			err = ctx.Err()
		}
		return "", nil, streamError("port-forward", ns, pod, err)
	case <-ctx.Done():
		return "", nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		return "", nil, fmt.Errorf("port-forward to %s/%s: no local port: %v", ns, pod, err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))), done, nil
}

// streamError turns a refused stream upgrade into a message that names
// the permission or the state at fault.
func streamError(op, ns, pod string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	cause := err
	var uf *httpstream.UpgradeFailureError
	var suf *streamhttp.UpgradeFailureError
	switch {
	case errors.As(err, &uf) && uf.Cause != nil:
		cause = uf.Cause
	case errors.As(err, &suf) && suf.Cause != nil:
		cause = suf.Cause
	}
	sub := "attach"
	if op == "port-forward" {
		sub = "portforward"
	}
	var se apierrors.APIStatus
	msg := cause.Error()
	if errors.As(cause, &se) {
		switch st := se.Status(); {
		case apierrors.IsForbidden(cause):
			return fmt.Errorf("%w\n(the API server said: %s)", &AccessError{Namespace: ns, Missing: []Permission{
				{Verb: "create", Resource: "pods", Subresource: sub}, {Verb: "get", Resource: "pods", Subresource: sub},
			}}, st.Message)
		case apierrors.IsNotFound(cause):
			return fmt.Errorf("%s %s/%s: the pod or container is gone (%s)", op, ns, pod, st.Message)
		}
	}
	if strings.Contains(msg, "403") || strings.Contains(strings.ToLower(msg), "forbidden") {
		return fmt.Errorf("%s %s/%s was refused: %s\ncheck: kubectl auth can-i create pods/%s -n %s", op, ns, pod, msg, sub, ns)
	}
	return fmt.Errorf("%s %s/%s: %w", op, ns, pod, err)
}
