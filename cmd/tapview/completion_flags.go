package main

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tapview/tapview/sources/kube"
)

// clusterCompletionTimeout bounds every API call a completion makes: the
// shell waits for it on each <Tab>, and an unreachable cluster must cost a
// moment, not the client's 30 s default.
const clusterCompletionTimeout = 2 * time.Second

// captureExts are the inputs `open` and `export` read (compressed captures
// included), offered when completing their file arguments.
func captureExts() []string {
	return []string{"pcap", "pcapng", "cap", "gz", "zst", "json", "pb", "pb_length_delimited", "pb_text"}
}

// flagValues are the fixed choices of flags, by flag name. They mirror
// the values the commands accept; TestCompletionValuesAccepted runs each
// one through the command to keep the two in step.
func flagValues() map[string][]string {
	return map[string][]string{
		"format":  {fmtPcap, fmtPcapng, fmtHAR, fmtJSON},
		"via":     {string(kube.ViaEphemeral), string(kube.ViaEnvoy), string(kube.ViaAgent)},
		"profile": {string(kube.ProfileNetRaw), string(kube.ProfileBaseline)},
	}
}

// fileExts are the file flags and the extensions their files have; nil
// means any file.
func fileExts() map[string][]string {
	return map[string][]string{
		"mask-rules":       {"yaml", "yml"},
		"cert":             {"pem", "crt"},
		"key":              {"pem", "key"},
		"ca":               {"pem", "crt"},
		"client-ca":        {"pem", "crt"},
		"tls-cert":         {"pem", "crt"},
		"tls-key":          {"pem", "key"},
		"serve-tls-cert":   {"pem", "crt"},
		"serve-tls-key":    {"pem", "key"},
		"serve-client-ca":  {"pem", "crt"},
		"agent-ca":         {"pem", "crt"},
		"agent-cert":       {"pem", "crt"},
		"agent-key":        {"pem", "key"},
		"write":            nil, // per command, below
		"keylog":           {"log", "txt", "keys"},
		"kubeconfig":       nil, // any file: kubeconfigs rarely have an extension
		"token-file":       nil,
		"serve-token-file": nil,
	}
}

// registerCompletions adds value completion to the flags and arguments of
// every command in the tree. It runs after the commands are built, so the
// files that declare flags need not know about completion; a flag that
// already has a completion function keeps it.
func registerCompletions(root *cobra.Command) {
	values, files := flagValues(), fileExts()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for name, values := range values {
			fixedValues(c, name, values)
		}
		if c.Name() == "version" {
			fixedValues(c, "output", []string{"text", "json"})
		} else {
			fixedValues(c, "output", []string{"json", "table"})
		}
		for name, exts := range files {
			if name == "write" {
				if c.Name() == "export" {
					exts = []string{fmtPcap, fmtPcapng, fmtHAR, fmtJSON}
				} else {
					exts = []string{"pcapng", "pcap", "pb_length_delimited"}
				}
			}
			filesByExt(c, name, exts)
		}
		if c.Flags().Lookup("kubeconfig") != nil {
			register(c, "namespace", completeNamespaces)
			register(c, "context", completeContexts)
		}
		switch c.Name() {
		case "open", "export":
			if c.ValidArgsFunction == nil {
				c.ValidArgsFunction = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
					return captureExts(), cobra.ShellCompDirectiveFilterFileExt
				}
			}
		case "attach":
			if c.ValidArgsFunction == nil {
				c.ValidArgsFunction = completeAttachArgs
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func register(c *cobra.Command, name string, fn cobra.CompletionFunc) {
	if c.Flags().Lookup(name) == nil {
		return
	}
	if _, ok := c.GetFlagCompletionFunc(name); ok {
		return
	}
	// The only error is "already registered", ruled out above.
	_ = c.RegisterFlagCompletionFunc(name, fn)
}

func fixedValues(c *cobra.Command, name string, values []string) {
	register(c, name, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

func filesByExt(c *cobra.Command, name string, exts []string) {
	register(c, name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		if len(exts) == 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return exts, cobra.ShellCompDirectiveFilterFileExt
	})
}

// completeAttachArgs offers the kinds attach takes, then the names of
// running objects of that kind in the chosen namespace.
func completeAttachArgs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if sel, _ := cmd.Flags().GetString("selector"); sel != "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if len(args) == 0 {
		if kind, _, ok := strings.Cut(toComplete, "/"); ok {
			names := clusterNames(cmd, kind)
			for i, n := range names {
				names[i] = kind + "/" + n
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		}
		return []string{"pod", "deployment"}, cobra.ShellCompDirectiveNoFileComp
	}
	kind := args[0]
	if strings.Contains(kind, "/") || (isDeployment(kind) && len(args) > 1) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return without(clusterNames(cmd, kind), args[1:]), cobra.ShellCompDirectiveNoFileComp
}

func isDeployment(kind string) bool {
	switch strings.ToLower(kind) {
	case "deployment", "deployments", "deploy":
		return true
	}
	return false
}

// clusterNames lists the pods or deployments of the namespace the command
// line names (or the context's), or nothing when the cluster cannot be
// reached in time: completion never prints errors.
func clusterNames(cmd *cobra.Command, kind string) []string {
	cc, ns, ok := completionClient(cmd)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(contextOf(cmd), clusterCompletionTimeout)
	defer cancel()
	var names []string
	switch {
	case isDeployment(kind):
		l, err := cc.Client.Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil
		}
		for _, d := range l.Items {
			names = append(names, d.Name)
		}
	case strings.EqualFold(kind, "pod") || strings.EqualFold(kind, "pods") || strings.EqualFold(kind, "po"):
		l, err := cc.Client.Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Running"})
		if err != nil {
			return nil
		}
		for _, p := range l.Items {
			names = append(names, p.Name)
		}
	}
	sort.Strings(names)
	return names
}

func completeNamespaces(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	cc, _, ok := completionClient(cmd)
	if !ok {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(contextOf(cmd), clusterCompletionTimeout)
	defer cancel()
	l, err := cc.Client.Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(l.Items))
	for _, n := range l.Items {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeContexts reads the contexts from the kubeconfig alone: no
// cluster is contacted.
func completeContexts(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath, _ = cmd.Flags().GetString("kubeconfig")
	cfg, err := rules.Load()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(cfg.Contexts))
	for n := range cfg.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completionClient builds a client from the command line's --kubeconfig
// and --context (callers bound each request with a context), and the namespace
// from -n or the context.
func completionClient(cmd *cobra.Command) (*kube.ClientConfig, string, bool) {
	path, _ := cmd.Flags().GetString("kubeconfig")
	kctx, _ := cmd.Flags().GetString("context")
	cc, err := kube.LoadClientConfig(path, kctx, "tapview-completion")
	if err != nil {
		return nil, "", false
	}
	ns, _ := cmd.Flags().GetString("namespace")
	if ns == "" {
		ns = cc.Namespace
	}
	return cc, ns, true
}

func contextOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// without drops the names already on the command line.
func without(names, given []string) []string {
	out := names[:0]
	for _, n := range names {
		dup := false
		for _, g := range given {
			dup = dup || g == n
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out
}
