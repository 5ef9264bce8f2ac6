//go:build !linux

package netns

import "errors"

// Do fails: network namespaces exist only on Linux.
func Do(path string, fn func() error) error {
	return errors.New("netns: network namespaces are Linux-only")
}
