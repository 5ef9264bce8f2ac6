// Package netns runs code inside another Linux network namespace, so a
// capture can be opened on an interface that only exists there (a pod's
// veth, a test namespace) without changing the namespace of the process.
package netns

import "path/filepath"

// Path returns the file `ip netns add NAME` creates for a named namespace.
func Path(name string) string { return filepath.Join("/var/run/netns", name) }
