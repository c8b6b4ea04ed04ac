package report

import (
	"fmt"
	"sort"
)

// Compare lists the headline figures of now beside those of prev, the report
// of an earlier meeting: overall, then per SSID (SSIDs of either report), then
// health. A figure missing from either side has no delta.
func Compare(now, prev *Report) []Change {
	a, b := headlines(now), headlines(prev)
	var names []string
	seen := map[string]bool{}
	for _, h := range [][]headline{a, b} {
		for _, f := range h {
			if !seen[f.name] {
				seen[f.name] = true
				names = append(names, f.name)
			}
		}
	}
	value := func(h []headline, name string) *float64 {
		for _, f := range h {
			if f.name == name {
				return f.v
			}
		}
		return nil
	}
	out := make([]Change, 0, len(names))
	for _, name := range names {
		c := Change{Figure: name, Now: value(a, name), Previous: value(b, name)}
		if c.Now != nil && c.Previous != nil {
			d := *c.Now - *c.Previous
			c.Delta = &d
		}
		out = append(out, c)
	}
	return out
}

type headline struct {
	name string
	v    *float64
}

// headlines are a report's figures worth comparing across meetings, in the
// order the report shows them.
func headlines(r *Report) []headline {
	var h []headline
	add := func(prefix string, f SSIDFigures) {
		for _, x := range []headline{
			{"ipv6_bytes_share", f.IPv6BytesShare},
			{"ipv6_bytes_share_internet", f.IPv6BytesShareInternet},
			{"nat64_share", f.NAT64Share},
			{"unique_clients", f.UniqueClients},
			{"peak_clients", f.PeakClients},
			{"ipv6_active_client_share", f.IPv6ActiveShare},
			{"option108_request_share", f.Option108RequestShare},
			{"option108_offer_share", f.Option108OfferShare},
			{"ipv4_addresses_saved", f.IPv4AddressesSaved},
			{"peak_up_bps", f.PeakUpBitsPerSecond},
			{"peak_down_bps", f.PeakDownBitsPerSecond},
		} {
			h = append(h, headline{prefix + x.name, x.v})
		}
	}
	add("overall.", r.Overall)
	ssids := append([]SSIDFigures(nil), r.SSIDs...)
	sort.Slice(ssids, func(i, j int) bool { return ssids[i].SSID < ssids[j].SSID })
	for _, s := range ssids {
		add(fmt.Sprintf("ssids[%s].", s.SSID), s)
	}
	h = append(h,
		headline{"health.ap_availability", r.Health.APAvailability},
		headline{"health.snmp_availability", r.Health.SNMPAvailability},
		headline{"health.rogue_ra_incidents", count(len(r.Health.RogueRA))},
		headline{"health.rogue_dhcp_incidents", count(len(r.Health.RogueDHCP))},
	)
	return h
}

func count(n int) *float64 {
	v := float64(n)
	return &v
}
