package profiles_test

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/meetnoc/meetnoc/internal/config"
)

var update = flag.Bool("update", false, "rewrite docs/profiles.md from the embedded profiles")

// docs/profiles.md is generated from the embedded profiles, so the reference a NOC
// engineer reads is what the binary does. Regenerate with
// go test ./collectors/snmp/profiles -run TestProfilesDoc -update
func TestProfilesDoc(t *testing.T) {
	cfg, err := config.LoadBytes([]byte("snmp: {}\n"), "doc.yml")
	if err != nil {
		t.Fatal(err)
	}
	got := profilesDoc(cfg.Profiles)
	const file = "../../../docs/profiles.md"
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("docs/profiles.md is out of date with the embedded profiles; regenerate it:\n  go test ./collectors/snmp/profiles -run TestProfilesDoc -update")
	}
}

func profilesDoc(profiles map[string]*config.Profile) string {
	var b strings.Builder
	b.WriteString("# Built-in SNMP profiles\n\n")
	b.WriteString("Generated from `collectors/snmp/profiles/*.yml` by\n")
	b.WriteString("`go test ./collectors/snmp/profiles -run TestProfilesDoc -update`; do not edit by hand.\n")
	b.WriteString("The schema is documented in `internal/config/profile.go`. Every metric also carries the\n")
	b.WriteString("profile's target label, which names the polled device.\n")
	for _, name := range slices.Sorted(maps.Keys(profiles)) {
		p := profiles[name]
		fmt.Fprintf(&b, "\n## `%s`\n\n%s\n\nTarget label: `%s`.\n\n", p.Name, p.Description, p.TargetLabel)
		b.WriteString("| metric | type | labels | OID (fallbacks) | help |\n|---|---|---|---|---|\n")
		row := func(m config.ProfileMetric, labels []string) {
			for _, k := range slices.Sorted(maps.Keys(m.Labels)) {
				labels = append(labels, fmt.Sprintf("%s=%q", k, m.Labels[k]))
			}
			oids := m.OID
			if len(m.FallbackOIDs) > 0 {
				oids += " (" + strings.Join(m.FallbackOIDs, ", ") + ")"
			}
			extra := ""
			if len(m.ValueMap) > 0 {
				var pairs []string
				for _, k := range slices.Sorted(maps.Keys(m.ValueMap)) {
					pairs = append(pairs, fmt.Sprintf("%d→%g", k, m.ValueMap[k]))
				}
				extra += " Raw values mapped " + strings.Join(pairs, ", ") + "; others dropped."
			}
			if m.Scale != 1 {
				extra += fmt.Sprintf(" Scaled by %g.", m.Scale)
			}
			if m.Aggregate != "" {
				extra += " Rows summed per label set."
			}
			if m.HoldMissing {
				extra += fmt.Sprintf(" A row that vanishes is held at %g for `snmp.ap_missing_hold`.", m.MissingValue)
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s%s |\n", m.Name, m.Type, strings.Join(labels, ", "), oids,
				strings.ReplaceAll(strings.TrimSpace(m.Help), "|", "\\|"), extra)
		}
		for _, m := range p.Scalars {
			row(m, nil)
		}
		for _, tb := range p.Tables {
			var labels []string
			for _, l := range tb.Labels {
				labels = append(labels, l.Name)
			}
			for _, m := range tb.Metrics {
				row(m, slices.Clone(labels))
			}
		}
	}
	return b.String()
}
