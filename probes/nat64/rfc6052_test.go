package nat64

import (
	"net/netip"
	"testing"
)

func TestSynthesizeRFC6052Examples(t *testing.T) {
	// RFC 6052 §2.4, the table of examples, all for 192.0.2.33; and the
	// well-known prefix with the address the issue names.
	cases := []struct {
		prefix, v4, want string
	}{
		{"2001:db8::/32", "192.0.2.33", "2001:db8:c000:221::"},
		{"2001:db8:100::/40", "192.0.2.33", "2001:db8:1c0:2:21::"},
		{"2001:db8:122::/48", "192.0.2.33", "2001:db8:122:c000:2:2100::"},
		{"2001:db8:122:300::/56", "192.0.2.33", "2001:db8:122:3c0:0:221::"},
		{"2001:db8:122:344::/64", "192.0.2.33", "2001:db8:122:344:c0:2:2100:0"},
		{"2001:db8:122:344::/96", "192.0.2.33", "2001:db8:122:344::192.0.2.33"},
		{"64:ff9b::/96", "192.0.2.33", "64:ff9b::192.0.2.33"},
		{"64:ff9b::/96", "192.0.2.1", "64:ff9b::c000:201"},
		// Host bits in the configured prefix are ignored, not mixed in.
		{"2001:db8:122:344:ffff::/64", "192.0.2.33", "2001:db8:122:344:c0:2:2100:0"},
		// A v4-mapped IPv4 address is the same IPv4 address.
		{"64:ff9b::/96", "::ffff:192.0.2.1", "64:ff9b::c000:201"},
	}
	for _, c := range cases {
		got, err := Synthesize(netip.MustParsePrefix(c.prefix), netip.MustParseAddr(c.v4))
		if err != nil {
			t.Errorf("Synthesize(%s, %s): %v", c.prefix, c.v4, err)
			continue
		}
		if want := netip.MustParseAddr(c.want); got != want {
			t.Errorf("Synthesize(%s, %s) = %s, want %s", c.prefix, c.v4, got, want)
		}
		// Bits 64–71 are always zero.
		if b := got.As16(); b[8] != 0 {
			t.Errorf("Synthesize(%s, %s) = %s: u octet %#x", c.prefix, c.v4, got, b[8])
		}
	}
}

func TestSynthesizeRejects(t *testing.T) {
	cases := []struct{ prefix, v4 string }{
		{"64:ff9b::/80", "192.0.2.1"},           // not an RFC 6052 length
		{"64:ff9b::/24", "192.0.2.1"},           // not an RFC 6052 length
		{"2001:db8:0:0:ff00::/96", "192.0.2.1"}, // u octet set
		{"64:ff9b::/96", "2001:db8::1"},         // not IPv4
		{"192.0.2.0/24", "192.0.2.1"},           // not IPv6
		{"::ffff:0:0/96", "192.0.2.1"},          // v4-mapped, not a NAT64 prefix
	}
	for _, c := range cases {
		if got, err := Synthesize(netip.MustParsePrefix(c.prefix), netip.MustParseAddr(c.v4)); err == nil {
			t.Errorf("Synthesize(%s, %s) = %s, want an error", c.prefix, c.v4, got)
		}
	}
}
