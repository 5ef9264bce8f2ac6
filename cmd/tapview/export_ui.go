package main

import (
	"context"
	"fmt"
	"iter"
	"os"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/export/har"
	"github.com/tapview/tapview/export/jsonl"
	"github.com/tapview/tapview/export/packets"
	"github.com/tapview/tapview/export/spool"
	"github.com/tapview/tapview/sources/pcapfile"
	"github.com/tapview/tapview/ui"
)

// exportShown is the UI's x key with the built-in masking rules and no
// key log: it writes the exchanges and flows the UI shows to path, in
// the format of path's extension. The UI gathers the flows of the shown
// exchanges, so a pcap holds their whole connections.
func exportShown(ctx context.Context, path string, exchanges iter.Seq[*decode.Exchange], flows []*decode.Flow, masked bool) error {
	return exportShownWith(&sessionFlags{}, nil)(ctx, path, exchanges, flows, masked)
}

// exportShownWith is exportShown honouring the session's --mask-rules
// (a masked export must hide what the masked screen hides) and --keylog
// (its keys go into unmasked pcapng exports); again finds the captures
// to read packets from. Exchanges arrive one at a time (re-read from the UI's store), in start
// order, and are written as they come.
func exportShownWith(f *sessionFlags, again captures) ui.ExportFunc {
	return func(ctx context.Context, path string, exchanges iter.Seq[*decode.Exchange], flows []*decode.Flow, masked bool) error {
		format, err := exportFormat(path, "")
		if err != nil {
			return fmt.Errorf("name the file .pcap, .pcapng, .har or .json")
		}
		var m *mask.Masker
		if masked {
			if m, err = buildMasker(f.maskRules); err != nil {
				return err
			}
		}
		out, err := createOutput(nil, path, m == nil)
		if err != nil {
			return err
		}
		switch format {
		case fmtJSON:
			err = shownJSON(out, exchanges, flows, m)
		case fmtHAR:
			err = shownHAR(out, exchanges, m)
		default:
			var keyText []byte
			if f.keylog != "" && m == nil {
				keyText, _ = os.ReadFile(f.keylog) // a key log that vanished only means fewer decrypted flows
			}
			err = shownPackets(ctx, out, format, exchanges, flows, m, keyText, again)
		}
		if err != nil {
			out.abort()
			return err
		}
		return out.commit()
	}
}

func shownJSON(out *output, exchanges iter.Seq[*decode.Exchange], flows []*decode.Flow, m *mask.Masker) error {
	var b []byte
	for e := range exchanges {
		b = append(jsonl.AppendExchange(b[:0], m.Exchange(e)), '\n')
		if _, err := out.w.Write(b); err != nil {
			return err
		}
	}
	for _, f := range flows {
		b = append(jsonl.AppendFlow(b[:0], f), '\n')
		if _, err := out.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// shownHAR writes the shown exchanges (the UI hands them in start order,
// as HAR readers prefer).
func shownHAR(out *output, exchanges iter.Seq[*decode.Exchange], m *mask.Masker) error {
	w, err := har.NewWriter(out.w, har.Options{Name: "tapview", Version: versionString(), Comment: harComment(m)})
	if err != nil {
		return err
	}
	for e := range exchanges {
		if err := w.Add(m.Exchange(e)); err != nil {
			return err
		}
	}
	return w.Close()
}

// shownPackets writes the packets of the shown flows, read again from
// their capture files, and synthesizes the exchanges whose packets
// cannot be read (tap traces, stdin, live sources, a moved file).
func shownPackets(ctx context.Context, out *output, format string, exchanges iter.Seq[*decode.Exchange], flows []*decode.Flow, m *mask.Masker, keyText []byte, again captures) error {
	plan := packets.NewPlan(false, m)
	opens := make(map[string]func() (*pcapfile.Source, error)) // nil: cannot be read again
	readable := make(map[uint64]bool)
	unread := 0
	for _, fl := range flows {
		plan.AddFlow(fl)
		plan.Select(fl.ID)
		if len(fl.Ordinals) == 0 {
			continue
		}
		open, seen := opens[fl.Source]
		if !seen {
			open, _ = again.opener(fl.Source)
			opens[fl.Source] = open
		}
		if open != nil {
			readable[fl.ID] = true
		} else {
			unread++
		}
	}
	sp, err := spool.Create("", true)
	if err != nil {
		return err
	}
	defer sp.Close()
	sy := packets.NewSynthesizer(sp, m)
	for e := range exchanges {
		plan.AddExchange(e)
		if !readable[e.FlowID] {
			if err := sy.Add(e); err != nil {
				return err
			}
		}
	}
	if err := sy.Close(); err != nil {
		return err
	}
	// Pass one of a UI export decoded nothing: follow the readable
	// captures' TCP streams once more, so values split across segments,
	// chunks, frames or messages are masked as `tapview export` masks them.
	for name, open := range opens {
		if open == nil || m == nil {
			continue
		}
		src, err := open()
		if err != nil {
			return err
		}
		if err := plan.FollowStreams(ctx, src); err != nil {
			return fmt.Errorf("following the streams of %s to mask them: %w", name, err)
		}
	}
	var in packets.Inputs
	for _, open := range opens {
		if open == nil {
			continue
		}
		src, err := open()
		if err != nil {
			return err
		}
		in.Captured = append(in.Captured, packets.FromSource(ctx, src, nil))
	}
	if sp.Len() > 0 {
		r, err := sp.Reader()
		if err != nil {
			return err
		}
		in.Synthetic = packets.FromSpool(r)
	}
	synthesized, _ := sy.Counts()
	comment := packets.SectionComment("tapview "+versionString(), plan, synthesized, m == nil && len(keyText) > 0)
	if unread > 0 {
		comment += fmt.Sprintf("; packets of %d connections could not be read again (stdin or live source): only their exchanges are here, synthesized", unread)
	}
	pw, err := newPacketWriter(out.w, format, comment)
	if err != nil {
		return err
	}
	_, err = packets.Write(ctx, pw, plan, in, packets.Options{IncludeKeys: m == nil, KeyLog: keyText})
	return err
}
