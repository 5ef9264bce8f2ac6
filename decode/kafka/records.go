package kafka

import "encoding/binary"

// batchStats is what the record batches of one records field hold:
// their number, their size on the wire and the records their headers
// count.
type batchStats struct {
	batches int
	bytes   int64
	records int64
	// partial is set when the field ends inside a batch: brokers cut
	// Fetch responses at the size limit, so the last batch may be
	// incomplete; it is not counted.
	partial bool
	// legacy is set when a message set of magic 0 or 1 was seen (each
	// message counts as one record; compressed wrappers as one).
	legacy bool
}

func (s *batchStats) add(o batchStats) {
	s.batches += o.batches
	s.bytes += o.bytes
	s.records += o.records
	s.partial = s.partial || o.partial
	s.legacy = s.legacy || o.legacy
}

// Record batch layout (magic 2): baseOffset int64, batchLength int32
// (bytes after this field), partitionLeaderEpoch int32, magic int8, crc
// int32, attributes int16, lastOffsetDelta int32, baseTimestamp int64,
// maxTimestamp int64, producerId int64, producerEpoch int16, baseSequence
// int32, records count int32: 61 bytes of header.
const (
	batchOverhead   = 12 // baseOffset and batchLength
	magicOffset     = 16
	countOffset     = 57
	batchHeaderSize = 61
)

// walkBatches counts the record batches of a records field without
// decompressing them: the counts are in the batch headers.
func walkBatches(b []byte) batchStats {
	var s batchStats
	for len(b) > 0 {
		if len(b) < batchOverhead+5 {
			s.partial = true
			return s
		}
		n := int64(int32(binary.BigEndian.Uint32(b[8:12])))
		if n < 0 || n > int64(len(b)-batchOverhead) {
			s.partial = true
			return s
		}
		size := int(n) + batchOverhead
		switch b[magicOffset] {
		case 2:
			if size >= batchHeaderSize {
				if c := int32(binary.BigEndian.Uint32(b[countOffset:])); c > 0 {
					s.records += int64(c)
				}
			}
		default:
			s.legacy = true
			s.records++
		}
		s.batches++
		s.bytes += int64(size)
		b = b[size:]
	}
	return s
}
