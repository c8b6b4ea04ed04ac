// Package profiles holds the SNMP device profiles built into meetnoc: one YAML file
// per kind of device (see internal/config.Profile for the schema). They are embedded
// so that the binary is all a NOC needs; users add or replace profiles through
// snmp.profile_files.
package profiles

import "embed"

// FS holds every *.yml profile of this directory.
//
//go:embed *.yml
var FS embed.FS
