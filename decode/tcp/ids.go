package tcp

// IDSource allocates flow and exchange IDs for decoders that share one ID
// space (Config.IDs).
type IDSource interface {
	NextFlowID() uint64
	NextExchangeID() uint64
}

// NextExchangeID allocates an exchange ID from the decoder's sequence, so
// exchanges built outside the TCP layer (Envoy HTTP tap traces) never
// collide with packet-decoded ones. Call it from the decoder goroutine.
func (d *Decoder) NextExchangeID() uint64 {
	d.stats.Exchanges++
	if d.cfg.IDs != nil {
		return d.cfg.IDs.NextExchangeID()
	}
	d.nextExchangeID++
	return d.nextExchangeID
}

// NextFlowID allocates a flow ID from the decoder's sequence, for flows
// built outside the TCP layer (the connection of an Envoy HTTP tap
// trace). Call it from the decoder goroutine.
func (d *Decoder) NextFlowID() uint64 {
	if d.cfg.IDs != nil {
		return d.cfg.IDs.NextFlowID()
	}
	d.nextFlowID++
	return d.nextFlowID
}

// newExchangeID allocates the ID of an exchange of flow (a local ID in a
// shard, announced by an EventNewExchange).
func (d *Decoder) newExchangeID(flow uint64) uint64 {
	id := d.NextExchangeID()
	if d.shard != nil {
		d.shard.record(Event{Kind: EventNewExchange, Group: flow, ID: id})
	}
	return id
}

// newFlowID allocates the ID of a new connection (a local ID in a shard,
// announced by an EventNewFlow).
func (d *Decoder) newFlowID() uint64 {
	id := d.NextFlowID()
	if d.shard != nil {
		d.shard.record(Event{Kind: EventNewFlow, Group: id, ID: id})
	}
	return id
}
