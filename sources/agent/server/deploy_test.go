package server_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The manifest is decoded strictly into the subset of the Kubernetes schema
// it uses, so a misspelt field fails here rather than being ignored by the
// API server.
type (
	meta struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	envVar struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			FieldRef struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	}
	containerPort struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		HostPort      int    `yaml:"hostPort"`
		Protocol      string `yaml:"protocol"`
	}
	probe struct {
		TCPSocket struct {
			Port int `yaml:"port"`
		} `yaml:"tcpSocket"`
		InitialDelaySeconds int `yaml:"initialDelaySeconds"`
		PeriodSeconds       int `yaml:"periodSeconds"`
	}
	container struct {
		Name           string          `yaml:"name"`
		Image          string          `yaml:"image"`
		Args           []string        `yaml:"args"`
		Env            []envVar        `yaml:"env"`
		Ports          []containerPort `yaml:"ports"`
		ReadinessProbe probe           `yaml:"readinessProbe"`
		LivenessProbe  probe           `yaml:"livenessProbe"`
		Resources      struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		SecurityContext struct {
			RunAsUser                *int  `yaml:"runAsUser"`
			RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
			Privileged               *bool `yaml:"privileged"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
				Add  []string `yaml:"add"`
			} `yaml:"capabilities"`
			SeccompProfile struct {
				Type string `yaml:"type"`
			} `yaml:"seccompProfile"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
	podSpec struct {
		ServiceAccountName            string `yaml:"serviceAccountName"`
		AutomountServiceAccountToken  *bool  `yaml:"automountServiceAccountToken"`
		HostNetwork                   bool   `yaml:"hostNetwork"`
		DNSPolicy                     string `yaml:"dnsPolicy"`
		PriorityClassName             string `yaml:"priorityClassName"`
		TerminationGracePeriodSeconds int    `yaml:"terminationGracePeriodSeconds"`
		Tolerations                   []struct {
			Operator string `yaml:"operator"`
		} `yaml:"tolerations"`
		Containers []container `yaml:"containers"`
		Volumes    []struct {
			Name   string `yaml:"name"`
			Secret struct {
				SecretName  string `yaml:"secretName"`
				DefaultMode int    `yaml:"defaultMode"`
			} `yaml:"secret"`
		} `yaml:"volumes"`
	}
	servicePort struct {
		Name       string `yaml:"name"`
		Port       int    `yaml:"port"`
		TargetPort string `yaml:"targetPort"`
		Protocol   string `yaml:"protocol"`
	}
	object struct {
		APIVersion                   string `yaml:"apiVersion"`
		Kind                         string `yaml:"kind"`
		Metadata                     meta   `yaml:"metadata"`
		AutomountServiceAccountToken *bool  `yaml:"automountServiceAccountToken"`
		Spec                         struct {
			// DaemonSet
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			UpdateStrategy struct {
				Type          string `yaml:"type"`
				RollingUpdate struct {
					MaxUnavailable string `yaml:"maxUnavailable"`
				} `yaml:"rollingUpdate"`
			} `yaml:"updateStrategy"`
			Template struct {
				Metadata meta    `yaml:"metadata"`
				Spec     podSpec `yaml:"spec"`
			} `yaml:"template"`
			// Service (its selector is a plain map, unlike the DaemonSet's)
			ClusterIP string        `yaml:"clusterIP"`
			Ports     []servicePort `yaml:"ports"`
		} `yaml:"spec"`
	}
)

func TestAgentDaemonSetManifest(t *testing.T) {
	data, err := os.ReadFile("../../../deploy/agent-daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]object{}
	var svcSelector map[string]string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var node yaml.Node
		if err := dec.Decode(&node); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		var kind struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Selector map[string]string `yaml:"selector"`
			} `yaml:"spec"`
		}
		if err := node.Decode(&kind); err != nil && !strings.Contains(err.Error(), "cannot unmarshal") {
			t.Fatal(err)
		}
		var obj object
		if kind.Kind == "Service" {
			svcSelector = kind.Spec.Selector
			// Decode the rest strictly without the plain-map selector.
			stripSelector(&node)
		}
		strict := yaml.NewDecoder(bytes.NewReader(mustMarshal(t, &node)))
		strict.KnownFields(true)
		if err := strict.Decode(&obj); err != nil {
			t.Fatalf("%s: %v", kind.Kind, err)
		}
		docs[obj.Kind] = obj
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "DaemonSet", "Service"} {
		if _, ok := docs[k]; !ok {
			t.Fatalf("no %s in the manifest", k)
		}
	}
	ds := docs["DaemonSet"]
	pod := ds.Spec.Template.Spec
	for k, v := range ds.Spec.Selector.MatchLabels {
		if ds.Spec.Template.Metadata.Labels[k] != v || svcSelector[k] != v {
			t.Errorf("selector %s=%s does not match the pod labels or the Service", k, v)
		}
	}
	if !pod.HostNetwork || pod.DNSPolicy != "ClusterFirstWithHostNet" {
		t.Error("agent must run in the host network with cluster DNS")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the agent needs no Kubernetes API token")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if strings.Join(sc.Capabilities.Add, ",") != "NET_RAW" || strings.Join(sc.Capabilities.Drop, ",") != "ALL" {
		t.Errorf("capabilities add %v drop %v, want only NET_RAW", sc.Capabilities.Add, sc.Capabilities.Drop)
	}
	if sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem {
		t.Error("container must be unprivileged, without privilege escalation, read-only")
	}
	args := strings.Join(c.Args, " ")
	if c.Args[0] != "agent" {
		t.Errorf("args %v do not run the agent", c.Args)
	}
	for _, want := range []string{"--listen=$(NODE_IP):9494", "--listen=127.0.0.1:9494", "--client-ca=/etc/tapview/tls/ca.crt",
		"--cert=/etc/tapview/tls/tls.crt", "--key=/etc/tapview/tls/tls.key", "--origin=$(NODE_NAME)"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %s", want)
		}
	}
	// The agent refuses open configurations unless told; the manifest
	// must not tell it (mutual TLS on the node IP and loopback only).
	for _, bad := range []string{"--insecure", "--plaintext", "--listen=:", "--listen=0.0.0.0"} {
		if strings.Contains(args, bad) {
			t.Errorf("args carry %s: %s", bad, args)
		}
	}
	envs := map[string]string{}
	for _, e := range c.Env {
		envs[e.Name] = e.ValueFrom.FieldRef.FieldPath
	}
	if envs["NODE_IP"] != "status.hostIP" || envs["NODE_NAME"] != "spec.nodeName" {
		t.Errorf("env %v", envs)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9494 || c.Ports[0].HostPort != 9494 ||
		c.ReadinessProbe.TCPSocket.Port != 9494 {
		t.Errorf("ports %+v", c.Ports)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/etc/tapview/tls" || !c.VolumeMounts[0].ReadOnly ||
		len(pod.Volumes) != 1 || pod.Volumes[0].Name != c.VolumeMounts[0].Name || pod.Volumes[0].Secret.SecretName == "" {
		t.Error("TLS secret not mounted read-only at /etc/tapview/tls")
	}
	svc := docs["Service"]
	if svc.Spec.ClusterIP != "None" || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 9494 ||
		svc.Spec.Ports[0].TargetPort != c.Ports[0].Name {
		t.Errorf("service %+v", svc.Spec)
	}
	for k, o := range docs {
		if k != "Namespace" && o.Metadata.Namespace != docs["Namespace"].Metadata.Name {
			t.Errorf("%s in namespace %q", k, o.Metadata.Namespace)
		}
	}
}

func stripSelector(doc *yaml.Node) {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "spec" {
			continue
		}
		spec := root.Content[i+1]
		for j := 0; j+1 < len(spec.Content); j += 2 {
			if spec.Content[j].Value == "selector" {
				spec.Content = append(spec.Content[:j], spec.Content[j+2:]...)
				return
			}
		}
	}
}

func mustMarshal(t *testing.T, n *yaml.Node) []byte {
	t.Helper()
	b, err := yaml.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
