//go:build !linux

package traffic

import (
	"errors"
	"runtime"
)

// SourceTypeAFPacket is the type of a live AF_PACKET capture source.
const SourceTypeAFPacket = "afpacket"

func init() { newSourceFuncs[SourceTypeAFPacket] = newAFPacketSource }

// newAFPacketSource fails on systems without AF_PACKET, saying so, rather than
// leaving the type unknown to the config.
func newAFPacketSource(sourceEnv) (source, error) {
	return nil, errors.New("afpacket needs Linux (this is " + runtime.GOOS + "): capture with sflow, or replay a pcap file")
}
