// Package s3store is tapview's access to S3-compatible object stores
// (AWS S3, MinIO, Ceph RGW, SeaweedFS, GCS interop): s3:// URLs, a client
// configured the way users already configure AWS tools, the key layout
// that recorders write and readers list, and the lifecycle rule that
// expires old captures.
//
// Object stores, not tapview, are the distributed engine here: a recorder
// writes self-contained segments (each a valid pcapng file, or a
// length-delimited Envoy trace file), and `tapview open s3://...` finds
// them again by key alone, so reading never needs an index object that a
// crashed recorder could leave stale.
//
// # Key layout
//
//		PREFIX/<capture-id>/<source>/<seq>-<start>-<end>.<ext>
//
//	  - capture-id names one recording run: its UTC start time and a
//	    random suffix (NewCaptureID), so ids sort by time and never collide.
//	  - source is the source's display name (pod, agent, sink), path-escaped
//	    so a "/" in it cannot add a key level.
//	  - seq numbers the source's segments from 1, zero-padded to 8 digits,
//	    so keys list in write order.
//	  - start and end are the first and last packet (or trace) timestamps in
//	    Unix nanoseconds, zero-padded to 19 digits: --since/--until choose
//	    segments from the listing without reading them.
//	  - ext is ".pcapng" for packet segments and ".pb_length_delimited" for
//	    Envoy trace segments (the extension Envoy itself gives that format).
//
// Each object also carries tags (TagCaptureID, TagSource, TagUser,
// TagMasked) so bucket policies and lifecycle rules can select by them.
package s3store
