package tcp

// NextExchangeID allocates an exchange ID from the decoder's sequence, so
// exchanges built outside the TCP layer (Envoy HTTP tap traces) never
// collide with packet-decoded ones. Call it from the decoder goroutine.
func (d *Decoder) NextExchangeID() uint64 {
	d.nextExchangeID++
	d.stats.Exchanges++
	return d.nextExchangeID
}

// NextFlowID allocates a flow ID from the decoder's sequence, for flows
// built outside the TCP layer (the connection of an Envoy HTTP tap
// trace). Call it from the decoder goroutine.
func (d *Decoder) NextFlowID() uint64 {
	d.nextFlowID++
	return d.nextFlowID
}
