// Command meetnoc is the monitoring daemon of a meeting network's NOC.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/daemon"
	"github.com/meetnoc/meetnoc/internal/lab"
)

// DefaultListenAddress is where /metrics and the status page are served.
const DefaultListenAddress = ":9723"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("meetnoc", "The monitoring daemon of a meeting network's NOC: SNMP, traffic, DNS → Prometheus.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	app.Terminate(nil)
	app.HelpFlag.Short('h')
	logCfg := &promslog.Config{Writer: stderr}
	promslogflag.AddFlags(app, logCfg)

	runCmd := app.Command("run", "Run the daemon.")
	runConfig := runCmd.Flag("config.file", "meetnoc configuration file.").Default("/etc/meetnoc/meetnoc.yml").String()
	runShard := runCmd.Flag("shard", "Poll only this share of the SNMP targets, i/n (1 ≤ i ≤ n): n daemons with the same config split the targets by a stable hash of their names.").Default("").String()
	runWeb := kingpinflag.AddFlags(runCmd, DefaultListenAddress)

	checkCmd := app.Command("check", "Validate a configuration file: exit 0, or print every error and exit 1.")
	checkFile := checkCmd.Arg("file", "configuration file").Required().String()

	classifyCmd, classifyOpts := addClassifyCommand(app)

	labCmd := app.Command("lab", "Start the simulated meeting network on loopback and the daemon monitoring it.")
	labNetworkOnly := labCmd.Flag("network-only", "Start only the simulated network (for tests and benchmarks), not the daemon.").Bool()
	labBasePort := labCmd.Flag("lab.base-port", "First UDP port of the simulated agents (configs/lab.yml expects 16101).").Default("16101").Int()
	labNAT64 := labCmd.Flag("lab.nat64", "Give the lab a NAT64 (TAYGA in a network namespace) for the NAT64 probe: on, off, or auto (on when running as root with ip and tayga installed).").
		Default("auto").Enum("auto", "on", "off")
	labCalm := labCmd.Flag("lab.calm", "No scheduled faults: no AP outage, rogue RAs, DNS or NAT64 faults; the meeting day's rhythm stays (for trying dashboards and alert rules on a healthy network).").Bool()
	// The lab is a demo on someone's laptop: its page stays on loopback unless asked.
	labWeb := kingpinflag.AddFlags(labCmd, "127.0.0.1"+DefaultListenAddress)

	reportCmd, reportOpts := addReportCommand(app)

	versionCmd := app.Command("version", "Print the version.")

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "meetnoc: %v (try --help)\n", err)
		return 2
	}
	if cmd == "" { // --help or --version: kingpin printed it
		return 0
	}
	logger := promslog.New(logCfg)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case runCmd.FullCommand():
		shard, err := config.ParseShard(*runShard)
		if err != nil {
			fmt.Fprintf(stderr, "meetnoc: --%v\n", err)
			return 2
		}
		return runDaemon(ctx, logger, *runConfig, shard, runWeb, stderr)
	case checkCmd.FullCommand():
		return check(*checkFile, stdout, stderr)
	case classifyCmd.FullCommand():
		return classify(ctx, logger, classifyOpts, stdout, stderr)
	case labCmd.FullCommand():
		return runLab(ctx, logger, labOptions{basePort: *labBasePort, networkOnly: *labNetworkOnly, nat64: *labNAT64, calm: *labCalm}, labWeb, stdout, stderr)
	case reportCmd.FullCommand():
		return runReport(ctx, reportOpts, stderr)
	case versionCmd.FullCommand():
		fmt.Fprintln(stdout, version.Print("meetnoc"))
		return 0
	}
	return 2
}

func runDaemon(ctx context.Context, logger *slog.Logger, configFile string, shard config.Shard, webCfg *web.FlagConfig, stderr io.Writer) int {
	logger.Info("starting meetnoc", "version", version.Info(), "build_context", version.BuildContext(), "config", configFile, "shard", shard)
	d, err := daemon.New(daemon.Options{ConfigFile: configFile, WebConfig: webCfg, Logger: logger, Shard: shard})
	if err != nil {
		fmt.Fprintf(stderr, "meetnoc: cannot start:\n%v\n", err)
		return 1
	}
	if err := d.Run(ctx); err != nil {
		logger.Error("meetnoc stopped with an error", "err", err)
		return 1
	}
	return 0
}

func check(file string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(file)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
			fmt.Fprintf(stderr, "%s: %d error(s)\n", file, len(errs))
		} else {
			fmt.Fprintf(stderr, "%s: %v\n", file, err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d SSIDs, %d SNMP targets, %d profiles, %d traffic sources, %d DNS resolvers × %d checks, %d NAT64 targets, %d netlink interfaces)\n",
		file, len(cfg.SSIDs), len(cfg.SNMP.Targets), len(cfg.Profiles), len(cfg.Traffic.Sources), len(cfg.DNS.Resolvers), len(cfg.DNS.Checks),
		len(cfg.NAT64Probes.Targets), len(cfg.Netlink.Interfaces))
	return 0
}

// labOptions are the lab command's flags.
type labOptions struct {
	basePort    int
	networkOnly bool
	nat64       string // auto, on or off
	calm        bool   // no scheduled faults
}

// runLab starts the simulated meeting network and, unless networkOnly, the daemon on
// the config the network generates (identical to configs/lab.yml at the default base
// port), written to a temporary file so that edits + `kill -HUP` work as in production.
func runLab(ctx context.Context, logger *slog.Logger, o labOptions, webCfg *web.FlagConfig, stdout, stderr io.Writer) int {
	opts := lab.Options{BasePort: o.basePort, Calm: o.calm, Logger: logger.With("component", "lab")}
	if o.nat64 == "on" || o.nat64 == "auto" && lab.NAT64Available() == nil {
		opts.NAT64Netns = labNAT64Netns(o.basePort)
	} else if o.nat64 == "auto" {
		logger.Info("the lab has no NAT64, so no NAT64 probe", "reason", lab.NAT64Available())
	}
	network, err := lab.Start(ctx, opts)
	if err != nil && o.nat64 == "auto" && opts.NAT64Netns != "" {
		logger.Warn("cannot give the lab a NAT64; starting it without", "err", err)
		opts.NAT64Netns = ""
		network, err = lab.Start(ctx, opts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "meetnoc lab: cannot start the simulated network: %v\n", err)
		return 1
	}
	defer network.Close()
	fmt.Fprintln(stdout, "Simulated meeting network on loopback:")
	for _, dev := range network.Devices() {
		fmt.Fprintf(stdout, "  %-8s %-7s snmp://%s  (%s; profiles %s)\n", dev.Name, dev.Role, dev.Address, dev.Auth, strings.Join(dev.Profiles, ", "))
	}
	fmt.Fprintf(stdout, "  access switches export sFlow of the meeting's traffic to udp://%s\n", network.SFlowCollector())
	fmt.Fprintf(stdout, "  DNS64 resolver at %s (UDP and TCP)\n", network.DNSResolver())
	if ns := network.NAT64Netns(); ns != "" {
		fmt.Fprintf(stdout, "  NAT64 (TAYGA) in network namespace %s: %s behind %s (try `ip netns exec %s curl http://%s/`)\n",
			ns, lab.NAT64Target(), lab.NAT64Prefix(), ns, lab.NAT64Synthesized())
	}
	if o.networkOnly {
		fmt.Fprintln(stdout, "Network only (--network-only); Ctrl-C stops it.")
		<-ctx.Done()
		return 0
	}

	dir, err := os.MkdirTemp("", "meetnoc-lab-")
	if err != nil {
		fmt.Fprintf(stderr, "meetnoc lab: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	cfgFile := filepath.Join(dir, "lab.yml")
	if err := os.WriteFile(cfgFile, network.ConfigYAML(), 0o600); err != nil {
		fmt.Fprintf(stderr, "meetnoc lab: %v\n", err)
		return 1
	}
	d, err := daemon.New(daemon.Options{ConfigFile: cfgFile, WebConfig: webCfg, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "meetnoc lab: cannot start the daemon:\n%v\n", err)
		return 1
	}
	for _, addr := range *webCfg.WebListenAddresses {
		base := "http://" + browsable(addr)
		fmt.Fprintf(stdout, "\nmeetnoc is monitoring it (config %s):\n  status page  %s/\n  metrics      %s/metrics\nCtrl-C stops both.\n", cfgFile, base, base)
	}
	if err := d.Run(ctx); err != nil {
		logger.Error("meetnoc stopped with an error", "err", err)
		return 1
	}
	return 0
}

// labNAT64Netns names the lab's NAT64 namespace: the one configs/lab.yml
// names at the default ports, one per base port otherwise, so that two labs
// do not take each other's.
func labNAT64Netns(basePort int) string {
	switch basePort {
	case lab.DefaultBasePort:
		return lab.DefaultNAT64Netns
	case 0:
		return fmt.Sprintf("%s-pid%d", lab.DefaultNAT64Netns, os.Getpid())
	}
	return fmt.Sprintf("%s-%d", lab.DefaultNAT64Netns, basePort)
}

// browsable turns a listen address (":9723") into one a browser can open.
func browsable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
