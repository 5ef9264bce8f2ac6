// Package filelock takes advisory locks on files that the system drops
// when their process ends, so a lock that can be taken means no process
// holds that file any more. The spill store uses it to tell a live
// session's directory from one a crashed run left, and the uploader to
// keep `storage push` away from a spool a recorder still writes.
package filelock
