package mask

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Kind says where a rule looks.
type Kind string

// Rule kinds. Header rules match header and trailer names; param rules
// match query parameters, form fields (URL-encoded and multipart) and
// JSON object keys; field rules match JSON object keys only; pattern
// rules match values anywhere (header values, request targets, bodies,
// gRPC and WebSocket payloads).
const (
	KindHeader  Kind = "header"
	KindParam   Kind = "param"
	KindField   Kind = "field"
	KindPattern Kind = "pattern"
)

// Rule is one masking rule. Name is a stable identifier ("header:cookie",
// "param:token", "pattern:jwt") that rules files use to disable it. For
// header, param and field rules, Match is a name compared ignoring case
// and Regex a regular expression matched against the name ignoring
// case. For pattern rules, Regex finds values (when it has a capture
// group, only the first group is masked) and Match is a literal string
// to mask wherever it occurs, such as a known test password.
type Rule struct {
	Name  string `yaml:"name"`
	Kind  Kind   `yaml:"kind"`
	Match string `yaml:"match,omitempty"`
	Regex string `yaml:"regex,omitempty"`
}

// Rules is the content of a --mask-rules file: rules to add to the
// built-in ones and built-in rules to disable.
type Rules struct {
	Add     []Rule   `yaml:"rules"`
	Disable []string `yaml:"disable"`
}

// LoadRules reads a YAML rules file:
//
//	# Mask an internal session header and a one-time code parameter.
//	rules:
//	  - name: header:x-session
//	    kind: header
//	    match: X-Session
//	  - name: param:otp
//	    kind: param
//	    regex: '^otp(_code)?$'
//	  - name: field:dob
//	    kind: field
//	    match: date_of_birth
//	  - name: pattern:iban
//	    kind: pattern
//	    regex: '\bDE\d{20}\b'
//	  - name: pattern:test-password
//	    kind: pattern
//	    match: hunter2
//	# Built-in rules to turn off, by name.
//	disable:
//	  - pattern:email
//
// Unknown keys, unknown kinds, duplicate names, invalid regular
// expressions and unknown names under disable are errors that give the
// line, so a typo cannot silently leave a secret unmasked.
func LoadRules(r io.Reader) (Rules, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Rules{}, fmt.Errorf("mask rules: reading: %w", err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return Rules{}, nil
		}
		return Rules{}, fmt.Errorf("mask rules: %w", err)
	}
	var rules Rules
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&rules); err != nil {
		return Rules{}, fmt.Errorf("mask rules: %w", err)
	}
	lines := ruleLines(&doc)
	builtin := make(map[string]bool)
	for _, b := range builtins() {
		builtin[b.Name] = true
	}
	seen := make(map[string]bool)
	for i, rule := range rules.Add {
		at := ""
		if i < len(lines.rules) {
			at = fmt.Sprintf("line %d: ", lines.rules[i])
		}
		if err := rule.validate(); err != nil {
			return Rules{}, fmt.Errorf("mask rules: %s%w", at, err)
		}
		if seen[rule.Name] || builtin[rule.Name] {
			return Rules{}, fmt.Errorf("mask rules: %srule name %q is already used; pick another name", at, rule.Name)
		}
		seen[rule.Name] = true
	}
	for i, name := range rules.Disable {
		if !builtin[name] {
			at := ""
			if i < len(lines.disable) {
				at = fmt.Sprintf("line %d: ", lines.disable[i])
			}
			return Rules{}, fmt.Errorf("mask rules: %scannot disable %q: no built-in rule has that name (built-in rules: %s)",
				at, name, strings.Join(BuiltinNames(), ", "))
		}
	}
	return rules, nil
}

// positions holds the line of each rule and disable entry, for errors.
type positions struct {
	rules, disable []int
}

func ruleLines(doc *yaml.Node) positions {
	var p positions
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return p
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return p
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i], top.Content[i+1]
		for _, item := range val.Content {
			switch key.Value {
			case "rules":
				p.rules = append(p.rules, item.Line)
			case "disable":
				p.disable = append(p.disable, item.Line)
			}
		}
	}
	return p
}

// validate checks one rule on its own.
func (r Rule) validate() error {
	if strings.TrimSpace(r.Name) == "" {
		return errors.New("a rule needs a name (for example header:x-session)")
	}
	switch r.Kind {
	case KindHeader, KindParam, KindField, KindPattern:
	case "":
		return fmt.Errorf("rule %q needs a kind: header, param, field or pattern", r.Name)
	default:
		return fmt.Errorf("rule %q has unknown kind %q; use header, param, field or pattern", r.Name, r.Kind)
	}
	if (r.Match == "") == (r.Regex == "") {
		return fmt.Errorf("rule %q needs exactly one of match or regex", r.Name)
	}
	if r.Regex != "" {
		if _, err := compileRule(r); err != nil {
			return err
		}
	}
	return nil
}

// compileRule compiles a rule's regular expression: case-insensitive for
// names, as written for patterns.
func compileRule(r Rule) (*regexp.Regexp, error) {
	expr := r.Regex
	if r.Kind != KindPattern {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("rule %q: invalid regex: %w", r.Name, err)
	}
	if r.Kind == KindPattern && re.MatchString("") {
		return nil, fmt.Errorf("rule %q: regex %q matches empty text; it must match at least one character", r.Name, r.Regex)
	}
	return re, nil
}
