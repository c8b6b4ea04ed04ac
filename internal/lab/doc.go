// Package lab is a simulated meeting network for demos, end-to-end tests and
// benchmarks: SNMP agents on loopback that answer v2c and v3 like the gear of an
// IETF-sized meeting — two core switches, four 48-port access switches, and a
// wireless controller with 40 APs on three SSIDs. The access switches export
// sFlow of the meeting's traffic mix (sflow.go), and a DNS64 resolver answers for
// ipv4only.arpa and meeting.test with faults at fixed minutes (dns.go).
//
// Every value is a function of a clock. Traffic and client counts follow one
// meeting day (see meetingday.go); counters are the exact integral of their rate
// since the device booted, so they never go back; one AP drops off its
// controller now and then. The same time gives the same values, which lets
// tests step through a day in milliseconds.
//
// Start runs the network; ConfigYAML is a meetnoc config that polls it, the same
// as configs/lab.yml. ServeRecording serves an snmpsim recording instead.
// NewSwitchMIB builds an access switch of the same model with any number of
// interfaces, for load tests and benchmarks.
//
// Only infrastructure appears here: device and AP names, locally administered
// MAC addresses of switches and APs, documentation prefixes. The sampled frames
// carry made-up client MACs and addresses from locally administered and
// documentation ranges, so that the daemon can be shown to keep them out of its
// output.
package lab
