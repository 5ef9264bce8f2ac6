package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"
)

// The manifest schema as krew reads it (krew's pkg/index types). krew's
// own validation lives in an internal package of sigs.k8s.io/krew, and the
// module's go.mod would pull client-go back to v11, so the documented rules
// are implemented here: krew v0.4's ValidatePlugin and validatePlatform,
// plus the index's check that no two platforms select the same os/arch.
type manifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string           `json:"version"`
		ShortDescription string           `json:"shortDescription"`
		Description      string           `json:"description"`
		Caveats          string           `json:"caveats"`
		Homepage         string           `json:"homepage"`
		Platforms        []manifestTarget `json:"platforms"`
	} `json:"spec"`
}

type manifestTarget struct {
	Selector *metav1.LabelSelector `json:"selector"`
	URI      string                `json:"uri"`
	Sha256   string                `json:"sha256"`
	Files    []fileOperation       `json:"files"`
	Bin      string                `json:"bin"`
}

type fileOperation struct {
	From string `json:"from"`
	To   string `json:"to"`
}

const (
	krewAPIVersion = "krew.googlecontainertools.github.com/v1alpha2"
	pluginName     = "tapview"
)

var (
	safeName   = regexp.MustCompile(`^[\w-]+$`)
	sha256Form = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// validate applies krew's rules to a manifest, reading it strictly as krew
// does (unknown fields are errors).
func validate(doc []byte) error {
	var m manifest
	if err := yaml.UnmarshalStrict(doc, &m); err != nil {
		return fmt.Errorf("not a plugin manifest: %w", err)
	}
	switch {
	case m.APIVersion != krewAPIVersion:
		return fmt.Errorf("apiVersion %q, krew reads %q", m.APIVersion, krewAPIVersion)
	case m.Kind != "Plugin":
		return fmt.Errorf("kind %q, want Plugin", m.Kind)
	case !safeName.MatchString(m.Metadata.Name):
		return fmt.Errorf("name %q does not match %s", m.Metadata.Name, safeName)
	case m.Metadata.Name != pluginName:
		return fmt.Errorf("name %q, the plugin is %q", m.Metadata.Name, pluginName)
	case m.Spec.ShortDescription == "":
		return errors.New("no shortDescription")
	case strings.ContainsAny(m.Spec.ShortDescription, "\r\n"):
		return errors.New("shortDescription has a line break")
	case len(m.Spec.Platforms) == 0:
		return errors.New("no platforms")
	case !strings.HasPrefix(m.Spec.Version, "v"):
		return fmt.Errorf("version %q needs its leading v", m.Spec.Version)
	}
	if _, err := version.ParseSemantic(m.Spec.Version[1:]); err != nil {
		return fmt.Errorf("version %q is not semver: %w", m.Spec.Version, err)
	}
	seen := map[string]bool{}
	for i, p := range m.Spec.Platforms {
		if err := validateTarget(p); err != nil {
			return fmt.Errorf("platform %d: %w", i+1, err)
		}
		key := p.Selector.MatchLabels["os"] + "/" + p.Selector.MatchLabels["arch"]
		if seen[key] {
			return fmt.Errorf("platform %d: a second archive for %s", i+1, key)
		}
		seen[key] = true
	}
	return nil
}

func validateTarget(p manifestTarget) error {
	switch {
	case p.URI == "":
		return errors.New("no uri")
	case !strings.HasPrefix(p.URI, "https://"):
		return fmt.Errorf("uri %q is not https", p.URI)
	case !sha256Form.MatchString(p.Sha256):
		return fmt.Errorf("sha256 %q is not 64 lowercase hex digits", p.Sha256)
	case p.Bin == "":
		return errors.New("no bin")
	case p.Files != nil && len(p.Files) == 0:
		return errors.New("files is given but empty")
	}
	for _, f := range p.Files {
		if f.From == "" || f.To == "" {
			return errors.New("a files entry without from or to")
		}
	}
	sel := p.Selector
	if sel == nil || (sel.MatchLabels == nil && len(sel.MatchExpressions) == 0) {
		return errors.New("no selector")
	}
	if sel.MatchLabels != nil && len(sel.MatchLabels) == 0 {
		return errors.New("matchLabels given but empty")
	}
	if sel.MatchExpressions != nil && len(sel.MatchExpressions) == 0 {
		return errors.New("matchExpressions given but empty")
	}
	for k := range sel.MatchLabels {
		if k != "os" && k != "arch" {
			return fmt.Errorf("selector key %q: krew selects on os and arch only", k)
		}
	}
	for _, e := range sel.MatchExpressions {
		if e.Key != "os" && e.Key != "arch" {
			return fmt.Errorf("selector key %q: krew selects on os and arch only", e.Key)
		}
	}
	return nil
}
