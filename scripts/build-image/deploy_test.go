package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// imageName is the repository scripts/build-image.sh builds.
func imageName(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../build-image.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^IMAGE=(\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no IMAGE= line in scripts/build-image.sh")
	}
	return string(m[1])
}

// docs splits every deploy/*.yaml into its YAML documents.
func docs(t *testing.T, dir string) map[string][][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	out := map[string][][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(d, "")) != "" {
				out[filepath.Base(f)] = append(out[filepath.Base(f)], []byte(d))
			}
		}
	}
	return out
}

// TestDeployManifests reads every object strictly into its Kubernetes API
// type (an unknown or misspelt field, a wrong type or a missing kind fails,
// as kubectl apply --dry-run=client would), and checks each tapview
// container runs the image scripts/build-image.sh builds.
func TestDeployManifests(t *testing.T) {
	image := imageName(t)
	containers := 0
	for file, ds := range docs(t, "../../deploy") {
		for _, d := range ds {
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(d, &meta); err != nil || meta.Kind == "" || meta.APIVersion == "" || meta.Metadata.Name == "" {
				t.Errorf("%s: a document without apiVersion, kind and name (%v)", file, err)
				continue
			}
			var obj any
			var pods *corev1.PodSpec
			switch meta.APIVersion + " " + meta.Kind {
			case "v1 Namespace":
				obj = &corev1.Namespace{}
			case "v1 ServiceAccount":
				obj = &corev1.ServiceAccount{}
			case "v1 Service":
				obj = &corev1.Service{}
			case "apps/v1 Deployment":
				o := &appsv1.Deployment{}
				obj, pods = o, &o.Spec.Template.Spec
			case "apps/v1 DaemonSet":
				o := &appsv1.DaemonSet{}
				obj, pods = o, &o.Spec.Template.Spec
			case "rbac.authorization.k8s.io/v1 Role":
				obj = &rbacv1.Role{}
			case "rbac.authorization.k8s.io/v1 ClusterRole":
				obj = &rbacv1.ClusterRole{}
			case "rbac.authorization.k8s.io/v1 RoleBinding":
				obj = &rbacv1.RoleBinding{}
			case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
				obj = &rbacv1.ClusterRoleBinding{}
			case "gloo.solo.io/v1 Upstream":
				continue // a CRD: no Go type here; apiVersion, kind and name checked above
			default:
				t.Errorf("%s: %s %s is not a kind this test knows; add it", file, meta.APIVersion, meta.Kind)
				continue
			}
			if err := yaml.UnmarshalStrict(d, obj); err != nil {
				t.Errorf("%s: %s %s: %v", file, meta.Kind, meta.Metadata.Name, err)
				continue
			}
			if pods == nil {
				continue
			}
			for _, c := range append(pods.InitContainers, pods.Containers...) {
				containers++
				if c.Image != image+":latest" {
					t.Errorf("%s: container %s runs %q, want %s:latest (release archives pin the tag)", file, c.Name, c.Image, image)
				}
			}
		}
	}
	if containers < 2 {
		t.Errorf("found %d tapview containers in deploy/, want the sink's and the agent's", containers)
	}
}

// TestRenderDeployPinsTag: the release's deploy/ names exactly the tag the
// image is built with.
func TestRenderDeployPinsTag(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("bash", "scripts/render-deploy.sh", "v9.8.7", out)
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("render-deploy: %v\n%s", err, b)
	}
	image := imageName(t)
	pinned := 0
	for file, ds := range docs(t, out) {
		for _, d := range ds {
			if bytes.Contains(d, []byte(image+":latest")) {
				t.Errorf("%s: still names :latest", file)
			}
			pinned += bytes.Count(d, []byte("image: "+image+":v9.8.7\n"))
		}
	}
	if pinned < 2 {
		t.Errorf("%d image references pinned to v9.8.7, want the sink's and the agent's", pinned)
	}
}
