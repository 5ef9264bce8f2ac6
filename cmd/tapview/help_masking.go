package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/tapview/tapview/decode/mask"
)

// newMaskingHelp is the `tapview help masking` topic: what is masked by
// default and the --mask-rules file format, with the built-in rule names
// read from the masker so the list never drifts.
func newMaskingHelp() *cobra.Command {
	var b strings.Builder
	b.WriteString(`Masking is on unless --no-mask (key m toggles it in the UI). It replaces
secrets and personal data in the UI, -o json/table, HAR and JSON exports,
and overwrites them byte for byte in pcap/pcapng exports (tapview export,
x in the UI) and uploaded segments (--upload, -w s3://...), and in Envoy
trace exports (-w OUT.pb_length_delimited) and uploaded trace segments,
which stay traces. A recording to a local file (-w FILE while opening,
connecting or attaching) is the raw capture, unmasked, like tcpdump -w:
export it to hand it on.

--mask-rules FILE adds rules to the built-in ones and turns built-in ones
off. The file is YAML:

  rules:
    - name: header:x-session       # any unique name; used to disable it
      kind: header                 # header and trailer names
      match: X-Session             # a name, compared ignoring case
    - name: param:otp
      kind: param                  # query and form parameters, JSON keys
      regex: '^otp(_code)?$'       # or a regular expression on the name
    - name: field:dob
      kind: field                  # JSON object keys only
      match: date_of_birth
    - name: pattern:iban
      kind: pattern                # values anywhere: headers, targets, bodies
      regex: '\bDE\d{20}\b'        # with a capture group, only the group is masked
    - name: pattern:test-password
      kind: pattern
      match: hunter2               # a literal string, wherever it occurs
  disable:                         # built-in rules to turn off, by name
    - pattern:email

Unknown keys, kinds or names, duplicate names and invalid regular
expressions are errors that give the line.

Built-in rules:
`)
	for _, n := range mask.BuiltinNames() {
		b.WriteString("  " + n + "\n")
	}
	return &cobra.Command{Use: "masking", Short: "What masking hides and the --mask-rules file format", Long: b.String()}
}
