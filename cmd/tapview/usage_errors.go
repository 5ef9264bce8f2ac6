package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// explainUsage replaces cobra's terse usage errors ("requires at least 1
// arg(s), only received 0", "unknown flag: --x", an unknown command with
// no suggestion) with sentences that name what was wrong and how to see
// the right usage, on every command under root. Call it once the tree is
// built.
func explainUsage(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v; run '%s --help' for the flags", err, c.CommandPath())
	})
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		c.SuggestionsMinimumDistance = 2
		if !c.Runnable() && c.HasAvailableSubCommands() {
			// A group such as "connect": its help when called alone,
			// and a word that is not one of its commands is an error
			// (cobra would print the help and exit 0).
			c.Args = cobra.NoArgs
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		}
		if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return argsError(cmd, a)
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(root)
}

// argsError says what is wrong with a command's arguments: one is
// missing, a word is not a subcommand (with cobra's "did you mean"), or
// there are too many.
func argsError(cmd *cobra.Command, args []string) error {
	help := fmt.Sprintf("run '%s --help' for examples", cmd.CommandPath())
	// main prefixes errors with "tapview: ", so the subject is the
	// command's path below the root ("open", "connect envoy").
	name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
	if cmd.HasAvailableSubCommands() && len(args) > 0 {
		msg := fmt.Sprintf("%q is not a %s command", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", s[0])
		}
		return usageErr("%s (run '%s --help' for the commands)", msg, cmd.CommandPath())
	}
	use := strings.TrimSuffix(cmd.UseLine(), " [flags]")
	if len(args) == 0 {
		return usageErr("%s needs an argument: usage: %s (%s)", name, use, help)
	}
	return usageErr("%s does not take %q: usage: %s (%s)", name, strings.Join(args, " "), use, help)
}

// requireFlag makes a flag required with a sentence saying what to give,
// where cobra's MarkFlagRequired would print `required flag(s) "write"
// not set`. It wraps RunE, so call it after RunE is set.
func requireFlag(cmd *cobra.Command, name, what string) {
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if f := c.Flags().Lookup(name); f != nil && !f.Changed {
			return usageErr("--%s is missing: %s (run '%s --help' for examples)", name, what, c.CommandPath())
		}
		return run(c, args)
	}
}

// stdinTerminal reports a "-" input while standard input is a terminal:
// reading a capture from it would wait silently for bytes a person is
// not going to type.
func stdinTerminal(paths []string) error {
	for _, p := range paths {
		if p == "-" && term.IsTerminal(int(os.Stdin.Fd())) {
			return usageErr("- reads a capture from standard input, which is a terminal here: pipe one in, e.g. 'tcpdump -U -w - | tapview open -', or give a file name")
		}
	}
	return nil
}
