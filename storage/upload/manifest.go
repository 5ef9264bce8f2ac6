package upload

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tapview/tapview/storage/segment"
)

// A capture's spool directory describes itself, so that what one run
// could not upload can be uploaded later, by 'tapview storage push' or by
// the next run with the same spool directory, under the keys and tags the
// run would have used and masked as it would have masked:
//
//	capture.json    the Manifest, written when the capture starts
//	segments.jsonl  a line per finished segment (its sequence number,
//	                kind and time span, which name its object)
//	lock            held (flock) while a tapview records or pushes here
const (
	ManifestFile = "capture.json"
	SegmentsFile = "segments.jsonl"
	LockFile     = "lock"
)

// Manifest is what a later upload needs to know of a capture: where it
// was going and whose it is. No credentials: the pusher uses its own.
type Manifest struct {
	Version   int    `json:"version"`
	CaptureID string `json:"capture_id"`
	Source    string `json:"source"`
	User      string `json:"user"`
	// Masked says the uploaded segments are masked: raw segments left
	// behind must be sealed before upload (never uploaded as they are).
	Masked bool `json:"masked"`
	// MaskRules is the --mask-rules file the capture was masked with.
	MaskRules string    `json:"mask_rules,omitempty"`
	Dest      string    `json:"dest"` // s3://BUCKET/PREFIX as given to --upload
	Endpoint  string    `json:"s3_endpoint,omitempty"`
	PathStyle bool      `json:"s3_path_style,omitempty"`
	Region    string    `json:"s3_region,omitempty"`
	CAFile    string    `json:"s3_ca,omitempty"`
	Started   time.Time `json:"started"`
}

// entry is one segment of segments.jsonl. Two lines describe a segment
// of a masked capture: one when its raw file is finished, one when its
// masked copy is written (Sealed); readEntries merges them.
type entry struct {
	Seq    int       `json:"seq"`
	Kind   string    `json:"kind,omitempty"` // "pcapng" or "traces"
	File   string    `json:"file,omitempty"` // the raw segment's base name
	First  time.Time `json:"first,omitzero"`
	Last   time.Time `json:"last,omitzero"`
	Items  int64     `json:"items,omitempty"`
	Sealed string    `json:"sealed,omitempty"` // the masked copy's base name
	// SealedKind is the masked copy's kind, which names its object: a
	// masker may turn traces into packets.
	SealedKind string `json:"sealed_kind,omitempty"`
}

func kindName(k segment.Kind) string {
	if k == segment.Traces {
		return "traces"
	}
	return "pcapng"
}

func parseKind(s string) (segment.Kind, error) {
	switch s {
	case "pcapng":
		return segment.Packets, nil
	case "traces":
		return segment.Traces, nil
	}
	return 0, fmt.Errorf("unknown segment kind %q", s)
}

// writeManifest writes m into dir atomically (temp file and rename).
func writeManifest(dir string, m Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+ManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing the capture manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestFile)); err != nil {
		return fmt.Errorf("writing the capture manifest: %w", err)
	}
	return nil
}

// ReadManifest reads the manifest of a capture's spool directory.
func ReadManifest(dir string) (Manifest, error) {
	var m Manifest
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.CaptureID == "" || m.Dest == "" {
		return m, fmt.Errorf("%s names no capture or destination", filepath.Join(dir, ManifestFile))
	}
	return m, nil
}

// appendEntry records a finished segment. A line is written whole with
// one write, so a crash leaves at most a torn last line, which
// readEntries skips.
func appendEntry(dir string, s segment.Segment) error {
	return appendLine(dir, entry{Seq: s.Seq, Kind: kindName(s.Kind), File: filepath.Base(s.Path),
		First: s.First, Last: s.Last, Items: s.Items})
}

// appendSealed records that the masked copy of segment seq is complete.
func appendSealed(dir string, seq int, sealed segment.Segment) error {
	return appendLine(dir, entry{Seq: seq, Sealed: filepath.Base(sealed.Path), SealedKind: kindName(sealed.Kind)})
}

func appendLine(dir string, e entry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, SegmentsFile), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("recording segment %d in %s: %w", e.Seq, SegmentsFile, err)
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("recording segment %d in %s: %w", e.Seq, SegmentsFile, err)
	}
	return nil
}

// readEntries reads segments.jsonl in sequence order.
func readEntries(dir string) ([]entry, error) {
	f, err := os.Open(filepath.Join(dir, SegmentsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bySeq := map[int]*entry{}
	var out []entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e entry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Seq <= 0 || strings.ContainsAny(e.File+e.Sealed, `/\`) {
			continue // a torn last line after a crash
		}
		m := bySeq[e.Seq]
		if m == nil {
			m = &entry{Seq: e.Seq}
			bySeq[e.Seq] = m
		}
		if e.File != "" {
			m.Kind, m.File, m.First, m.Last, m.Items = e.Kind, e.File, e.First, e.Last, e.Items
		}
		if e.Sealed != "" {
			m.Sealed, m.SealedKind = e.Sealed, e.SealedKind
		}
	}
	for _, e := range bySeq {
		if e.File != "" {
			out = append(out, *e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, sc.Err()
}

// dirLock is a held lock on a capture's spool directory.
type dirLock struct{ f *os.File }

// errBusy says another tapview holds a capture directory.
var errBusy = errors.New("a running tapview is recording or uploading this capture")

// lockDir takes the capture directory's lock, or returns errBusy.
func lockDir(dir string) (*dirLock, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	ok, err := tryLock(f)
	if err != nil || !ok {
		f.Close()
		if err == nil {
			err = errBusy
		}
		return nil, err
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) release() {
	if l != nil {
		l.f.Close()
	}
}

// removeCapture deletes a capture directory that holds nothing more to
// upload: its manifest files, then the directory (if empty: anything
// else in it is the user's and stays).
func removeCapture(dir string, l *dirLock) {
	os.Remove(filepath.Join(dir, SegmentsFile))
	os.Remove(filepath.Join(dir, ManifestFile))
	os.Remove(filepath.Join(dir, NotMaskedDir))
	// Temporary files of a masking that a killed run left (the
	// exporter writes .NAME.tmp-* and renames it when complete).
	if tmps, err := filepath.Glob(filepath.Join(dir, ".*.tmp*")); err == nil {
		for _, f := range tmps {
			os.Remove(f)
		}
	}
	// Unix lets the lock file go while it is held, so no other process
	// can take it between the removal and the directory's.
	os.Remove(filepath.Join(dir, LockFile))
	l.release()
	os.Remove(dir)
}
