package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// runKcat drives the broker with kcat (librdkafka), without SASL: produce to one topic, consume it back to its end,
// list metadata, and consume as a group member.
func runKcat(ctx context.Context, addr string, tr *truth) error {
	base := []string{"-b", addr, "-X", "client.id=tapview-kcat"}
	run := func(stdin string, args ...string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, "kcat", append(append([]string{}, base...), args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("kcat %s: %w: %s", strings.Join(args, " "), err, errb.String())
		}
		return out.String(), nil
	}
	lines := []string{"alpha", "bravo", "charlie", "delta"}
	if _, err := run(strings.Join(lines, "\n")+"\n", "-P", "-t", "payments", "-p", "1"); err != nil {
		return err
	}
	for range lines {
		tr.put(map[string]any{"kind": "produced", "topic": "payments", "partition": 1})
	}
	out, err := run("", "-C", "-t", "payments", "-p", "1", "-o", "beginning", "-e", "-q")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			tr.put(map[string]any{"kind": "consumed", "topic": "payments", "partition": 1, "value": l})
		}
	}
	if _, err := run("", "-L", "-t", "payments"); err != nil {
		return err
	}
	out, err = run("", "-G", "kcat-group", "-o", "beginning", "-c", "4", "-q", "payments")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			tr.put(map[string]any{"kind": "group_consumed", "topic": "payments", "value": l})
		}
	}
	return nil
}
