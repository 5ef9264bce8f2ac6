package tcp

// NextExchangeID allocates an exchange ID from the decoder's sequence, so
// exchanges built outside the TCP layer (Envoy HTTP tap traces) never
// collide with packet-decoded ones. Call it from the decoder goroutine.
func (d *Decoder) NextExchangeID() uint64 {
	d.nextExchangeID++
	return d.nextExchangeID
}
