package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/agent"
)

// findAgent returns the running tapview agent pod on node.
func (s *Session) findAgent(ctx context.Context, node string) (*corev1.Pod, error) {
	o := s.opts.Agent
	list, err := s.opts.Client.Pods(o.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: o.Selector,
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("looking for the tapview agent on node %s (namespace %s, -l %s): %w", node, o.Namespace, o.Selector, err)
	}
	for i := range list.Items {
		p := &list.Items[i]
		if p.Spec.NodeName == node && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no running tapview agent on node %s (looked in namespace %s for pods with %s)\ninstall deploy/agent-daemonset.yaml, point --agent-namespace/--agent-selector at it, or use --via ephemeral", node, o.Namespace, o.Selector)
}

// agentFilter restricts a node capture to the pod's addresses, combined
// with the user's own filter.
func agentFilter(pod *corev1.Pod, user string) (string, error) {
	var ips []string
	for _, ip := range pod.Status.PodIPs {
		if ip.IP != "" {
			ips = append(ips, "host "+ip.IP)
		}
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = append(ips, "host "+pod.Status.PodIP)
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("pod %s/%s has no IP yet; the agent filters by pod IP", pod.Namespace, pod.Name)
	}
	if pod.Spec.HostNetwork {
		return "", fmt.Errorf("pod %s/%s uses the host network: its IP is the node's, so the agent cannot tell its traffic apart; use --via ephemeral", pod.Namespace, pod.Name)
	}
	f := strings.Join(ips, " or ")
	if len(ips) > 1 {
		f = "(" + f + ")"
	}
	if u := strings.TrimSpace(user); u != "" {
		f += " and (" + u + ")"
	}
	return f, nil
}

// captureAgent finds the agent on the pod's node, port-forwards to it and
// captures the pod's traffic there.
func (s *Session) captureAgent(ctx context.Context, pod *corev1.Pod, em *podEmitter) error {
	if s.fwd == nil {
		return errors.New("kube: no REST configuration for port-forward streams")
	}
	filter, err := agentFilter(pod, s.opts.Filter)
	if err != nil {
		return err
	}
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	var addr string
	var lost <-chan error
	var ag *corev1.Pod
	err = s.setup(ctx, func() error {
		var err error
		if ag, err = s.findAgent(ctx, pod.Spec.NodeName); err != nil {
			return err
		}
		addr, lost, err = s.fwd.Forward(fctx, ag.Namespace, ag.Name, s.opts.Agent.Port, newLineNotes(em, "port-forward", 10))
		if err != nil {
			return fmt.Errorf("reaching agent %s/%s on node %s: %w", ag.Namespace, ag.Name, pod.Spec.NodeName, err)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	o := s.opts.Agent
	src, err := agent.New(agent.Config{
		Addrs:     []string{addr},
		Capture:   agent.Capture{Device: o.Device, Filter: filter, SnapLen: o.SnapLen},
		Transport: o.Transport,
	})
	if err != nil {
		return err
	}
	em.note(sources.Info, "agent", fmt.Sprintf("capturing %q on node %s through agent %s", filter, pod.Spec.NodeName, ag.Name))
	runErr := make(chan error, 1)
	go func() { runErr <- src.Run(fctx, em) }()
	select {
	case err = <-runErr:
		return err
	case err = <-lost:
		stop()
		<-runErr
		if err == nil {
			return nil
		}
		return fmt.Errorf("port-forward to agent %s/%s ended: %w", ag.Namespace, ag.Name, err)
	}
}
