package dns

import (
	"syscall"
)

// bindToDevice makes a socket leave through the named interface whatever the
// routing table says (SO_BINDTODEVICE; needs CAP_NET_RAW unless the kernel is
// 5.7 or newer and the socket is unbound).
func bindToDevice(iface string) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, iface)
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return &bindError{iface: iface, err: serr}
		}
		return nil
	}
}
