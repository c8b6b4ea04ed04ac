// Command harness runs the measurements of meetnoc's SNMP benchmark
// (bench/snmp/run.sh drives it):
//
//	harness compare   poll the same agents with meetnoc and snmp_exporter, interleaved,
//	                  through counting UDP relays; CPU from /proc/PID/stat of each tool
//	harness scale     watch one `meetnoc run` polling many agents: CPU %, RSS, /metrics latency
//	harness freeport  print a free UDP port on 127.0.0.1 (for snmpsimd, which needs one)
//
// Each prints a Markdown section on stdout. The harness's own work (relaying,
// decoding, HTTP) runs in this process, outside the processes it measures.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: harness compare|scale|freeport [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "compare":
		err = compareMain(os.Args[2:])
	case "scale":
		err = scaleMain(os.Args[2:])
	case "freeport":
		err = freeUDPPort()
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

func freeUDPPort() error {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println(c.LocalAddr().(*net.UDPAddr).Port)
	return nil
}
