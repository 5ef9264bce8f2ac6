package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

// captureScript runs tcpdump in the capture container, wrapped so that
// the capture starts only once tapview is attached and ends when tapview
// detaches:
//
//   - Attach does not replay output written before it connected, so a pcap
//     header written at container start could be lost. The script prints
//     "R\n" every second until it reads a line on stdin; tapview answers
//     "go" once it has seen an R, which proves stdout is attached. Only
//     then does tcpdump start, so its header is the first capture byte.
//   - With stdinOnce the runtime closes the container's stdin when the
//     attach session ends, for whatever reason (tapview exits, crashes, or
//     its connection drops). The background cat sees end of input and
//     kills tcpdump, so nothing keeps capturing after tapview is gone.
//     Attach cannot rely on stdout closing: the runtime keeps the
//     container's stdout open (it also feeds the log).
//   - A watchdog kills tcpdump after the capture limit, as a backstop for
//     the case where the runtime never notices the session ended.
//
// Background jobs of a non-interactive shell get /dev/null as stdin, so
// the real stdin is kept on fd 3 for cat. Helpers write nothing to the
// capture stream. The filter words arrive as "$@" (never parsed by sh).
const captureScript = `exec 3<&0
while :; do echo R; sleep 1; done & t=$!
if ! read -r _ <&3; then kill $t; exit 0; fi
kill $t; wait $t 2>/dev/null
tcpdump -i any -U -s0 -w - "$@" & p=$!
{ cat <&3 >/dev/null; kill $p; } >/dev/null 2>&1 &
{ sleep "$TAPVIEW_LIMIT"; kill $p; } >/dev/null 2>&1 &
wait $p`

// scriptName is $0 of the capture script, shown by ps in the pod.
const scriptName = "tapview-capture"

// CaptureContainer returns the ephemeral container that captures the
// pod's traffic: it shares the pod's network namespace (every container
// does), runs tcpdump as root with only NET_RAW (ProfileNetRaw; NET_ADMIN
// is not needed to capture on "any", which cannot be put in promiscuous
// mode anyway), never privileged, without privilege escalation, and with
// stdin held open by tapview's attach session (see captureScript).
// target is the container whose process namespace it joins ("" for none).
func CaptureContainer(name, target, filter string, o EphemeralOptions) corev1.EphemeralContainer {
	cmd := []string{"sh", "-c", captureScript, scriptName}
	if f := strings.TrimSpace(filter); f != "" {
		cmd = append(cmd, f)
	}
	limit := int64(o.CaptureLimit / time.Second)
	if limit < 1 {
		limit = int64(DefaultCaptureLimit / time.Second)
	}
	sc := &corev1.SecurityContext{
		RunAsUser:                ptr.To[int64](0),
		RunAsNonRoot:             ptr.To(false),
		Privileged:               ptr.To(false),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
	}
	if o.Profile != ProfileBaseline {
		sc.Capabilities = &corev1.Capabilities{
			Drop: []corev1.Capability{"ALL"},
			Add:  []corev1.Capability{"NET_RAW"},
		}
	}
	return corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name:                     name,
			Image:                    o.Image,
			ImagePullPolicy:          corev1.PullIfNotPresent,
			Command:                  cmd,
			Env:                      []corev1.EnvVar{{Name: "TAPVIEW_LIMIT", Value: strconv.FormatInt(limit, 10)}},
			Stdin:                    true,
			StdinOnce:                true,
			TTY:                      false,
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			SecurityContext:          sc,
		},
		TargetContainerName: target,
	}
}

// containerName returns a fresh "tapview-xxxxx" name: ephemeral
// containers cannot be removed or reused, so every capture adds one.
func containerName() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // no vowels: no words
	b := []byte("tapview-")
	for range 5 {
		b = append(b, alphabet[rand.IntN(len(alphabet))])
	}
	return string(b)
}

// addEphemeral adds c to the pod with a strategic merge patch of the
// ephemeralcontainers subresource (ephemeral containers merge by name, so
// the patch adds one without touching the others).
func addEphemeral(ctx context.Context, pods PodClient, pod *corev1.Pod, c corev1.EphemeralContainer) (*corev1.Pod, error) {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"ephemeralContainers": []corev1.EphemeralContainer{c}}})
	if err != nil {
		return nil, fmt.Errorf("encode ephemeral container patch: %w", err)
	}
	out, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "ephemeralcontainers")
	if err != nil {
		return nil, ephemeralError(pod, c, err)
	}
	return out, nil
}

// ephemeralError explains why the API refused the capture container.
func ephemeralError(pod *corev1.Pod, c corev1.EphemeralContainer, err error) error {
	ns, name := pod.Namespace, pod.Name
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		return fmt.Errorf("adding capture container to pod %s/%s: %w", ns, name, err)
	}
	st := se.Status()
	switch {
	case apierrors.IsNotFound(err) && (st.Details == nil || st.Details.Name == ""):
		// A missing pod names itself in the details; a missing
		// subresource (feature off, or an old server) does not.
		return fmt.Errorf("ephemeral containers are not enabled on this cluster (PATCH pods/%s/ephemeralcontainers answered 404 with no details)\nuse --via envoy (Envoy sidecars) or --via agent (tapview agent DaemonSet) instead", name)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("pod %s/%s went away before the capture container could be added", ns, name)
	case apierrors.IsForbidden(err) && strings.Contains(st.Message, "PodSecurity"):
		return fmt.Errorf("namespace %s's Pod Security admission refused the capture container: %s\nthe container runs tcpdump as root with NET_RAW; try --profile baseline (runtime default capabilities, allowed by the \"baseline\" level), or --via agent", ns, st.Message)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%w\n(the API server said: %s)", &AccessError{Namespace: ns, Missing: []Permission{attachPerms[0]}}, st.Message)
	case apierrors.IsInvalid(err):
		return fmt.Errorf("the API server rejected capture container %s (image %s) for pod %s/%s: %s", c.Name, c.Image, ns, name, st.Message)
	}
	return fmt.Errorf("adding capture container to pod %s/%s: %w", ns, name, err)
}

// imagePullReasons are waiting reasons that mean the image will not run
// without the user changing something.
var imagePullReasons = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"ErrImageNeverPull": true, "RegistryUnavailable": true,
}

// containerFailReasons are waiting reasons that mean the container cannot
// be created as specified.
var containerFailReasons = map[string]bool{
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

// ephemeralState reads the capture container's state from a pod: running,
// still starting (false, nil), or failed with an error that says why.
func ephemeralState(pod *corev1.Pod, name, image string) (bool, error) {
	if pod.DeletionTimestamp != nil {
		return false, fmt.Errorf("pod %s/%s is being deleted", pod.Namespace, pod.Name)
	}
	for _, s := range pod.Status.EphemeralContainerStatuses {
		if s.Name != name {
			continue
		}
		switch st := s.State; {
		case st.Running != nil:
			return true, nil
		case st.Terminated != nil:
			t := st.Terminated
			msg := strings.TrimSpace(t.Message)
			if msg == "" {
				msg = t.Reason
			}
			return false, fmt.Errorf("capture container %s in pod %s/%s exited with code %d before tapview attached: %s\n(image %s needs tcpdump, sh, cat, sleep and kill)", name, pod.Namespace, pod.Name, t.ExitCode, msg, image)
		case st.Waiting != nil && imagePullReasons[st.Waiting.Reason]:
			return false, fmt.Errorf("the capture image %s cannot be pulled on node %s (%s: %s)\nuse --image with an image your nodes can pull; it needs tcpdump and a POSIX shell", image, pod.Spec.NodeName, st.Waiting.Reason, st.Waiting.Message)
		case st.Waiting != nil && containerFailReasons[st.Waiting.Reason]:
			return false, fmt.Errorf("capture container %s in pod %s/%s cannot start (%s: %s)", name, pod.Namespace, pod.Name, st.Waiting.Reason, st.Waiting.Message)
		}
	}
	return false, nil
}

// waitRunning waits until the capture container runs, watching the pod.
// It re-watches when the API server ends a watch, and gives up after
// timeout with the state it last saw.
func waitRunning(ctx context.Context, pods PodClient, pod *corev1.Pod, name, image string, timeout time.Duration) (*corev1.Pod, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := pod
	for {
		if ok, err := ephemeralState(last, name, image); err != nil || ok {
			return last, err
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", pod.Name).String(),
			ResourceVersion: last.ResourceVersion,
		})
		if err != nil {
			if ctx.Err() != nil {
				return last, notRunningError(ctx, last, name, timeout)
			}
			return last, fmt.Errorf("watching pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		p, done, err := watchUntil(ctx, w, last, name, image)
		w.Stop()
		if done || err != nil {
			return p, err
		}
		if ctx.Err() != nil {
			return p, notRunningError(ctx, p, name, timeout)
		}
		// The server ended the watch (normal after a while): get the
		// pod afresh and watch again from its version.
		if last, err = pods.Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return p, fmt.Errorf("pod %s/%s went away while the capture container was starting", pod.Namespace, pod.Name)
			}
			if ctx.Err() != nil {
				return p, notRunningError(ctx, p, name, timeout)
			}
			return p, fmt.Errorf("getting pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
}

// watchUntil reads pod events until the capture container runs (done),
// fails (err), or the watch ends (neither).
func watchUntil(ctx context.Context, w watch.Interface, last *corev1.Pod, name, image string) (*corev1.Pod, bool, error) {
	for {
		select {
		case <-ctx.Done():
			return last, false, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return last, false, nil
			}
			switch ev.Type {
			case watch.Deleted:
				return last, false, fmt.Errorf("pod %s/%s went away while the capture container was starting", last.Namespace, last.Name)
			case watch.Error:
				return last, false, fmt.Errorf("watching pod %s/%s: %w", last.Namespace, last.Name, apierrors.FromObject(ev.Object))
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			last = p
			running, err := ephemeralState(p, name, image)
			if err != nil || running {
				return p, true, err
			}
		}
	}
}

// notRunningError says what the capture container was doing when the
// wait ended.
func notRunningError(ctx context.Context, pod *corev1.Pod, name string, timeout time.Duration) error {
	if errors.Is(context.Cause(ctx), context.Canceled) {
		return context.Canceled
	}
	state := "no status yet"
	for _, s := range pod.Status.EphemeralContainerStatuses {
		if s.Name == name && s.State.Waiting != nil {
			state = "waiting: " + s.State.Waiting.Reason
			if s.State.Waiting.Message != "" {
				state += " (" + s.State.Waiting.Message + ")"
			}
		}
	}
	return fmt.Errorf("capture container %s in pod %s/%s did not start within %s (%s)\nraise --pod-running-timeout if the node is slow to pull the image", name, pod.Namespace, pod.Name, timeout, state)
}
