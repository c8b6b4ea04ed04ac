// Package report makes the post-meeting report on IPv6 uptake from
// Prometheus: figures computed with PromQL over the meeting (Collect), then
// written as a self-contained HTML page, Markdown for a mailing list and JSON
// for machines and the next meeting's comparison (Write).
package report

import (
	"time"
)

// Report is everything the report says. report.json is this, as written; a
// later report reads it back with --previous.
type Report struct {
	Title      string    `json:"title"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Generated  time.Time `json:"generated"`
	Prometheus string    `json:"prometheus"` // the server's URL
	// Step is the resolution of the time series in Series, in seconds.
	Step float64 `json:"step_seconds"`
	// Timezone is the venue's, in which days and hours of day are counted.
	Timezone string `json:"timezone"`

	// IPv6BytesShare is the headline: the client-side IPv6 share of bytes
	// over the meeting, all SSIDs (Overall.IPv6BytesShare, repeated at the top
	// level for tools that read one number).
	IPv6BytesShare *float64      `json:"ipv6_bytes_share"`
	Overall        SSIDFigures   `json:"overall"` // SSID "all"
	SSIDs          []SSIDFigures `json:"ssids"`   // sorted by name
	Days           []Period      `json:"days"`    // one per venue day, in order
	HoursOfDay     []Period      `json:"hours_of_day"`
	Health         Health        `json:"health"`
	Series         []TimeSeries  `json:"series"` // the charts' data

	// Gaps are the times with no data from meetnoc at all (it was down or not
	// scraped): shown as gaps, never filled in.
	Gaps []Gap `json:"gaps"`
	// Absent names the sections whose metrics Prometheus does not have, with
	// the reason, e.g. "traffic: no meetnoc_traffic_bytes_total (no traffic
	// source configured)". Their figures are null, never 0.
	Absent []string `json:"absent"`
	// Definitions holds, for each figure's JSON name, the one sentence that
	// defines it; the HTML and Markdown print them beside the figures.
	Definitions map[string]string `json:"definitions"`
	// Changes compare the headline figures with --previous; empty without it.
	Previous *PreviousReport `json:"previous,omitempty"`
	Changes  []Change        `json:"changes,omitempty"`
}

// PreviousReport names the report compared with.
type PreviousReport struct {
	Title string    `json:"title"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
}

// SSIDFigures are one SSID's figures (or all SSIDs', SSID "all"). A nil
// figure was not measured: its metrics are absent for this SSID or period.
type SSIDFigures struct {
	SSID string `json:"ssid"`

	// Bytes over the meeting, by family (ipv4, ipv6, nat64) and by direction
	// (up, down): client side, weighted by sampling as the daemon counts them.
	BytesByFamily    map[string]float64 `json:"bytes_by_family"`
	BytesByDirection map[string]float64 `json:"bytes_by_direction"`

	IPv6BytesShare         *float64 `json:"ipv6_bytes_share"`          // client side: (ipv6+nat64)/(ipv4+ipv6+nat64)
	IPv6BytesShareInternet *float64 `json:"ipv6_bytes_share_internet"` // Internet side: ipv6/(ipv4+ipv6+nat64)
	NAT64Share             *float64 `json:"nat64_share"`               // nat64/(ipv6+nat64): IPv6 traffic that needed NAT64

	UniqueClients    *float64  `json:"unique_clients"` // the busiest venue day's unique clients
	UniqueClientsDay string    `json:"unique_clients_day,omitempty"`
	PeakClients      *float64  `json:"peak_clients"` // most clients associated at once
	PeakClientsAt    time.Time `json:"peak_clients_at,omitempty"`
	IPv6ActiveShare  *float64  `json:"ipv6_active_client_share"` // of unique clients, those that used IPv6

	DHCPDiscovers         *float64 `json:"dhcp_discovers"`          // DISCOVERs seen (sampled sources: estimated)
	DHCPOffers            *float64 `json:"dhcp_offers"`             // OFFERs from the allowed servers
	Option108RequestShare *float64 `json:"option108_request_share"` // DISCOVERs asking for option 108
	Option108OfferShare   *float64 `json:"option108_offer_share"`   // allowed OFFERs carrying option 108
	IPv4AddressesSaved    *float64 `json:"ipv4_addresses_saved"`    // at the peak

	PeakUpBitsPerSecond   *float64  `json:"peak_up_bps"`
	PeakUpAt              time.Time `json:"peak_up_at,omitempty"`
	PeakDownBitsPerSecond *float64  `json:"peak_down_bps"`
	PeakDownAt            time.Time `json:"peak_down_at,omitempty"`
}

// Period is a day, or an hour of day over all days, with its figures.
type Period struct {
	Label          string    `json:"label"` // "2026-03-16" or "09:00"
	Start          time.Time `json:"start,omitempty"`
	End            time.Time `json:"end,omitempty"`
	Bytes          *float64  `json:"bytes"`
	IPv6BytesShare *float64  `json:"ipv6_bytes_share"`
	PeakClients    *float64  `json:"peak_clients"`
	UniqueClients  *float64  `json:"unique_clients,omitempty"` // days only
}

// Health is how the network did.
type Health struct {
	APAvailability   *float64       `json:"ap_availability"` // mean over APs of the time up
	APs              []Availability `json:"aps"`             // the least available first
	SNMPAvailability *float64       `json:"snmp_availability"`
	SNMPTargets      []Availability `json:"snmp_targets"`
	DNS              []Availability `json:"dns"`   // per resolver: all checks
	DNS64            []Availability `json:"dns64"` // per resolver: its dns64 checks
	NAT64            []Availability `json:"nat64"` // per NAT64 probe target
	RogueRA          []Incident     `json:"rogue_ra"`
	RogueDHCP        []Incident     `json:"rogue_dhcp"`
	Alerts           []AlertEpisode `json:"alerts"` // from ALERTS, firing, by start
}

// Availability is the share of the period something was up (or its probes
// succeeded), over the time it was measured.
type Availability struct {
	Name         string   `json:"name"`
	Group        string   `json:"group,omitempty"` // controller of an AP
	Availability *float64 `json:"availability"`
}

// Incident is a stretch of time a rogue RA or DHCP server was seen.
type Incident struct {
	SSID    string    `json:"ssid"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Packets float64   `json:"packets"` // RAs or OFFERs counted in it
}

// AlertEpisode is a stretch of time an alert fired.
type AlertEpisode struct {
	Name     string            `json:"name"`
	Severity string            `json:"severity"`
	Labels   map[string]string `json:"labels"` // without alertname, alertstate, severity
	Start    time.Time         `json:"start"`
	End      time.Time         `json:"end"`
}

// Gap is a stretch with no data.
type Gap struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// TimeSeries is one line of a chart: a value per step, null where there is
// no data (a gap, drawn as a break in the line).
type TimeSeries struct {
	Chart  string     `json:"chart"`  // the chart it belongs to: see Charts
	Name   string     `json:"name"`   // the line's legend: an SSID, a family
	Unit   string     `json:"unit"`   // "ratio", "clients", "bps"
	Start  time.Time  `json:"start"`  // time of Values[0]
	Step   float64    `json:"step"`   // seconds between values
	Values []*float64 `json:"values"` // nil: no data
}

// The charts the report draws, in order, and their titles.
var Charts = []struct{ ID, Title string }{
	{"ipv6_share", "IPv6 share of client-side bytes, per SSID"},
	{"clients", "Clients per SSID"},
	{"family_mix", "Traffic by family (all SSIDs)"},
	{"option108", "DISCOVERs asking for option 108, per SSID"},
}

// Change is one headline figure now and at the previous meeting.
type Change struct {
	Figure   string   `json:"figure"` // e.g. "overall.ipv6_bytes_share", "ssids[ietf].peak_clients"
	Now      *float64 `json:"now"`
	Previous *float64 `json:"previous"`
	Delta    *float64 `json:"delta"` // Now − Previous, nil unless both are known
}

// Definitions of the figures, one sentence each, keyed by JSON name.
var Definitions = map[string]string{
	"ipv6_bytes_share":          "Share of the bytes that clients sent and received over IPv6 (NAT64 traffic counts as IPv6, since the client speaks IPv6), of all IPv4 and IPv6 bytes on the client side.",
	"ipv6_bytes_share_internet": "Share of the bytes that crossed to the Internet as IPv6: NAT64 traffic leaves as IPv4, so it counts as IPv4 here.",
	"nat64_share":               "Share of the clients' IPv6 bytes that went through NAT64 to reach IPv4-only destinations.",
	"unique_clients":            "Distinct client devices (by MAC address, counted with a HyperLogLog sketch, ±1–2 %) seen sending traffic on the busiest venue day.",
	"peak_clients":              "The most clients associated at the same time, as the wireless controllers reported them.",
	"ipv6_active_client_share":  "Of the distinct clients seen on a day, the share that sent IPv6 traffic (NAT64 included), on the busiest day.",
	"dhcp_discovers":            "DHCPv4 DISCOVERs seen from clients (on sampled sources, the sampled count times the sampling rate).",
	"dhcp_offers":               "DHCPv4 OFFERs seen from the SSID's authorised DHCP servers.",
	"option108_request_share":   "Share of DHCPv4 DISCOVERs that asked for option 108 (IPv6-only preferred, RFC 8925): clients able to go IPv6-only.",
	"option108_offer_share":     "Share of the authorised DHCP servers' OFFERs that carried option 108, telling the client it may go without IPv4.",
	"ipv4_addresses_saved":      "IPv4 leases not needed at the peak: the peak number of clients times the share of OFFERs with option 108, whose clients take no IPv4 address.",
	"peak_up_bps":               "The highest client-to-network bit rate, averaged over 5 minutes.",
	"peak_down_bps":             "The highest network-to-client bit rate, averaged over 5 minutes.",
	"ap_availability":           "The mean, over access points, of the share of the time each was joined to its controller.",
	"snmp_availability":         "The mean, over polled devices, of the share of polls that succeeded.",
	"dns_availability":          "Per resolver, the share of DNS probes that succeeded, all checks together.",
	"dns64_availability":        "Per resolver, the share of DNS64 probes (checks with dns64: true) that succeeded.",
	"nat64_availability":        "Per target, the share of probes through the NAT64 prefix that connected.",
	"rogue_ra":                  "Stretches of time in which Router Advertisements came from a router not in the SSID's routers list.",
	"rogue_dhcp":                "Stretches of time in which DHCP OFFERs came from a server not in the SSID's dhcp_servers list.",
	"alerts":                    "Stretches of time each alert was firing, from Prometheus's ALERTS series.",
}
