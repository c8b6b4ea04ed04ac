package report

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/meetnoc/meetnoc/internal/testenv"
)

// meeting is a generated history of meetnoc's metrics: every figure of the
// report follows from these parameters, so tests can compute what the report
// must say. Sample k is at from + k·interval, k = 0 … samples−1, except in the
// gap, where nothing is written. Counters grow by inc(k) over the interval
// that ends at sample k.
type meeting struct {
	from     time.Time // a venue midnight
	days     int
	interval time.Duration
	loc      *time.Location
	// No sample strictly between gapFrom and gapTo: the daemon was down.
	gapFrom, gapTo time.Time

	ssids     []meetingSSID
	aps       []meetingAP
	targets   []string // SNMP targets; the first fails one poll in 96
	resolvers []meetingResolver
	natTarget string
}

type meetingSSID struct {
	name string
	// bytesPerSecond[family][direction] at traffic factor 1.
	bytesPerSecond map[string]map[string]float64
	// DHCP messages per minute.
	discovers, option108, offers108, offersV4 float64
	// Daily unique clients and IPv6-active clients, per day.
	unique, ipv6Active []float64
	// Associated clients per controller; peak on the first controller at peakAt.
	clients     map[string]float64
	peakClients map[string]float64
	peakAt      time.Time
}

type meetingAP struct {
	controller, name string
	downFrom, downTo time.Time // samples in [downFrom, downTo) are 0
}

type meetingResolver struct {
	name   string
	checks []string
	dns64  bool // has a DNS64 prefix
}

// The scenario's events, relative to the first day.
func (m *meeting) day(d int, hour, minute int) time.Time {
	return time.Date(m.from.Year(), m.from.Month(), m.from.Day()+d, hour, minute, 0, 0, m.loc)
}

func (m *meeting) samples() int { return int(time.Duration(m.days)*24*time.Hour/m.interval) + 1 }
func (m *meeting) to() time.Time {
	return m.from.Add(time.Duration(m.samples()-1) * m.interval)
}
func (m *meeting) at(k int) time.Time { return m.from.Add(time.Duration(k) * m.interval) }

// written reports whether sample k exists (is not in the gap).
func (m *meeting) written(k int) bool {
	t := m.at(k)
	return !(t.After(m.gapFrom) && t.Before(m.gapTo))
}

// Traffic factor of the interval ending at sample k (by its start): busier
// in the working day, five times the night's in the plenary hour of day 2.
func (m *meeting) trafficFactor(k int) float64 {
	t := m.at(k - 1).In(m.loc)
	f := 1.0
	if t.Hour() >= 9 && t.Hour() < 18 {
		f++
	}
	if p := m.day(1, 10, 0); !t.Before(p) && t.Before(p.Add(time.Hour)) {
		f += 3
	}
	return f
}

func (m *meeting) perInterval(perSecond float64) float64 { return perSecond * m.interval.Seconds() }

// resetAt is the sample at which the ietf ipv6 down byte counter restarts.
func (m *meeting) resetAt() int { return int(m.day(0, 8, 0).Sub(m.from) / m.interval) }

// rogueRA: RAs per minute from a router not allowed, on the first SSID, day 1
// 20:00–20:05; rogueDHCP: OFFERs per minute from a server not allowed on the
// second SSID, day 2 09:00–09:10.
const rogueRAPerMinute, rogueDHCPPerMinute = 2, 4

func (m *meeting) rogueRA(k int) float64 {
	return m.during(k, m.day(0, 20, 0), m.day(0, 20, 5), rogueRAPerMinute)
}

func (m *meeting) rogueDHCP(k int) float64 {
	return m.during(k, m.day(1, 9, 0), m.day(1, 9, 10), rogueDHCPPerMinute)
}

// during is perMinute for the intervals starting in [from, to).
func (m *meeting) during(k int, from, to time.Time, perMinute float64) float64 {
	if t := m.at(k - 1); !t.Before(from) && t.Before(to) {
		return perMinute * m.interval.Minutes()
	}
	return 0
}

// Outcomes of probes and polls in the interval ending at sample k.
func snmpFails(k int) bool     { return k%96 == 0 }
func dnsTimesOut(k int) bool   { return k%40 == 0 }
func nat64TimesOut(k int) bool { return k%50 == 0 }
func nat64Refused(k int) bool  { return k%10 == 0 && !nat64TimesOut(k) }

// dns64Expected is the resolver's prefix state at sample k: wrong on day 2
// 03:00–04:00, no synthesis (absent) 05:00–05:30.
func (m *meeting) dns64Expected(k int) (float64, bool) {
	t := m.at(k)
	if !t.Before(m.day(1, 5, 0)) && t.Before(m.day(1, 5, 30)) {
		return 0, false
	}
	if !t.Before(m.day(1, 3, 0)) && t.Before(m.day(1, 4, 0)) {
		return 0, true
	}
	return 1, true
}

// alertFiring: NAT64Down fires on day 2 06:00–06:20 (samples included), after
// pending for two minutes.
func (m *meeting) alert(k int) (state string, ok bool) {
	t := m.at(k)
	switch {
	case !t.Before(m.day(1, 5, 58)) && t.Before(m.day(1, 6, 0)):
		return "pending", true
	case !t.Before(m.day(1, 6, 0)) && !t.After(m.day(1, 6, 20)):
		return "firing", true
	}
	return "", false
}

// dailyClients is a daily gauge at sample k: counting up from the venue's
// midnight to the day's total at 23:59. The scrape at midnight still sees the
// day before's total: the daemon rolls over a moment after it.
func (m *meeting) dailyClients(k int, perDay []float64) float64 {
	t := m.at(k).In(m.loc)
	d := int(startOfDay(t, m.loc).Sub(m.from).Round(24*time.Hour) / (24 * time.Hour))
	if t.Equal(startOfDay(t, m.loc)) && d > 0 && d <= len(perDay) {
		return perDay[d-1]
	}
	if d >= len(perDay) {
		return 0
	}
	minute := float64(t.Hour()*60 + t.Minute())
	return float64(int(perDay[d]*minute/1439 + 0.5))
}

func (m *meeting) clients(k int, s meetingSSID, controller string) float64 {
	if m.at(k).Equal(s.peakAt) {
		return s.peakClients[controller]
	}
	return s.clients[controller]
}

// omWriter writes OpenMetrics text for promtool.
type omWriter struct {
	w *bufio.Writer
	m *meeting
}

func (o omWriter) family(name, typ string) { fmt.Fprintf(o.w, "# TYPE %s %s\n", name, typ) }

func (o omWriter) sample(name, labels string, v float64, k int) {
	o.w.WriteString(name)
	o.w.WriteString(labels)
	o.w.WriteByte(' ')
	o.w.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	o.w.WriteByte(' ')
	o.w.WriteString(strconv.FormatInt(o.m.at(k).Unix(), 10))
	o.w.WriteByte('\n')
}

// counter writes a counter series growing by inc(k); at sample reset (if >0)
// it restarts from inc(reset), as a restarted daemon that counted since.
func (o omWriter) counter(name, labels string, inc func(k int) float64, reset int) {
	var v float64
	for k := 0; k < o.m.samples(); k++ {
		if k > 0 {
			v += inc(k)
		}
		if k == reset && reset > 0 {
			v = inc(k)
		}
		if o.m.written(k) {
			o.sample(name, labels, v, k)
		}
	}
}

func (o omWriter) gauge(name, labels string, value func(k int) (float64, bool)) {
	for k := 0; k < o.m.samples(); k++ {
		if v, ok := value(k); ok && o.m.written(k) {
			o.sample(name, labels, v, k)
		}
	}
}

func constant(v float64) func(int) (float64, bool) {
	return func(int) (float64, bool) { return v, true }
}
func zero(int) float64 { return 0 }

const trafficFamilies = "ipv4 ipv6 nat64"

// writeOpenMetrics writes the whole history.
func (m *meeting) writeOpenMetrics(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	o := omWriter{w: bufio.NewWriterSize(f, 1<<20), m: m}
	const inst = `job="meetnoc",instance="noc:9436"`

	o.family("meetnoc_build_info", "gauge")
	o.gauge("meetnoc_build_info", `{`+inst+`,version="test"}`, constant(1))

	if len(m.ssids) > 0 {
		m.writeSSIDs(o, inst)
	}
	m.writeHealth(o, inst)
	if _, err := o.w.WriteString("# EOF\n"); err != nil {
		return err
	}
	if err := o.w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// writeSSIDs writes the traffic, client and DHCP/RA series.
func (m *meeting) writeSSIDs(o omWriter, inst string) {
	o.family("meetnoc_traffic_bytes", "counter")
	for _, s := range m.ssids {
		for _, fam := range []string{"ipv4", "ipv6", "nat64"} {
			for _, dir := range []string{"up", "down"} {
				rate := s.bytesPerSecond[fam][dir]
				reset := 0
				if s.name == m.ssids[0].name && fam == "ipv6" && dir == "down" {
					reset = m.resetAt()
				}
				o.counter("meetnoc_traffic_bytes_total", fmt.Sprintf(`{%s,ssid=%q,family=%q,direction=%q}`, inst, s.name, fam, dir),
					func(k int) float64 { return m.perInterval(rate) * m.trafficFactor(k) }, reset)
			}
		}
		// Not IP: left out of every byte figure.
		o.counter("meetnoc_traffic_bytes_total", fmt.Sprintf(`{%s,ssid=%q,family="other",direction="other"}`, inst, s.name),
			func(k int) float64 { return m.perInterval(1000) }, 0)
	}

	o.family("meetnoc_traffic_daily_active_clients", "gauge")
	for _, s := range m.ssids {
		o.gauge("meetnoc_traffic_daily_active_clients", fmt.Sprintf(`{%s,ssid=%q}`, inst, s.name),
			func(k int) (float64, bool) { return m.dailyClients(k, s.unique), true })
	}
	o.family("meetnoc_traffic_daily_ipv6_active_clients", "gauge")
	for _, s := range m.ssids {
		o.gauge("meetnoc_traffic_daily_ipv6_active_clients", fmt.Sprintf(`{%s,ssid=%q}`, inst, s.name),
			func(k int) (float64, bool) { return m.dailyClients(k, s.ipv6Active), true })
	}

	o.family("meetnoc_ssid_clients", "gauge")
	for _, s := range m.ssids {
		for _, c := range keysSorted(s.clients) {
			o.gauge("meetnoc_ssid_clients", fmt.Sprintf(`{%s,controller=%q,ssid=%q}`, inst, c, s.name),
				func(k int) (float64, bool) { return m.clients(k, s, c), true })
		}
	}

	perMinute := m.perMinute
	o.family("meetnoc_dhcp_discovers", "counter")
	for _, s := range m.ssids {
		o.counter("meetnoc_dhcp_discovers_total", fmt.Sprintf(`{%s,ssid=%q}`, inst, s.name), perMinute(s.discovers), 0)
	}
	o.family("meetnoc_dhcp_ipv6_only_preferred", "counter")
	for _, s := range m.ssids {
		o.counter("meetnoc_dhcp_ipv6_only_preferred_total", fmt.Sprintf(`{%s,ssid=%q}`, inst, s.name), perMinute(s.option108), 0)
	}
	o.family("meetnoc_dhcp_offers", "counter")
	for i, s := range m.ssids {
		o.counter("meetnoc_dhcp_offers_total", fmt.Sprintf(`{%s,ssid=%q,allowed="true",ipv6_only="true"}`, inst, s.name), perMinute(s.offers108), 0)
		o.counter("meetnoc_dhcp_offers_total", fmt.Sprintf(`{%s,ssid=%q,allowed="true",ipv6_only="false"}`, inst, s.name), perMinute(s.offersV4), 0)
		o.counter("meetnoc_dhcp_offers_total", fmt.Sprintf(`{%s,ssid=%q,allowed="false",ipv6_only="true"}`, inst, s.name), zero, 0)
		rogue := zero
		if i == 1 {
			rogue = m.rogueDHCP
		}
		o.counter("meetnoc_dhcp_offers_total", fmt.Sprintf(`{%s,ssid=%q,allowed="false",ipv6_only="false"}`, inst, s.name), rogue, 0)
	}
	o.family("meetnoc_router_advertisements", "counter")
	for i, s := range m.ssids {
		o.counter("meetnoc_router_advertisements_total", fmt.Sprintf(`{%s,ssid=%q,allowed="true",pref64="match"}`, inst, s.name), perMinute(1), 0)
		rogue := zero
		if i == 0 {
			rogue = m.rogueRA
		}
		o.counter("meetnoc_router_advertisements_total", fmt.Sprintf(`{%s,ssid=%q,allowed="false",pref64="absent"}`, inst, s.name), rogue, 0)
	}

}

func (m *meeting) perMinute(n float64) func(int) float64 {
	return func(int) float64 { return n * m.interval.Minutes() }
}

// writeHealth writes the AP, SNMP, DNS, NAT64 and ALERTS series.
func (m *meeting) writeHealth(o omWriter, inst string) {
	perMinute := m.perMinute
	o.family("meetnoc_ap_up", "gauge")
	for _, ap := range m.aps {
		o.gauge("meetnoc_ap_up", fmt.Sprintf(`{%s,controller=%q,ap=%q}`, inst, ap.controller, ap.name), func(k int) (float64, bool) {
			if t := m.at(k); !t.Before(ap.downFrom) && t.Before(ap.downTo) {
				return 0, true
			}
			return 1, true
		})
	}

	if len(m.targets) == 0 {
		return
	}
	o.family("meetnoc_snmp_polls", "counter")
	for i, target := range m.targets {
		fails := func(k int) bool { return i == 0 && snmpFails(k) }
		o.counter("meetnoc_snmp_polls_total", fmt.Sprintf(`{%s,target=%q,result="ok"}`, inst, target), func(k int) float64 {
			if fails(k) {
				return 0
			}
			return perMinute(1)(k)
		}, 0)
		o.counter("meetnoc_snmp_polls_total", fmt.Sprintf(`{%s,target=%q,result="timeout"}`, inst, target), func(k int) float64 {
			if fails(k) {
				return perMinute(1)(k)
			}
			return 0
		}, 0)
		for _, r := range []string{"auth", "error"} {
			o.counter("meetnoc_snmp_polls_total", fmt.Sprintf(`{%s,target=%q,result=%q}`, inst, target, r), zero, 0)
		}
	}

	o.family("meetnoc_dns_probes", "counter")
	for _, r := range m.resolvers {
		for _, check := range r.checks {
			// Only the first resolver's www-aaaa check times out.
			timesOut := func(k int) bool { return r.name == m.resolvers[0].name && check == "www-aaaa" && dnsTimesOut(k) }
			o.counter("meetnoc_dns_probes_total", fmt.Sprintf(`{%s,resolver=%q,check=%q,result="ok"}`, inst, r.name, check), func(k int) float64 {
				if timesOut(k) {
					return 0
				}
				return perMinute(1)(k)
			}, 0)
			o.counter("meetnoc_dns_probes_total", fmt.Sprintf(`{%s,resolver=%q,check=%q,result="timeout"}`, inst, r.name, check), func(k int) float64 {
				if timesOut(k) {
					return perMinute(1)(k)
				}
				return 0
			}, 0)
			for _, res := range []string{"rcode", "validation", "network"} {
				o.counter("meetnoc_dns_probes_total", fmt.Sprintf(`{%s,resolver=%q,check=%q,result=%q}`, inst, r.name, check, res), zero, 0)
			}
		}
	}
	o.family("meetnoc_dns_probe_success", "gauge")
	for _, r := range m.resolvers {
		for _, check := range r.checks {
			o.gauge("meetnoc_dns_probe_success", fmt.Sprintf(`{%s,resolver=%q,check=%q}`, inst, r.name, check), constant(1))
		}
	}
	o.family("meetnoc_dns64_prefix_expected", "gauge")
	for _, r := range m.resolvers {
		if r.dns64 {
			o.gauge("meetnoc_dns64_prefix_expected", fmt.Sprintf(`{%s,resolver=%q,prefix="64:ff9b::/96"}`, inst, r.name), m.dns64Expected)
		}
	}

	o.family("meetnoc_nat64_probes", "counter")
	nat64 := map[string]func(k int) bool{
		"ok":      func(k int) bool { return !nat64TimesOut(k) && !nat64Refused(k) },
		"refused": nat64Refused,
		"timeout": nat64TimesOut,
	}
	for _, res := range []string{"ok", "refused", "timeout"} {
		o.counter("meetnoc_nat64_probes_total", fmt.Sprintf(`{%s,target=%q,path="nat64",result=%q}`, inst, m.natTarget, res), func(k int) float64 {
			if nat64[res](k) {
				return perMinute(1)(k)
			}
			return 0
		}, 0)
	}
	o.counter("meetnoc_nat64_probes_total", fmt.Sprintf(`{%s,target=%q,path="ipv4",result="ok"}`, inst, m.natTarget), perMinute(1), 0)

	o.family("ALERTS", "gauge")
	for _, state := range []string{"pending", "firing"} {
		o.gauge("ALERTS", fmt.Sprintf(`{alertname="NAT64Down",alertstate=%q,severity="critical",target=%q}`, state, m.natTarget), func(k int) (float64, bool) {
			s, ok := m.alert(k)
			return 1, ok && s == state
		})
	}
}

// loadHistory writes the histories, makes TSDB blocks of them with promtool
// and starts Prometheus on them.
func loadHistory(t testing.TB, histories ...*meeting) *testenv.Prometheus {
	t.Helper()
	promtool := testenv.Promtool(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	for i, m := range histories {
		in := filepath.Join(dir, fmt.Sprintf("history%d.om", i))
		if err := m.writeOpenMetrics(in); err != nil {
			t.Fatal(err)
		}
		// Blocks of up to 8 days: promtool reads its input once per block.
		cmd := exec.Command(promtool, "tsdb", "create-blocks-from", "--max-block-duration=192h", "openmetrics", in, data)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
		}
		if err := os.Remove(in); err != nil {
			t.Fatal(err)
		}
	}
	return testenv.StartPrometheusOn(t, "global:\n  scrape_interval: 15s\n", data)
}
