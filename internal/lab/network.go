package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
)

// Options configure the lab network.
type Options struct {
	// Host is the address the agents listen on; default 127.0.0.1.
	Host string
	// BasePort is the first agent's UDP port; the others follow it in the order
	// of Devices, then the sFlow collector's and the DNS64 resolver's (UDP and
	// TCP, see DNSResolver). 0 gives each of them a random free port.
	BasePort int
	// Logger receives the agents' logs; default none.
	Logger *slog.Logger
	// Now is the clock every value is computed from; default time.Now.
	Now func() time.Time
	// SFlowCollector is where the access switches send sFlow (host:port). By
	// default Host at the port after the agents' (BasePort + number of
	// devices), or a free port when BasePort is 0; ConfigYAML listens there.
	SFlowCollector string
	// SFlowSampling is the access switches' sFlow sampling rate (1 in N);
	// default DefaultSFlowSampling.
	SFlowSampling uint32
	// NAT64Netns, when set, gives the lab a NAT64: a network namespace of
	// this name (DefaultNAT64Netns for `meetnoc lab`) holding Debian's TAYGA and
	// an IPv4-only web server behind it, which ConfigYAML's nat64_probes
	// target reaches. It needs root, iproute2 and TAYGA; Start fails without
	// them. Empty: no NAT64, and no nat64_probes in ConfigYAML.
	NAT64Netns string
	// Calm turns the scheduled faults off: no AP outage every quarter hour, no
	// rogue RAs, no DNS or NAT64 faults. The meeting day's rhythm stays, and
	// SetAPDown, SetRogueRA, SetDNSFault, SetNAT64Fault and Faults still work:
	// end-to-end tests start from a network that should fire no alert.
	Calm bool
}

// Device is one simulated device as a poller sees it.
type Device struct {
	Name     string
	Role     string   // RoleCore, RoleAccess or RoleWLC
	Room     string   // the area it sits in or serves: its targets' room label
	Address  string   // host:port of its agent
	Profiles []string // the meetnoc profiles that fit it
	Auth     string   // AuthV2c or AuthV3
}

// Network is the running lab: one SNMP agent per device, the access
// switches' sFlow agents and a DNS64 resolver.
type Network struct {
	model   *model
	agents  []*snmpagent.Agent
	faults  []*snmpagent.Faults
	devices []Device
	sflow   netip.AddrPort // where the access switches send sFlow
	// sampling is their sampling rate, 1 in sampling.
	sampling uint32
	dns      *dnsResolver
	dnsAddr  netip.AddrPort // the resolver's UDP and TCP address
	nat64    *nat64Box      // nil without Options.NAT64Netns
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	errs     []error
	mu       sync.Mutex
}

// Start builds the lab network and starts its agents. It returns once every agent
// is bound; they serve until ctx ends or Close.
func Start(ctx context.Context, opts Options) (*Network, error) {
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := newModel(opts.Now)
	if opts.Calm {
		m.calm()
	}
	ctx, cancel := context.WithCancel(ctx)
	n := &Network{model: m, cancel: cancel}
	for i, d := range m.devices {
		port := 0
		if opts.BasePort != 0 {
			port = opts.BasePort + i
		}
		cfg := snmpagent.Config{
			Addr:     net.JoinHostPort(opts.Host, strconv.Itoa(port)),
			MIB:      d.mib,
			EngineID: d.engineID,
			Logger:   opts.Logger.With("device", d.name),
			Faults:   &snmpagent.Faults{},
		}
		if d.v3 {
			cfg.Users = []snmpagent.User{{
				Name:           V3User,
				AuthProtocol:   gosnmp.SHA256,
				AuthPassphrase: V3AuthPassphrase,
				PrivProtocol:   gosnmp.AES,
				PrivPassphrase: V3PrivPassphrase,
			}}
		} else {
			cfg.Communities = []string{Community}
		}
		a, err := snmpagent.Listen(cfg)
		if err != nil {
			cancel()
			n.wg.Wait()
			return nil, fmt.Errorf("lab: %s: %w", d.name, err)
		}
		n.agents, n.faults = append(n.agents, a), append(n.faults, cfg.Faults)
		n.devices = append(n.devices, deviceInfo(d, a.Addr()))
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := a.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
				n.mu.Lock()
				n.errs = append(n.errs, fmt.Errorf("lab: %s: %w", d.name, err))
				n.mu.Unlock()
			}
		}()
	}
	if err := n.startSFlow(ctx, m, opts); err != nil {
		cancel()
		n.wg.Wait()
		return nil, err
	}
	if err := n.startDNS(ctx, m, opts); err != nil {
		cancel()
		n.wg.Wait()
		return nil, err
	}
	if opts.NAT64Netns != "" {
		if err := n.startNAT64(ctx, m, opts); err != nil {
			cancel()
			n.wg.Wait()
			return nil, err
		}
	}
	opts.Logger.Info("lab network started", "devices", len(n.devices), "first", n.devices[0].Address,
		"sflow_to", n.sflow.String(), "dns64", n.dnsAddr.String(), "nat64_netns", opts.NAT64Netns)
	return n, nil
}

// startSFlow starts the access switches' sFlow agents.
func (n *Network) startSFlow(ctx context.Context, m *model, opts Options) error {
	if opts.SFlowSampling == 0 {
		opts.SFlowSampling = DefaultSFlowSampling
	}
	collector, err := sflowCollectorAddr(opts, len(m.devices))
	if err != nil {
		return err
	}
	e, err := newSFlowExporter(m, opts.Now, opts.SFlowSampling, collector, opts.Logger.With("part", "sflow"))
	if err != nil {
		return err
	}
	if err := e.open(); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	n.sflow, n.sampling = collector, opts.SFlowSampling
	n.wg.Go(func() { e.run(ctx) })
	return nil
}

// SFlowCollector is where the access switches send sFlow: the listen address of
// ConfigYAML's sflow source.
func (n *Network) SFlowCollector() string { return n.sflow.String() }

// Devices lists the simulated devices, in the order of their ports.
func (n *Network) Devices() []Device {
	out := make([]Device, len(n.devices))
	for i, d := range n.devices {
		out[i] = d
		out[i].Profiles = append([]string(nil), d.Profiles...)
	}
	return out
}

// Restart reboots a device: its agent restarts (new engine boot), its sysUpTime
// and counters start again from zero, as when real gear reloads.
func (n *Network) Restart(name string) error {
	for i, d := range n.model.devices {
		if d.name == name {
			d.reboot()
			n.agents[i].Restart()
			return nil
		}
	}
	return fmt.Errorf("lab: no device %q", name)
}

// Faults returns the fault switches of the device named name (nil if there is
// none): tests make an agent drop requests, answer slowly, break GETBULK….
func (n *Network) Faults(name string) *snmpagent.Faults {
	for i, d := range n.model.devices {
		if d.name == name {
			return n.faults[i]
		}
	}
	return nil
}

// Agent returns the agent of the device named name, or nil.
func (n *Network) Agent(name string) *snmpagent.Agent {
	for i, d := range n.model.devices {
		if d.name == name {
			return n.agents[i]
		}
	}
	return nil
}

// Close stops every agent and waits for them.
func (n *Network) Close() error {
	n.cancel()
	n.wg.Wait()
	n.mu.Lock()
	defer n.mu.Unlock()
	return errors.Join(n.errs...)
}

// ConfigYAML is a complete meetnoc configuration that polls this network: the
// same as configs/lab.yml, with the agents' actual addresses.
func (n *Network) ConfigYAML() []byte {
	return configYAML(labConfig{
		devices: n.devices, sflow: n.sflow.String(), sampling: n.sampling,
		dns: n.dnsAddr.String(), nat64Netns: n.NAT64Netns(), note: runNote,
	})
}

// ServeRecording serves an snmpsim recording (.snmprec) at addr over SNMP v1/v2c
// with community, until ctx ends. It returns once the agent is bound; pass port 0
// in addr for a random one and read it from the agent's Addr.
func ServeRecording(ctx context.Context, addr, path, community string) (*snmpagent.Agent, error) {
	tree, err := snmpagent.LoadSnmprec(path)
	if err != nil {
		return nil, err
	}
	a, err := snmpagent.Listen(snmpagent.Config{Addr: addr, MIB: tree, Communities: []string{community}})
	if err != nil {
		return nil, err
	}
	go func() { _ = a.Serve(ctx) }()
	return a, nil
}
