// Package keylog holds TLS session secrets in the NSS key log format
// (the SSLKEYLOGFILE written by browsers, curl, Go's tls.Config.KeyLogWriter
// and eCapture), keyed by the ClientHello random, so the TLS decoder can
// find the keys of a connection from its handshake alone. Secrets arrive
// from a key log file (read once or watched while it grows) and from the
// Decryption Secrets Blocks embedded in pcapng files; both go through the
// same line parser and end up in one concurrency-safe store.
package keylog

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// Label is the first field of a key log line: which secret it carries.
type Label int

// Labels understood by the decoder. CLIENT_RANDOM carries the TLS 1.2 (and
// earlier) master secret; the others are TLS 1.3 traffic secrets
// (RFC 8446, section 7.1).
const (
	ClientRandom Label = iota
	ClientEarlyTrafficSecret
	ClientHandshakeTrafficSecret
	ServerHandshakeTrafficSecret
	ClientTrafficSecret0
	ServerTrafficSecret0
	EarlyExporterSecret
	ExporterSecret
	numLabels
)

// labelNames (read-only) are the key log spellings of the labels.
var labelNames = [numLabels]string{
	"CLIENT_RANDOM",
	"CLIENT_EARLY_TRAFFIC_SECRET",
	"CLIENT_HANDSHAKE_TRAFFIC_SECRET",
	"SERVER_HANDSHAKE_TRAFFIC_SECRET",
	"CLIENT_TRAFFIC_SECRET_0",
	"SERVER_TRAFFIC_SECRET_0",
	"EARLY_EXPORTER_SECRET",
	"EXPORTER_SECRET",
}

// String returns the label as written in key log files.
func (l Label) String() string {
	if l < 0 || l >= numLabels {
		return fmt.Sprintf("Label(%d)", int(l))
	}
	return labelNames[l]
}

// SecretsTLSKeyLog is the pcapng Decryption Secrets Block type of NSS key
// log text ("TLSK"); Secrets ignores every other kind.
const SecretsTLSKeyLog uint32 = 0x544c534b

// Bounds that keep a hostile key log (a capture's DSB is untrusted input)
// from growing memory without limit.
const (
	// MaxEntries is how many client randoms the store holds; secrets for
	// further randoms are counted as dropped.
	MaxEntries = 1 << 18
	// MaxLine is the longest line accepted; the longest real line (a
	// 48-byte secret) is under 200 bytes.
	MaxLine = 1024
	// maxSecret is the longest secret accepted (SHA-512 based suites do
	// not exist in TLS, SHA-384 gives 48 bytes).
	maxSecret = 64
)

// Keys are the secrets known for one connection (one client random).
// Missing secrets are nil. The slices are shared: do not modify them.
type Keys struct {
	// MasterSecret is the 48-byte TLS 1.0-1.2 master secret.
	MasterSecret []byte
	// ClientEarly, ClientHandshake, ServerHandshake, ClientTraffic0 and
	// ServerTraffic0 are TLS 1.3 traffic secrets.
	ClientEarly     []byte
	ClientHandshake []byte
	ServerHandshake []byte
	ClientTraffic0  []byte
	ServerTraffic0  []byte
}

// Stats counts what the store has read, so the CLI can tell a user that a
// key log was empty, malformed or of the wrong kind.
type Stats struct {
	Lines       int64 // non-empty, non-comment lines read
	Secrets     int64 // secrets stored (duplicates not counted)
	Bad         int64 // lines that are not "LABEL <hex random> <hex secret>"
	Unsupported int64 // well-formed lines with a label the decoder cannot use (e.g. EARLY_EXPORTER_SECRET is stored, SSH keys are not)
	Dropped     int64 // secrets refused because MaxEntries was reached
	OtherBlocks int64 // Decryption Secrets Blocks of another kind than TLS
	// Used counts the secrets stored per label (index a Label), and RSA
	// the RSA premaster secrets, so a user can be told what a key log
	// held (Summary).
	Used [numLabels]int64
	RSA  int64
	// WatchError is the last error Watch met reading the file ("" when
	// the last read worked).
	WatchError string
}

type entry [numLabels][]byte

// KeyLog is a concurrency-safe store of TLS secrets keyed by client
// random. The zero value is not usable; call New. Readers (the decoder
// goroutine) and writers (a watcher goroutine, pcapng secrets) may run at
// the same time.
type KeyLog struct {
	mu      sync.RWMutex
	entries map[[32]byte]*entry
	// rsa maps the first 8 bytes of an RSA-encrypted premaster secret to
	// the premaster secret (key log "RSA" lines, rsa.go).
	rsa     map[[8]byte][]byte
	stats   Stats
	gen     atomic.Uint64
	watches atomic.Int32
}

// New returns an empty key log.
func New() *KeyLog {
	return &KeyLog{entries: make(map[[32]byte]*entry), rsa: make(map[[8]byte][]byte)}
}

// Generation grows every time a secret is added. The decoder compares it
// with the value it saw last to retry only connections still waiting for
// keys, without taking the lock on every packet.
func (k *KeyLog) Generation() uint64 {
	if k == nil {
		return 0
	}
	return k.gen.Load()
}

// Watching reports whether a Watch is following a key log file, so
// secrets may still arrive for connections already seen (the decoder then
// keeps ended connections a while instead of giving up at once).
func (k *KeyLog) Watching() bool {
	return k != nil && k.watches.Load() > 0
}

// Len returns how many client randoms have secrets.
func (k *KeyLog) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.entries)
}

// Stats returns the counters so far.
func (k *KeyLog) Stats() Stats {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.stats
}

// Lookup returns the secrets known for a client random.
func (k *KeyLog) Lookup(clientRandom []byte) (Keys, bool) {
	if k == nil || len(clientRandom) != 32 {
		return Keys{}, false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	e := k.entries[[32]byte(clientRandom)]
	if e == nil {
		return Keys{}, false
	}
	return Keys{
		MasterSecret:    e[ClientRandom],
		ClientEarly:     e[ClientEarlyTrafficSecret],
		ClientHandshake: e[ClientHandshakeTrafficSecret],
		ServerHandshake: e[ServerHandshakeTrafficSecret],
		ClientTraffic0:  e[ClientTrafficSecret0],
		ServerTraffic0:  e[ServerTrafficSecret0],
	}, true
}

// LinesFor returns the key log lines (without newline) of one connection,
// in a fixed label order, so an export can embed exactly the keys of the
// connections it writes (a pcapng Decryption Secrets Block) and nothing of
// other connections. It returns nil when nothing is known.
func (k *KeyLog) LinesFor(clientRandom []byte) []string {
	if k == nil || len(clientRandom) != 32 {
		return nil
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	e := k.entries[[32]byte(clientRandom)]
	if e == nil {
		return nil
	}
	var out []string
	r := hex.EncodeToString(clientRandom)
	for l, s := range e {
		if s != nil {
			out = append(out, Label(l).String()+" "+r+" "+hex.EncodeToString(s))
		}
	}
	return out
}

// TextFor returns the key log lines of several connections as one
// newline-terminated text, each connection once, ready for a pcapng
// Decryption Secrets Block.
func (k *KeyLog) TextFor(clientRandoms [][]byte) []byte {
	var out []byte
	seen := make(map[string]bool, len(clientRandoms))
	for _, r := range clientRandoms {
		if seen[string(r)] {
			continue
		}
		seen[string(r)] = true
		for _, l := range k.LinesFor(r) {
			out = append(append(out, l...), '\n')
		}
	}
	return out
}

// Secrets receives a pcapng Decryption Secrets Block (the decode pipeline
// calls it, in order with the packets, so keys embedded at the start of a
// file are known before its handshakes). Only TLS key logs are used.
func (k *KeyLog) Secrets(kind uint32, data []byte) {
	if kind != SecretsTLSKeyLog {
		k.mu.Lock()
		k.stats.OtherBlocks++
		k.mu.Unlock()
		return
	}
	k.AddText(data)
}

// AddText parses NSS key log text: one "LABEL <client random hex>
// <secret hex>" per line; blank lines and # comments are skipped, and
// malformed lines are counted, never fatal. A last line without newline is
// parsed too.
func (k *KeyLog) AddText(text []byte) {
	for len(text) > 0 {
		line := text
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = nil
		}
		k.AddLine(line)
	}
}

// ReadFrom parses key log text from r until EOF, for key log files and
// stdin. Lines longer than MaxLine are counted as bad.
func (k *KeyLog) ReadFrom(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var n int64
	var long bool
	for {
		chunk, err := br.ReadSlice('\n')
		n += int64(len(chunk))
		switch {
		case err == bufio.ErrBufferFull:
			long = true
			continue
		case long:
			long = false
			k.count(func(s *Stats) { s.Lines++; s.Bad++ })
		case len(chunk) > 0:
			k.AddLine(chunk)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil && err != bufio.ErrBufferFull {
			return n, fmt.Errorf("reading key log: %w", err)
		}
	}
}

// LoadFile reads a key log file once.
func (k *KeyLog) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening key log: %w", err)
	}
	defer f.Close()
	if _, err := k.ReadFrom(f); err != nil {
		return fmt.Errorf("key log %s: %w", path, err)
	}
	return nil
}

func (k *KeyLog) count(f func(*Stats)) {
	k.mu.Lock()
	f(&k.stats)
	k.mu.Unlock()
}

// AddLine parses one key log line and stores its secret. It reports
// whether a new secret was stored.
func (k *KeyLog) AddLine(line []byte) bool {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '#' {
		return false
	}
	label, random, secret, res := parseLine(line)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.stats.Lines++
	switch res {
	case lineBad:
		k.stats.Bad++
		return false
	case lineUnsupported:
		k.stats.Unsupported++
		return false
	case lineRSA:
		return k.addRSA([8]byte(random[:8]), secret)
	}
	e := k.entries[random]
	if e == nil {
		if len(k.entries) >= MaxEntries {
			k.stats.Dropped++
			return false
		}
		e = new(entry)
		k.entries[random] = e
	}
	if e[label] != nil {
		// The first secret wins: a later line cannot replace keys that
		// may already be decrypting a connection.
		return false
	}
	e[label] = secret
	k.stats.Secrets++
	k.stats.Used[label]++
	k.gen.Add(1)
	return true
}

type lineResult int

const (
	lineOK lineResult = iota
	lineBad
	lineUnsupported
	lineRSA // an RSA line: the random holds the 8-byte key, the secret the premaster
)

// parseLine splits "LABEL random secret" and checks the field sizes.
func parseLine(line []byte) (Label, [32]byte, []byte, lineResult) {
	var random [32]byte
	if len(line) > MaxLine {
		return 0, random, nil, lineBad
	}
	fields := bytes.Fields(line)
	if len(fields) != 3 {
		return 0, random, nil, lineBad
	}
	label := Label(-1)
	for l, name := range labelNames {
		if string(fields[0]) == name {
			label = Label(l)
			break
		}
	}
	if label < 0 && string(fields[0]) == "RSA" {
		return parseRSA(fields[1], fields[2])
	}
	if label < 0 {
		if isLabelWord(fields[0]) && isHex(fields[1]) && isHex(fields[2]) {
			return 0, random, nil, lineUnsupported
		}
		return 0, random, nil, lineBad
	}
	if len(fields[1]) != 64 || !isHex(fields[1]) {
		return 0, random, nil, lineBad
	}
	if _, err := hex.Decode(random[:], fields[1]); err != nil {
		return 0, random, nil, lineBad
	}
	sh := fields[2]
	if len(sh)%2 != 0 || len(sh) == 0 || len(sh)/2 > maxSecret || !isHex(sh) {
		return 0, random, nil, lineBad
	}
	secret := make([]byte, len(sh)/2)
	if _, err := hex.Decode(secret, sh); err != nil {
		return 0, random, nil, lineBad
	}
	if label == ClientRandom && len(secret) != 48 {
		return 0, random, nil, lineBad
	}
	return label, random, secret, lineOK
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return len(b) > 0
}

func isLabelWord(b []byte) bool {
	for _, c := range b {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return len(b) > 0
}
