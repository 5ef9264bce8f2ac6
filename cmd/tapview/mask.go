package main

import (
	"fmt"
	"os"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mask"
)

// buildMasker returns the session's masker: the built-in rules plus those
// of --mask-rules. It always exists, so the UI can toggle masking even
// when the session started with --no-mask.
func buildMasker(rulesPath string) (*mask.Masker, error) {
	if rulesPath == "" {
		return mask.Default(), nil
	}
	f, err := os.Open(rulesPath)
	if err != nil {
		return nil, fmt.Errorf("--mask-rules: %w", err)
	}
	defer f.Close()
	rules, err := mask.LoadRules(f)
	if err != nil {
		return nil, usageErr("--mask-rules %s: %v", rulesPath, err)
	}
	m, err := mask.New(mask.WithRules(rules))
	if err != nil {
		return nil, usageErr("--mask-rules %s: %v", rulesPath, err)
	}
	return m, nil
}

// maskFunc is the masking step of printed and exported output: nil with
// --no-mask, so nothing is rewritten.
func maskFunc(m *mask.Masker, noMask bool) func(*decode.Exchange) *decode.Exchange {
	if noMask || m == nil {
		return nil
	}
	return m.Exchange
}
