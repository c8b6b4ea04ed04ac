// Command exporterconfig writes an snmp.yml for Prometheus' snmp_exporter 0.21
// (Debian's prometheus-snmp-exporter, whose package ships an empty one) with one
// module that fetches what a meetnoc profile fetches: the same GET of
// sysUpTime.0, the same table columns walked with the same max-repetitions and
// community, the same columns turned into index labels by lookups. The
// benchmark polls one agent with both tools through it.
//
// The format is 0.21's: the module names are the file's top-level keys (the
// "modules:" and "auths:" sections came in 0.23), each module holding walk, get,
// metrics (name, oid, type, help, indexes, lookups) and the walk parameters
// version, max_repetitions, retries, timeout and auth. A lookup without labels
// deletes a label, which is what the generator writes for drop_source_indexes.
//
//	exporterconfig -profile if_mib -out snmp.yml
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/meetnoc/meetnoc/internal/config"
)

// objectNames are the MIB object names of the OIDs the benchmarked profile
// reads, for the exporter's metric names (what its generator would call them).
var objectNames = map[string]string{
	"1.3.6.1.2.1.1.3":         "sysUpTime",
	"1.3.6.1.2.1.2.2.1.2":     "ifDescr",
	"1.3.6.1.2.1.2.2.1.5":     "ifSpeed",
	"1.3.6.1.2.1.2.2.1.7":     "ifAdminStatus",
	"1.3.6.1.2.1.2.2.1.8":     "ifOperStatus",
	"1.3.6.1.2.1.2.2.1.10":    "ifInOctets",
	"1.3.6.1.2.1.2.2.1.11":    "ifInUcastPkts",
	"1.3.6.1.2.1.2.2.1.13":    "ifInDiscards",
	"1.3.6.1.2.1.2.2.1.14":    "ifInErrors",
	"1.3.6.1.2.1.2.2.1.16":    "ifOutOctets",
	"1.3.6.1.2.1.2.2.1.17":    "ifOutUcastPkts",
	"1.3.6.1.2.1.2.2.1.19":    "ifOutDiscards",
	"1.3.6.1.2.1.2.2.1.20":    "ifOutErrors",
	"1.3.6.1.2.1.31.1.1.1.1":  "ifName",
	"1.3.6.1.2.1.31.1.1.1.2":  "ifInMulticastPkts",
	"1.3.6.1.2.1.31.1.1.1.3":  "ifInBroadcastPkts",
	"1.3.6.1.2.1.31.1.1.1.4":  "ifOutMulticastPkts",
	"1.3.6.1.2.1.31.1.1.1.5":  "ifOutBroadcastPkts",
	"1.3.6.1.2.1.31.1.1.1.6":  "ifHCInOctets",
	"1.3.6.1.2.1.31.1.1.1.7":  "ifHCInUcastPkts",
	"1.3.6.1.2.1.31.1.1.1.8":  "ifHCInMulticastPkts",
	"1.3.6.1.2.1.31.1.1.1.9":  "ifHCInBroadcastPkts",
	"1.3.6.1.2.1.31.1.1.1.10": "ifHCOutOctets",
	"1.3.6.1.2.1.31.1.1.1.11": "ifHCOutUcastPkts",
	"1.3.6.1.2.1.31.1.1.1.12": "ifHCOutMulticastPkts",
	"1.3.6.1.2.1.31.1.1.1.13": "ifHCOutBroadcastPkts",
	"1.3.6.1.2.1.31.1.1.1.15": "ifHighSpeed",
	"1.3.6.1.2.1.31.1.1.1.18": "ifAlias",
}

// The snmp_exporter 0.21 configuration types (config/config.go at v0.21.0), in
// the order its generator writes their keys.
type (
	module struct {
		Walk           []string  `yaml:"walk,omitempty"`
		Get            []string  `yaml:"get,omitempty"`
		Metrics        []*metric `yaml:"metrics"`
		Version        int       `yaml:"version"`
		MaxRepetitions uint32    `yaml:"max_repetitions"`
		Retries        int       `yaml:"retries"`
		Timeout        string    `yaml:"timeout"`
		Auth           auth      `yaml:"auth"`
	}
	auth struct {
		Community string `yaml:"community"`
	}
	metric struct {
		Name    string    `yaml:"name"`
		OID     string    `yaml:"oid"`
		Type    string    `yaml:"type"`
		Help    string    `yaml:"help"`
		Indexes []*index  `yaml:"indexes,omitempty"`
		Lookups []*lookup `yaml:"lookups,omitempty"`
	}
	index struct {
		Labelname string `yaml:"labelname"`
		Type      string `yaml:"type"`
	}
	lookup struct {
		Labels    []string `yaml:"labels"`
		Labelname string   `yaml:"labelname"`
		OID       string   `yaml:"oid,omitempty"`
		Type      string   `yaml:"type,omitempty"`
	}
)

const sysUpTime = "1.3.6.1.2.1.1.3"

func main() {
	profile := flag.String("profile", "if_mib", "meetnoc profile to mirror (embedded or from -profile.file)")
	profileFile := flag.String("profile.file", "", "a profile YAML file instead of the embedded one")
	name := flag.String("module", "if_mib", "snmp_exporter module name")
	community := flag.String("community", "public", "SNMP v2c community")
	maxRep := flag.Uint("max-repetitions", 25, "GETBULK max-repetitions (meetnoc's default is 25)")
	retries := flag.Int("retries", 1, "retries per request, as in the meetnoc config it is compared with")
	timeout := flag.String("timeout", "5s", "timeout per request, as in the meetnoc config it is compared with")
	out := flag.String("out", "", "file to write; default stdout")
	flag.Parse()

	p, err := loadProfile(*profile, *profileFile)
	if err == nil {
		var m *module
		m, err = build(p, *community, uint32(*maxRep), *retries, *timeout)
		if err == nil {
			err = write(*out, *name, p, m)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "exporterconfig:", err)
		os.Exit(1)
	}
}

// loadProfile goes through config.LoadBytes, so that the profile is read and
// validated exactly as meetnoc reads it.
func loadProfile(name, file string) (*config.Profile, error) {
	src := "{}\n"
	if file != "" {
		src = fmt.Sprintf("snmp:\n  profile_files: [%q]\n", file)
	}
	cfg, err := config.LoadBytes([]byte(src), "exporterconfig.yml")
	if err != nil {
		return nil, err
	}
	p := cfg.Profiles[name]
	if p == nil {
		return nil, fmt.Errorf("no profile %q", name)
	}
	return p, nil
}

// build mirrors the profile. meetnoc walks the first OID of every table metric
// and label and reads a fallback column only for rows where the first one has
// no cell; snmp_exporter has no such fallback, so the module walks the first
// OIDs only: on an agent that has them all, both tools fetch the same columns.
func build(p *config.Profile, community string, maxRep uint32, retries int, timeout string) (*module, error) {
	if len(p.Scalars) > 0 {
		return nil, fmt.Errorf("profile %q has scalars; only table profiles are mirrored", p.Name)
	}
	m := &module{
		// meetnoc GETs sysUpTime.0 in every poll, to notice agent restarts.
		Get:            []string{sysUpTime + ".0"},
		Version:        2,
		MaxRepetitions: maxRep,
		Retries:        retries,
		Timeout:        timeout,
		Auth:           auth{Community: community},
	}
	m.Metrics = append(m.Metrics, &metric{
		Name: "sysUpTime", OID: sysUpTime, Type: "gauge",
		Help: "The time (in hundredths of a second) since the network management portion of the system was last re-initialized. - " + sysUpTime,
	})
	walk := func(oid string) error {
		oid = strings.TrimPrefix(oid, ".")
		if objectNames[oid] == "" {
			return fmt.Errorf("OID %s has no object name in this tool's table; add it", oid)
		}
		if !slices.Contains(m.Walk, oid) {
			m.Walk = append(m.Walk, oid)
		}
		return nil
	}
	for _, t := range p.Tables {
		var lookups []*lookup
		for _, l := range t.Labels {
			if l.OID == "" || l.IndexPrefix != 0 || len(l.ValueMap) > 0 || l.Format != "" && l.Format != "text" {
				return nil, fmt.Errorf("table %q: label %q is not a plain text lookup by the whole index", t.Name, l.Name)
			}
			if err := walk(l.OID); err != nil {
				return nil, err
			}
			lookups = append(lookups, &lookup{Labels: []string{"ifIndex"}, Labelname: l.Name, OID: strings.TrimPrefix(l.OID, "."), Type: "DisplayString"})
		}
		// meetnoc's rows carry the looked-up names, not the index.
		lookups = append(lookups, &lookup{Labels: []string{}, Labelname: "ifIndex"})
		for _, pm := range t.Metrics {
			oid := strings.TrimPrefix(pm.OID, ".")
			if err := walk(oid); err != nil {
				return nil, err
			}
			typ := "gauge"
			if pm.Type == "counter" {
				typ = "counter"
			}
			m.Metrics = append(m.Metrics, &metric{
				Name: objectNames[oid], OID: oid, Type: typ, Help: pm.Help + " - " + oid,
				Indexes: []*index{{Labelname: "ifIndex", Type: "gauge"}},
				Lookups: lookups,
			})
		}
	}
	return m, nil
}

func write(path, name string, p *config.Profile, m *module) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# snmp_exporter 0.21 configuration generated by meetnoc's bench/snmp/exporterconfig\n")
	fmt.Fprintf(&buf, "# from meetnoc's %q profile (%s): the same GET and walked columns.\n", p.Name, p.File)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]*module{name: m}); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if path == "" {
		_, err := os.Stdout.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
