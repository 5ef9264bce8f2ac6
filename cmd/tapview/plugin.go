package main

import (
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// kubectlPluginBinary is the name kubectl looks for on PATH to run
// `kubectl tapview`: release archives ship the same binary under it.
const kubectlPluginBinary = "kubectl-tapview"

// nameForInvocation makes usage and help say `kubectl tapview ...` when the
// binary was started as kubectl-tapview (by kubectl's plugin mechanism or
// by hand), so the commands it prints can be pasted back as typed. Nothing
// else changes: flags, arguments and behaviour are the same either way.
func nameForInvocation(root *cobra.Command, argv0 string) {
	base := strings.TrimSuffix(filepath.Base(argv0), ".exe")
	if base != kubectlPluginBinary {
		return
	}
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations[cobra.CommandDisplayNameAnnotation] = "kubectl tapview"
}
