package config

// A Profile tells the SNMP poller what to fetch from one kind of device and how to
// turn it into metrics. Profiles are YAML: the embedded ones live in
// collectors/snmp/profiles/, users add their own through snmp.profile_files.
//
//	name: if_mib
//	target_label: target            # label naming the polled device (cisco_wlc: controller)
//	scalars:                        # fetched by GET
//	  - {name: meetnoc_host_memory_total_bytes, help: …, type: gauge, oid: 1.3.6.1.4.1.2021.4.5.0, scale: 1024}
//	tables:                         # every column fetched by a GETBULK walk
//	  - name: interfaces
//	    labels:
//	      - {name: interface, oid: 1.3.6.1.2.1.31.1.1.1.1, fallback_oids: [1.3.6.1.2.1.2.2.1.2]}
//	      - {name: alias, oid: 1.3.6.1.2.1.31.1.1.1.18}
//	    metrics:
//	      - {name: meetnoc_interface_receive_bytes_total, type: counter,
//	         oid: 1.3.6.1.2.1.31.1.1.1.6, fallback_oids: [1.3.6.1.2.1.2.2.1.10]}
//	      - {name: meetnoc_interface_up, type: gauge, oid: 1.3.6.1.2.1.2.2.1.8,
//	         value_map: {1: 1, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0}}
type Profile struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// TargetLabel is the name of the label that carries the target's name on this
	// profile's metrics: "target" (default) or e.g. "controller".
	TargetLabel string          `yaml:"target_label"`
	Scalars     []ProfileMetric `yaml:"scalars"`
	Tables      []ProfileTable  `yaml:"tables"`

	// File is where the profile came from ("embedded:if_mib.yml" or a path).
	File string `yaml:"-"`
}

// ProfileTable is one conceptual table: metrics from columns that share an index, and
// labels that every row of it carries.
type ProfileTable struct {
	Name    string          `yaml:"name"`
	Labels  []ProfileLabel  `yaml:"labels"`
	Metrics []ProfileMetric `yaml:"metrics"`
}

// ProfileLabel gives each row of a table a label value, by one of two means:
//   - OID set: the value of that column at the row's index (or at the first
//     IndexPrefix sub-identifiers of it, to look a row up in a parent table: a
//     radio row indexed by AP MAC + slot takes its AP's name from bsnAPName
//     indexed by the MAC). FallbackOIDs are tried in order where the cell is missing.
//   - OID empty: the value is decoded from the row's index itself
//     (sub-identifiers IndexPrefix… in Format).
//
// Where no source yields a value, the label is the row's index in dotted form.
type ProfileLabel struct {
	Name         string   `yaml:"name"`
	OID          string   `yaml:"oid"`
	FallbackOIDs []string `yaml:"fallback_oids"`
	// IndexPrefix, when non-zero, uses only the first IndexPrefix sub-identifiers
	// of the row index for the lookup (or, without OID, for decoding).
	IndexPrefix int `yaml:"index_prefix"`
	// Format of the value: text (default: OCTET STRING as UTF-8 text, never hex;
	// bytes that are not printable are dropped), mac (aa:bb:cc:dd:ee:ff), hex,
	// ipaddr, int (numbers as decimal), index (the dotted index).
	Format string `yaml:"format"`
	// ValueMap maps raw values (as decimal text, e.g. an enum) to label values.
	ValueMap map[string]string `yaml:"value_map"`
}

// ProfileMetric is one metric: a scalar (OID ends in .0, fetched by GET) or a table
// column (walked).
type ProfileMetric struct {
	Name string `yaml:"name"`
	Help string `yaml:"help"`
	Type string `yaml:"type"` // counter or gauge
	OID  string `yaml:"oid"`
	// FallbackOIDs are read for a row where OID has no value (the 32-bit ifInOctets
	// where ifHCInOctets is missing). Scalars try them in order too.
	FallbackOIDs []string `yaml:"fallback_oids"`
	// Scale multiplies the raw value (ifHighSpeed in Mbit/s × 125000 = bytes/s).
	// Default 1.
	Scale float64 `yaml:"scale"`
	// ValueMap maps raw integer values (enums) to exported values; a raw value not
	// in the map drops the sample (an unknown status is not a number to export).
	ValueMap map[int64]float64 `yaml:"value_map"`
	// Aggregate "sum" adds up rows that end with the same label set (per-radio
	// client counts summed per AP; WLANs that share an SSID summed per SSID).
	Aggregate string `yaml:"aggregate"`
	// HoldMissing keeps exporting a row that vanished from the table while the
	// agent still answers, with value MissingValue, for snmp.ap_missing_hold.
	// For AireOS, which drops a dead AP from bsnAPTable instead of marking it down.
	HoldMissing  bool    `yaml:"hold_missing"`
	MissingValue float64 `yaml:"missing_value"`
	// Labels are constant labels added to this metric (e.g. {mode: user}).
	Labels map[string]string `yaml:"labels"`
}
