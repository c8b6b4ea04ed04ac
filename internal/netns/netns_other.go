//go:build !linux

package netns

import (
	"errors"
	"runtime"
)

var errUnsupported = errors.New("network namespaces exist only on Linux (" + runtime.GOOS + ")")

// Do fails: network namespaces are Linux's.
func Do(path string, f func() error) error { return errUnsupported }

// Go fails: network namespaces are Linux's.
func Go(path string, f func() error) <-chan error {
	errc := make(chan error, 1)
	errc <- errUnsupported
	return errc
}
