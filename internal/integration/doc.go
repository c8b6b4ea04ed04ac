// Package integration tests meetnoc's SNMP poller end to end against real agents:
// Debian's net-snmp snmpd (v2c, v3 authPriv, IPv4 and IPv6) and snmpsim serving
// recordings of real devices (../shared/testdata/snmprec) and recordings the project
// wrote (collectors/snmp/testdata). Configs are YAML text loaded through the config
// loader, so the loader, the embedded profiles and the poller are tested together.
//
// Expected values are read from the recordings by the tests themselves
// (testenv.ReadSnmprec), independently of the poller's decoding. Faults (agent down
// or restarted, wrong credentials, timeouts, views that cut walks short, 1,000
// interfaces) each check the failing target's result and message and that a healthy
// target keeps polling. The package has no non-test code.
package integration
