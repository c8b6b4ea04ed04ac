//go:build !linux

package dns

import (
	"errors"
	"syscall"
)

// bindToDevice is Linux-only (SO_BINDTODEVICE).
func bindToDevice(iface string) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		return &bindError{iface: iface, err: errors.New("binding to an interface needs Linux")}
	}
}
