// Package alerts holds meetnoc's Prometheus rules: the alerting rules a NOC is
// paged by and the recording rules its dashboards read (the IPv6 and NAT64
// share per SSID), one file per area, with their promtool unit tests in
// tests/ and an example Alertmanager configuration beside them. The rule
// files are embedded so that the end-to-end test loads exactly what ships.
package alerts

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"

	"gopkg.in/yaml.v3"
)

// Files holds the rule files (*.rules.yml), at its root.
//
//go:embed *.rules.yml
var Files embed.FS

// RuleFiles returns the names of the rule files in Files, sorted.
func RuleFiles() []string {
	entries, err := fs.ReadDir(Files, ".")
	if err != nil {
		panic(err) // the root of an embed.FS always reads
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

// Rule is one rule of a rule file, as Prometheus reads it.
type Rule struct {
	File, Group string            `yaml:"-"`
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         *string           `yaml:"for"` // nil when absent
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Rules parses every rule file in Files strictly (an unknown key is an
// error), in file and rule order.
func Rules() ([]Rule, error) {
	var out []Rule
	for _, name := range RuleFiles() {
		b, err := Files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var f struct {
			Groups []struct {
				Name     string `yaml:"name"`
				Interval string `yaml:"interval"`
				Rules    []Rule `yaml:"rules"`
			} `yaml:"groups"`
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				r.File, r.Group = name, g.Name
				out = append(out, r)
			}
		}
	}
	return out, nil
}
