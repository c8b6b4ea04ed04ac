package profiles_test

import (
	"bytes"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/meetnoc/meetnoc/collectors/snmp/profiles"
	"github.com/meetnoc/meetnoc/internal/config"
)

var (
	oidRE        = regexp.MustCompile(`^1(\.(0|[1-9][0-9]*))+$`)
	metricNameRE = regexp.MustCompile(`^meetnoc_[a-z0-9_]+$`)
)

// decodeAll decodes every embedded profile strictly: an unknown key (a typo such as
// fallback_oid) is an error, as it is for the config loader.
func decodeAll(t *testing.T) map[string]*config.Profile {
	t.Helper()
	names, err := fs.Glob(profiles.FS, "*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no profiles embedded")
	}
	out := map[string]*config.Profile{}
	for _, name := range names {
		data, err := profiles.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		var p config.Profile
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := strings.TrimSuffix(name, path.Ext(name)); p.Name != want {
			t.Errorf("%s: name %q, want %q (the file name)", name, p.Name, want)
		}
		out[p.Name] = &p
	}
	return out
}

func TestProfilesDecodeStrictly(t *testing.T) {
	got := decodeAll(t)
	for _, want := range []string{"if_mib", "cisco_wlc", "aruba_wlc", "host"} {
		if got[want] == nil {
			t.Errorf("profile %s is not embedded", want)
		}
	}
}

// TestProfilesAreWellFormed checks what Prometheus and the metric contract need:
// names, types, help, numeric OIDs, and one help and type per metric name across
// all profiles (a daemon may load cisco_wlc and aruba_wlc together).
func TestProfilesAreWellFormed(t *testing.T) {
	type family struct{ typ, help, where string }
	families := map[string]family{}
	all := decodeAll(t)
	for _, name := range slices.Sorted(maps.Keys(all)) {
		p := all[name]
		if p.TargetLabel == "" {
			t.Errorf("%s: no target_label", name)
		}
		if p.Description == "" {
			t.Errorf("%s: no description", name)
		}
		check := func(where string, m config.ProfileMetric, tableLabels []string) {
			if !metricNameRE.MatchString(m.Name) {
				t.Errorf("%s: metric name %q", where, m.Name)
			}
			switch m.Type {
			case "counter":
				if !strings.HasSuffix(m.Name, "_total") {
					t.Errorf("%s: counter %s does not end in _total", where, m.Name)
				}
			case "gauge":
				if strings.HasSuffix(m.Name, "_total") {
					t.Errorf("%s: gauge %s ends in _total", where, m.Name)
				}
			default:
				t.Errorf("%s: type %q", where, m.Type)
			}
			if strings.Contains(m.Name, "bits") {
				t.Errorf("%s: %s: use base units (bytes), not bits", where, m.Name)
			}
			// The help names the MIB object it comes from.
			if !strings.Contains(m.Help, "MIB") {
				t.Errorf("%s: help of %s does not name its MIB object: %q", where, m.Name, m.Help)
			}
			for _, o := range append([]string{m.OID}, m.FallbackOIDs...) {
				if !oidRE.MatchString(o) {
					t.Errorf("%s: %s: OID %q is not numeric", where, m.Name, o)
				}
			}
			if m.Aggregate != "" && m.Aggregate != "sum" {
				t.Errorf("%s: aggregate %q", where, m.Aggregate)
			}
			for k := range m.Labels {
				if slices.Contains(tableLabels, k) || k == p.TargetLabel {
					t.Errorf("%s: constant label %q clashes with a row label", where, k)
				}
			}
			if f, ok := families[m.Name]; ok {
				if f.typ != m.Type || f.help != m.Help {
					t.Errorf("%s: %s differs in type or help from %s", where, m.Name, f.where)
				}
			} else {
				families[m.Name] = family{m.Type, m.Help, where}
			}
		}
		for i, m := range p.Scalars {
			if !strings.HasSuffix(m.OID, ".0") {
				t.Errorf("%s scalars[%d]: %s: scalar OID %s does not end in .0", name, i, m.Name, m.OID)
			}
			check(name+" scalars", m, nil)
		}
		for _, tb := range p.Tables {
			var labels []string
			for _, lb := range tb.Labels {
				labels = append(labels, lb.Name)
				for _, o := range append([]string{lb.OID}, lb.FallbackOIDs...) {
					if o != "" && !oidRE.MatchString(o) {
						t.Errorf("%s %s: label %s: OID %q is not numeric", name, tb.Name, lb.Name, o)
					}
				}
			}
			for _, m := range tb.Metrics {
				check(name+" "+tb.Name, m, labels)
			}
		}
	}
}

// TestMetricContract pins the DESIGN.md names, types and labels each profile owes.
func TestMetricContract(t *testing.T) {
	all := decodeAll(t)
	type want struct {
		profile, metric, typ string
		labels               []string // table labels, target label first
	}
	iface := []string{"target", "interface", "alias"}
	for _, w := range []want{
		{"if_mib", "meetnoc_interface_receive_bytes_total", "counter", iface},
		{"if_mib", "meetnoc_interface_transmit_bytes_total", "counter", iface},
		{"if_mib", "meetnoc_interface_receive_errors_total", "counter", iface},
		{"if_mib", "meetnoc_interface_transmit_errors_total", "counter", iface},
		{"if_mib", "meetnoc_interface_receive_discards_total", "counter", iface},
		{"if_mib", "meetnoc_interface_transmit_discards_total", "counter", iface},
		{"if_mib", "meetnoc_interface_up", "gauge", iface},
		{"if_mib", "meetnoc_interface_speed_bytes", "gauge", iface},
		{"cisco_wlc", "meetnoc_ap_up", "gauge", []string{"controller", "ap"}},
		{"cisco_wlc", "meetnoc_ap_clients", "gauge", []string{"controller", "ap"}},
		{"cisco_wlc", "meetnoc_ssid_clients", "gauge", []string{"controller", "ssid"}},
		{"aruba_wlc", "meetnoc_ap_up", "gauge", []string{"controller", "ap"}},
		{"aruba_wlc", "meetnoc_ap_clients", "gauge", []string{"controller", "ap"}},
		{"aruba_wlc", "meetnoc_ssid_clients", "gauge", []string{"controller", "ssid"}},
	} {
		p := all[w.profile]
		if p == nil {
			t.Errorf("no profile %s", w.profile)
			continue
		}
		if p.TargetLabel != w.labels[0] {
			t.Errorf("%s: target_label %q, want %q", w.profile, p.TargetLabel, w.labels[0])
		}
		found := false
		for _, tb := range p.Tables {
			for _, m := range tb.Metrics {
				if m.Name != w.metric {
					continue
				}
				found = true
				if m.Type != w.typ {
					t.Errorf("%s: %s is a %s, want %s", w.profile, w.metric, m.Type, w.typ)
				}
				var got []string
				for _, lb := range tb.Labels {
					got = append(got, lb.Name)
				}
				if !slices.Equal(got, w.labels[1:]) {
					t.Errorf("%s: %s has labels %v, want %v", w.profile, w.metric, got, w.labels[1:])
				}
			}
		}
		if !found {
			t.Errorf("%s: no %s", w.profile, w.metric)
		}
	}
}

// TestAPNamesAreText: an AP name or SSID must never come out as hex.
func TestAPNamesAreText(t *testing.T) {
	for _, name := range []string{"cisco_wlc", "aruba_wlc"} {
		p := decodeAll(t)[name]
		for _, tb := range p.Tables {
			for _, lb := range tb.Labels {
				if (lb.Name == "ap" || lb.Name == "ssid") && lb.Format != "text" {
					t.Errorf("%s %s: label %s has format %q, want text", name, tb.Name, lb.Name, lb.Format)
				}
			}
		}
	}
}

// TestConfigLoaderAcceptsProfiles runs the embedded profiles through the config
// loader's own defaults and validation.
func TestConfigLoaderAcceptsProfiles(t *testing.T) {
	cfg, err := config.LoadBytes([]byte("meeting: {name: test}\n"), "profiles-test.yml")
	if err != nil {
		t.Fatalf("config with only the embedded profiles: %v", err)
	}
	for _, want := range []string{"if_mib", "cisco_wlc", "aruba_wlc", "host"} {
		p := cfg.Profiles[want]
		if p == nil {
			t.Errorf("loader has no profile %s", want)
			continue
		}
		if p.File != "embedded:"+want+".yml" {
			t.Errorf("%s: File %q", want, p.File)
		}
	}
}
