// Package netns makes sockets inside a named Linux network namespace.
//
// A socket belongs for its whole life to the namespace of the thread that
// created it, so a probe whose path to its destination exists only in another
// namespace (a per-VLAN namespace on a probe host, the lab's NAT64 box) enters
// that namespace only for the system call that creates the socket.
package netns

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Dir is where `ip netns add` keeps the namespaces it names.
const Dir = "/run/netns"

// Path is the file of the namespace called name: a name as `ip netns` gives
// it (a file in Dir), or an absolute path such as /proc/PID/ns/net.
func Path(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(Dir, name)
}

// CheckName says what is wrong with a namespace name from a config file: it
// must be an absolute path or a single file name in Dir.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty namespace name")
	case filepath.IsAbs(name):
		return nil
	case name == "." || name == ".." || strings.ContainsRune(name, '/'):
		return fmt.Errorf("%q is neither a name in %s nor an absolute path", name, Dir)
	}
	return nil
}
