package tls

import "sync/atomic"

// Stats counts what the parser did over all connections, for the status
// bar ("12 TLS flows, 9 decrypted, 3 without keys") and tests.
type Stats struct {
	Connections   int64 // connections handled
	Handshakes    int64 // ServerHellos parsed (handshake facts known)
	Decrypted     int64 // connections with at least one decrypted record
	MissingKeys   int64 // connections that ended with a key store but without their keys
	Records       int64 // records decrypted
	KeyUpdates    int64 // TLS 1.3 KeyUpdate messages followed
	Failures      int64 // directions where decryption failed (wrong keys, damage)
	Resyncs       int64 // record boundaries found again after a capture gap
	Unsupported   int64 // handshakes with a cipher suite or version that is not decrypted
	EarlySkipped  int64 // TLS 1.3 0-RTT records skipped
	LingerExpired int64 // ended connections whose keys never came
}

// counters are the parser's shared atomic counters.
type counters struct {
	connections, handshakes, decrypted, missingKeys, records atomic.Int64
	keyUpdates, failures, resyncs, unsupported, earlySkipped atomic.Int64
	lingerExpired                                            atomic.Int64
}

// Stats returns the counters so far.
func (p *Parser) Stats() Stats {
	c := &p.stats
	return Stats{
		Connections:   c.connections.Load(),
		Handshakes:    c.handshakes.Load(),
		Decrypted:     c.decrypted.Load(),
		MissingKeys:   c.missingKeys.Load(),
		Records:       c.records.Load(),
		KeyUpdates:    c.keyUpdates.Load(),
		Failures:      c.failures.Load(),
		Resyncs:       c.resyncs.Load(),
		Unsupported:   c.unsupported.Load(),
		EarlySkipped:  c.earlySkipped.Load(),
		LingerExpired: c.lingerExpired.Load(),
	}
}
