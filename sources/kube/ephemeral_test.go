package kube

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestCaptureContainerLeastPrivilege(t *testing.T) {
	c := CaptureContainer("tapview-abcde", "app", "tcp port 8080", EphemeralOptions{Image: "example/tcpdump:1", Profile: ProfileNetRaw, CaptureLimit: 90 * time.Second})
	if c.Name != "tapview-abcde" || c.Image != "example/tcpdump:1" || c.TargetContainerName != "app" {
		t.Errorf("name %q image %q target %q", c.Name, c.Image, c.TargetContainerName)
	}
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("no security context")
	}
	if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || !slices.Equal(sc.Capabilities.Add, []corev1.Capability{"NET_RAW"}) {
		t.Errorf("capabilities drop %v add %v, want drop ALL add NET_RAW only", sc.Capabilities.Drop, sc.Capabilities.Add)
	}
	if sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("capture container may be privileged or escalate")
	}
	if !c.Stdin || !c.StdinOnce || c.TTY {
		t.Errorf("stdin %v stdinOnce %v tty %v: stdin must end with the attach session and stdout must be raw", c.Stdin, c.StdinOnce, c.TTY)
	}
	if len(c.Ports) != 0 || len(c.VolumeMounts) != 0 {
		t.Error("capture container exposes ports or mounts volumes")
	}
	// sh -c SCRIPT $0 FILTER: the filter is one argument, never parsed by sh.
	if len(c.Command) != 5 || c.Command[0] != "sh" || c.Command[1] != "-c" || c.Command[3] != scriptName || c.Command[4] != "tcp port 8080" {
		t.Fatalf("command %q", c.Command)
	}
	if !strings.Contains(c.Command[2], `tcpdump -i any -U -s0 -w - "$@"`) {
		t.Errorf("script does not run tcpdump -i any -U -s0 -w - with the filter: %s", c.Command[2])
	}
	if len(c.Env) != 1 || c.Env[0].Name != "TAPVIEW_LIMIT" || c.Env[0].Value != "90" {
		t.Errorf("env %v, want TAPVIEW_LIMIT=90", c.Env)
	}

	b := CaptureContainer("x", "", "  ", EphemeralOptions{Image: "i", Profile: ProfileBaseline})
	if b.SecurityContext.Capabilities != nil {
		t.Errorf("baseline profile changes capabilities: %+v", b.SecurityContext.Capabilities)
	}
	if len(b.Command) != 4 {
		t.Errorf("blank filter passed as an argument: %q", b.Command)
	}
}

func TestEphemeralErrors(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1"}}
	c := corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "tapview-x", Image: "img"}}
	disabled := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 404, Reason: metav1.StatusReasonNotFound, Details: &metav1.StatusDetails{}}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{disabled, "ephemeral containers are not enabled on this cluster"},
		{apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "web-1"), "went away"},
		{apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "web-1", fmt.Errorf("nope")), "missing permission: patch pods/ephemeralcontainers in namespace shop"},
		{apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "web-1", fmt.Errorf(`violates PodSecurity "restricted:latest": unrestricted capabilities`)), "--profile baseline"},
		{apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "web-1", nil), "rejected capture container tapview-x (image img)"},
	} {
		got := ephemeralError(pod, c, tc.err)
		if !strings.Contains(got.Error(), tc.want) {
			t.Errorf("%v:\n got %v\nwant %q", tc.err, got, tc.want)
		}
	}
	if got := ephemeralError(pod, c, disabled).Error(); !strings.Contains(got, "--via envoy") || !strings.Contains(got, "--via agent") {
		t.Errorf("disabled: no alternative offered: %s", got)
	}
}

func TestEphemeralState(t *testing.T) {
	pod := func(st corev1.ContainerState) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1"},
			Spec:       corev1.PodSpec{NodeName: "node-7"},
			Status:     corev1.PodStatus{EphemeralContainerStatuses: []corev1.ContainerStatus{{Name: "other"}, {Name: "tapview-x", State: st}}},
		}
	}
	run, err := ephemeralState(pod(corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}), "tapview-x", "img")
	if !run || err != nil {
		t.Errorf("running: %v %v", run, err)
	}
	run, err = ephemeralState(pod(corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}), "tapview-x", "img")
	if run || err != nil {
		t.Errorf("creating: %v %v", run, err)
	}
	_, err = ephemeralState(pod(corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "pull access denied"}}), "tapview-x", "img")
	if err == nil || !strings.Contains(err.Error(), "the capture image img cannot be pulled on node node-7") || !strings.Contains(err.Error(), "--image") {
		t.Errorf("pull: %v", err)
	}
	_, err = ephemeralState(pod(corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 127, Message: "tcpdump: not found"}}), "tapview-x", "img")
	if err == nil || !strings.Contains(err.Error(), "exited with code 127") || !strings.Contains(err.Error(), "tcpdump: not found") {
		t.Errorf("terminated: %v", err)
	}
	if run, err := ephemeralState(pod(corev1.ContainerState{}), "tapview-y", "img"); run || err != nil {
		t.Errorf("other container's state used: %v %v", run, err)
	}
}
