package nat64

import (
	"fmt"
	"net/netip"
)

// Synthesize embeds an IPv4 address in a NAT64 prefix as RFC 6052 §2.2 lays it
// out: the IPv4 bits follow the prefix, skipping bits 64–71 (the "u" octet,
// which must be zero), and the suffix is zero. Prefix lengths 32, 40, 48, 56, 64
// and 96 are the only ones the RFC allows.
func Synthesize(prefix netip.Prefix, v4 netip.Addr) (netip.Addr, error) {
	v4 = v4.Unmap()
	if !v4.Is4() {
		return netip.Addr{}, fmt.Errorf("%s is not an IPv4 address", v4)
	}
	if !prefix.IsValid() || !prefix.Addr().Is6() || prefix.Addr().Is4In6() {
		return netip.Addr{}, fmt.Errorf("%s is not an IPv6 prefix", prefix)
	}
	a := prefix.Masked().Addr().As16()
	v := v4.As4()
	switch prefix.Bits() {
	case 32:
		copy(a[4:8], v[:])
	case 40:
		copy(a[5:8], v[:3])
		a[9] = v[3]
	case 48:
		copy(a[6:8], v[:2])
		copy(a[9:11], v[2:])
	case 56:
		a[7] = v[0]
		copy(a[9:12], v[1:])
	case 64:
		copy(a[9:13], v[:])
	case 96:
		// Only a /96 carries the u octet inside the prefix itself.
		if a[8] != 0 {
			return netip.Addr{}, fmt.Errorf("%s: bits 64–71 of an RFC 6052 prefix must be zero", prefix)
		}
		copy(a[12:16], v[:])
	default:
		return netip.Addr{}, fmt.Errorf("prefix length /%d is not one RFC 6052 allows (32, 40, 48, 56, 64, 96)", prefix.Bits())
	}
	return netip.AddrFrom16(a), nil
}
