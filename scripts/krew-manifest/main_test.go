package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// sums builds a checksums.txt for every target the way goreleaser writes it.
func sums(version string) string {
	var b strings.Builder
	for i, t := range targets() {
		fmt.Fprintf(&b, "%064x  %s\n", i+1, archiveName(version, t[0], t[1]))
	}
	b.WriteString("deadbeef00000000000000000000000000000000000000000000000000000000  checksums-unrelated.sbom\n")
	return b.String()
}

func manifestTemplate(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../plugins/tapview.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFillReleaseManifest(t *testing.T) {
	cs, err := readChecksums(strings.NewReader(sums("1.4.0")))
	if err != nil {
		t.Fatal(err)
	}
	out, err := fill(manifestTemplate(t), "v1.4.0", "https://github.com/tapview/tapview/releases/download", cs, false)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(out)
	for _, want := range []string{
		"version: v1.4.0",
		"uri: https://github.com/tapview/tapview/releases/download/v1.4.0/tapview_1.4.0_linux_amd64.tar.gz",
		fmt.Sprintf("sha256: \"%064x\"", 1),
		"uri: https://github.com/tapview/tapview/releases/download/v1.4.0/tapview_1.4.0_windows_arm64.zip",
		"bin: kubectl-tapview.exe",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("manifest lacks %q:\n%s", want, doc)
		}
	}
	if n := strings.Count(doc, "- selector:"); n != 6 {
		t.Errorf("%d platforms, want 6", n)
	}
}

func TestFillRefusesIncompleteRelease(t *testing.T) {
	cs, _ := readChecksums(strings.NewReader("0000000000000000000000000000000000000000000000000000000000000001  tapview_1.4.0_linux_amd64.tar.gz\n"))
	if _, err := fill(manifestTemplate(t), "v1.4.0", "https://example.invalid", cs, false); err == nil || !strings.Contains(err.Error(), "darwin") && !strings.Contains(err.Error(), "linux_arm64") {
		t.Errorf("incomplete release: err = %v", err)
	}
	out, err := fill(manifestTemplate(t), "v1.4.0", "https://example.invalid", cs, true)
	if err != nil || strings.Count(string(out), "- selector:") != 1 {
		t.Errorf("-partial: err = %v\n%s", err, out)
	}
	if _, err := fill(manifestTemplate(t), "1.4.0", "https://example.invalid", cs, true); err == nil {
		t.Error("a tag without v accepted")
	}
}

// TestValidateRules: each of krew's rules rejects a manifest that breaks
// only that rule.
func TestValidateRules(t *testing.T) {
	cs, _ := readChecksums(strings.NewReader(sums("1.4.0")))
	good, err := fill(manifestTemplate(t), "v1.4.0", "https://h.example", cs, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(good); err != nil {
		t.Fatalf("good manifest refused: %v", err)
	}
	hex1 := fmt.Sprintf("%064x", 1)
	for _, c := range []struct{ name, from, to string }{
		{"apiVersion", "krew.googlecontainertools.github.com/v1alpha2", "krew.googlecontainers.github.com/v1alpha2"},
		{"kind", "kind: Plugin", "kind: Plugins"},
		{"name", "name: tapview", "name: tap view"},
		{"version v", "version: v1.4.0", "version: 1.4.0"},
		{"semver", "version: v1.4.0", "version: v1.4"},
		{"sha256", "sha256: \"" + hex1, "sha256: \"ABCDEF" + hex1[6:]},
		{"bin", "bin: kubectl-tapview\n", "bin: \"\"\n"},
		{"selector key", "os: linux", "system: linux"},
		{"unknown field", "homepage:", "homepages:"},
		{"short description", "shortDescription: Inspect", "shortDescription: \"\"\n  x: Inspect"},
		{"duplicate platform", "arch: arm64", "arch: amd64"},
		{"uri", "uri: https://", "uri: http://"},
	} {
		bad := strings.Replace(string(good), c.from, c.to, 1)
		if bad == string(good) {
			t.Fatalf("%s: %q not in the manifest", c.name, c.from)
		}
		if err := validate([]byte(bad)); err == nil {
			t.Errorf("%s: broken manifest accepted", c.name)
		}
	}
}
