package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// Timing of an attached capture.
const (
	// handshakeTimeout bounds the wait for the capture script's first
	// "R" (it prints one a second).
	handshakeTimeout = 15 * time.Second
	// detachGrace is how long tapview waits, after closing the capture's
	// stdin, for the pod side to end the stream before cutting it.
	detachGrace = 3 * time.Second
)

// readyMarker is what the capture script prints until it is told to go.
var readyMarker = []byte("R\n")

// handshake reads the capture script's ready markers from out, answers
// the first with "go" on in, and returns a reader that starts at the
// first byte of tcpdump's output (see captureScript for why).
func handshake(out io.Reader, in io.Writer) (io.Reader, error) {
	var two [2]byte
	sent := false
	for {
		if _, err := io.ReadFull(out, two[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, err
		}
		if !bytes.Equal(two[:], readyMarker) {
			if !sent {
				return nil, fmt.Errorf("unexpected output %q before the capture was started", two[:])
			}
			return io.MultiReader(bytes.NewReader(append([]byte(nil), two[:]...)), out), nil
		}
		if !sent {
			if _, err := in.Write([]byte("go\n")); err != nil {
				return nil, fmt.Errorf("starting the capture: %w", err)
			}
			sent = true
		}
	}
}

// attachedCapture is one attach session to a capture container.
type attachedCapture struct {
	att       attacher
	ns, pod   string
	container string
	em        *podEmitter
}

// run attaches, starts the capture, and emits its packets until ctx ends
// (then it detaches gracefully: closing stdin ends tcpdump in the pod) or
// the capture ends in the pod. It returns nil on cancellation.
func (c *attachedCapture) run(ctx context.Context) error {
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	stderr := newLineNotes(c.em, "tcpdump", 20)
	// The stream outlives ctx by up to detachGrace, so the close of
	// stdin reaches the pod before the connection is cut.
	sctx, scancel := context.WithCancel(context.WithoutCancel(ctx))
	defer scancel()
	streamDone := make(chan error, 1)
	go func() {
		err := c.att.Attach(sctx, c.ns, c.pod, c.container, stdinR, stdoutW, stderr)
		stdoutW.CloseWithError(io.EOF)
		streamDone <- err
	}()
	var streamErr error
	ended := make(chan struct{})
	detached := make(chan struct{})
	go func() {
		defer close(detached)
		select {
		case <-ctx.Done():
		case <-ended:
		}
		stdinW.Close()
		select {
		case streamErr = <-streamDone:
		case <-time.After(detachGrace):
			scancel()
			streamErr = <-streamDone
		}
		stdoutR.CloseWithError(io.EOF)
	}()
	err := c.capture(ctx, stdoutR, stdinW)
	close(ended)
	<-detached
	switch {
	case ctx.Err() != nil:
		return nil
	case streamErr != nil && !errors.Is(streamErr, context.Canceled):
		if tail := stderr.Tail(); tail != "" {
			return fmt.Errorf("%w\n(capture container said: %s)", streamErr, tail)
		}
		return streamErr
	case err != nil:
		if tail := stderr.Tail(); tail != "" {
			return fmt.Errorf("%w\n(capture container said: %s)", err, tail)
		}
		return err
	}
	return nil
}

// capture does the handshake and reads the pcap stream into packets.
func (c *attachedCapture) capture(ctx context.Context, out io.Reader, in io.Writer) error {
	type result struct {
		r   io.Reader
		err error
	}
	hs := make(chan result, 1)
	go func() {
		r, err := handshake(out, in)
		hs <- result{r, err}
	}()
	var r io.Reader
	select {
	case res := <-hs:
		if res.err == io.EOF {
			return fmt.Errorf("the capture in pod %s/%s ended before it started", c.ns, c.pod)
		}
		if res.err != nil {
			return fmt.Errorf("capture in pod %s/%s: %w", c.ns, c.pod, res.err)
		}
		r = res.r
	case <-time.After(handshakeTimeout):
		return fmt.Errorf("capture container %s in pod %s/%s sent nothing for %s after attach", c.container, c.ns, c.pod, handshakeTimeout)
	case <-ctx.Done():
		return nil
	}
	src, err := pcapfile.New(c.em.name, r)
	if err != nil {
		if errors.Is(err, pcapfile.ErrNotCapture) {
			return fmt.Errorf("the capture container's output is not a pcap stream (is --image's tcpdump working?): %w", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("reading the capture of pod %s/%s: %w", c.ns, c.pod, err)
	}
	c.em.note(sources.Info, "attached", fmt.Sprintf("capturing in pod %s/%s (container %s)", c.ns, c.pod, c.container))
	if err := src.Run(ctx, c.em); err != nil {
		return fmt.Errorf("reading the capture of pod %s/%s: %w", c.ns, c.pod, err)
	}
	return nil
}

// captureEphemeral adds a capture container to pod, waits for it to run,
// and streams its capture.
func (s *Session) captureEphemeral(ctx context.Context, pod *corev1.Pod, em *podEmitter) error {
	if s.att == nil {
		return errors.New("kube: no REST configuration for attach streams")
	}
	pods := s.opts.Client.Pods(pod.Namespace)
	name := containerName()
	c := CaptureContainer(name, s.opts.Target.Container, s.opts.Filter, s.opts.Ephemeral)
	if err := s.setup(ctx, func() error {
		p, err := addEphemeral(ctx, pods, pod, c)
		if err != nil {
			return err
		}
		em.note(sources.Info, "container", fmt.Sprintf("added capture container %s (image %s) to pod %s/%s", name, c.Image, pod.Namespace, pod.Name))
		_, err = waitRunning(ctx, pods, p, name, c.Image, s.opts.RunningTimeout)
		return err
	}); err != nil {
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			return nil
		}
		return err
	}
	ac := &attachedCapture{att: s.att, ns: pod.Namespace, pod: pod.Name, container: name, em: em}
	return ac.run(ctx)
}
