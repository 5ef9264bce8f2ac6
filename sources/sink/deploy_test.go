package sink_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// deploy/sink.yaml parses, and its pieces agree with each other and with
// what Gloo's tap guide refers to.
func TestDeployManifest(t *testing.T) {
	data, err := os.ReadFile("../../deploy/sink.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type port struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		Port          int    `yaml:"port"`
		TargetPort    string `yaml:"targetPort"`
	}
	type doc struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"metadata"`
		Spec struct {
			// Deployment
			Template struct {
				Spec struct {
					Containers []struct {
						Args  []string `yaml:"args"`
						Ports []port   `yaml:"ports"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
			// Service
			Ports []port `yaml:"ports"`
			// Upstream
			UseHTTP2 bool `yaml:"useHttp2"`
			Kube     struct {
				ServiceName      string `yaml:"serviceName"`
				ServiceNamespace string `yaml:"serviceNamespace"`
				ServicePort      int    `yaml:"servicePort"`
			} `yaml:"kube"`
		} `yaml:"spec"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	byKind := map[string][]doc{}
	for {
		var d doc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		if d.Kind == "" {
			continue
		}
		if d.Metadata.Namespace != "gloo-system" {
			t.Errorf("%s/%s not in gloo-system", d.Kind, d.Metadata.Name)
		}
		byKind[d.Kind] = append(byKind[d.Kind], d)
	}
	if len(byKind["Deployment"]) != 1 || len(byKind["Service"]) != 1 || len(byKind["Upstream"]) != 2 {
		t.Fatalf("documents: %v", byKind)
	}
	c := byKind["Deployment"][0].Spec.Template.Spec.Containers[0]
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"sink", "--headless", "--grpc=0.0.0.0:8080", "--http=0.0.0.0:8081", "--serve=0.0.0.0:9090", "--serve-token-file="} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	// tapview refuses --serve beyond loopback without watcher
	// authentication; the manifest must authenticate, not opt out.
	if strings.Contains(args, "--insecure") {
		t.Errorf("args %q opt out of authentication", args)
	}
	containerPorts := map[string]int{}
	for _, p := range c.Ports {
		containerPorts[p.Name] = p.ContainerPort
	}
	svc := byKind["Service"][0]
	servicePorts := map[int]bool{}
	for _, p := range svc.Spec.Ports {
		if containerPorts[p.TargetPort] != p.Port {
			t.Errorf("service port %d targets %q (container port %d)", p.Port, p.TargetPort, containerPorts[p.TargetPort])
		}
		servicePorts[p.Port] = true
	}
	ups := map[string]doc{}
	for _, u := range byKind["Upstream"] {
		if u.APIVersion != "gloo.solo.io/v1" || u.Spec.Kube.ServiceName != svc.Metadata.Name || !servicePorts[u.Spec.Kube.ServicePort] {
			t.Errorf("upstream %s: %+v", u.Metadata.Name, u)
		}
		ups[u.Metadata.Name] = u
	}
	if g := ups["sample-tap-server-grpc"]; !g.Spec.UseHTTP2 || g.Spec.Kube.ServicePort != 8080 {
		t.Errorf("gRPC upstream %+v", g)
	}
	if h := ups["sample-tap-server-http"]; h.Spec.UseHTTP2 || h.Spec.Kube.ServicePort != 8081 {
		t.Errorf("HTTP upstream %+v", h)
	}
}
