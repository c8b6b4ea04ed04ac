// Package alerts holds meetnoc's Prometheus rules: the alerting rules a NOC is
// paged by and the recording rules its dashboards read (the IPv6 and NAT64
// share per SSID), one file per area, with their promtool unit tests in
// tests/ and an example Alertmanager configuration beside them. The rule
// files are embedded so that the end-to-end test loads exactly what ships.
package alerts

import (
	"embed"
	"io/fs"
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
