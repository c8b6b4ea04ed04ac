package traffic

// The sflow source: an sFlow v5 collector on a UDP port. Switches sample one
// frame in N on their ports and send the sampled headers here; each header is
// classified as a captured frame would be, weighted by its sampling rate, and
// its SSID taken from the sample's extended switch record when the switch
// stripped the tag (see ClassifySFlow).
//
// Agents are accepted by the datagram's UDP source address, not by the agent
// address inside it: the agent address is whatever the switch was configured
// to write (often a loopback or management address that is not the one it sends
// from), and anyone can write anything there, while the UDP source is where the
// datagram came from (on a management network that filters spoofed sources).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// SourceTypeSFlow is the type of an sFlow v5 listener source.
const SourceTypeSFlow = "sflow"

func init() { newSourceFuncs[SourceTypeSFlow] = newSFlowSource }

const (
	// sflowReceiveBuffer is the socket receive buffer asked for: about 3,000
	// datagrams of 1,400 bytes, so that a burst from all switches at once
	// waits in the kernel while the one reader is busy rather than being dropped.
	sflowReceiveBuffer = 4 << 20
	// sflowMaxDatagram is the largest UDP payload; agents stay under the MTU,
	// but the buffer takes anything so that no datagram is silently cut.
	sflowMaxDatagram = 65535
	// sflowIdle is the read deadline: with no datagram for this long the
	// worker still hands its counts over and the clock moves on.
	sflowIdle = 500 * time.Millisecond
	// sflowMaxDataSources bounds the (agent, sub-agent, data source) flow
	// sample sequences tracked; ~50 switches × 52 ports use a twentieth of it.
	// Samples of sources beyond it are counted, but their losses are not.
	sflowMaxDataSources = 1 << 16
	// sflowWarnEvery spaces the warnings about malformed datagrams and foreign
	// senders: one is enough to act on, and a broken agent sends thousands.
	sflowWarnEvery = time.Minute
)

type sflowListenSource struct {
	env    sourceEnv
	listen netip.AddrPort
	agents []netip.Prefix
	// bound, when set, is told the address the socket got (port 0 picks one).
	bound func(netip.AddrPort)
}

func newSFlowSource(env sourceEnv) (source, error) {
	ap, err := netip.ParseAddrPort(env.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("sflow source: listen address %q: %w", env.cfg.Listen, err)
	}
	agents := make([]netip.Prefix, 0, len(env.cfg.Agents))
	for _, p := range env.cfg.Agents {
		if !p.IsValid() {
			return nil, fmt.Errorf("sflow source: invalid agent prefix %v", p)
		}
		agents = append(agents, p.Masked())
	}
	return &sflowListenSource{env: env, listen: ap, agents: agents}, nil
}

// run listens until ctx ends. Failing to bind is returned at once (the engine
// retries); once bound, nothing an agent sends stops it.
func (s *sflowListenSource) run(ctx context.Context) error {
	// "udp" on an unspecified IPv6 address ([::]) is a dual-stack socket: IPv4
	// agents arrive as ::ffff:a.b.c.d and are unmapped before the agents check.
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(s.listen))
	if err != nil {
		return err
	}
	defer conn.Close()
	s.setReceiveBuffer(conn)
	if s.bound != nil {
		s.bound(conn.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	s.env.logger.Info("sFlow listener started", "listen", conn.LocalAddr().String(), "agents", prefixList(s.agents))

	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	l := newSFlowListener(s.env, s.agents)
	defer l.w.Flush(s.env.now())
	buf := make([]byte, sflowMaxDatagram)
	var deadline time.Time // wall clock, whatever env.now says
	for {
		// Moving the deadline costs a timer update; doing it every half
		// interval rather than per datagram keeps the idle hand-over within
		// 500 ms either way.
		if t := time.Now(); deadline.Sub(t) < sflowIdle/2 {
			deadline = t.Add(sflowIdle)
			if err := conn.SetReadDeadline(deadline); err != nil && ctx.Err() == nil {
				return err
			}
		}
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				l.w.Publish(s.env.now())
				continue
			}
			return err
		}
		l.datagram(buf[:n], from.Addr().Unmap(), s.env.now())
	}
}

// setReceiveBuffer asks for sflowReceiveBuffer and says so when the kernel
// caps it (Linux: net.core.rmem_max), since that is where bursts get lost.
func (s *sflowListenSource) setReceiveBuffer(conn *net.UDPConn) {
	if err := conn.SetReadBuffer(sflowReceiveBuffer); err != nil {
		s.env.logger.Warn("cannot set the socket receive buffer", "bytes", sflowReceiveBuffer, "err", err)
		return
	}
	if limit, ok := rmemMax(); ok && limit < sflowReceiveBuffer {
		s.env.logger.Warn("the kernel caps socket receive buffers below what the sFlow listener asks for; bursts may be dropped (raise sysctl net.core.rmem_max)",
			"asked_bytes", sflowReceiveBuffer, "net.core.rmem_max", limit)
	}
}

// rmemMax reads Linux's cap on SO_RCVBUF; ok is false elsewhere.
func rmemMax() (int, bool) {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil
}

func prefixList(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "any"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// sflowListener is the per-datagram state of one listener goroutine: its
// worker, the sequence trackers, and the counts not yet in the source's stats.
// Handling a datagram of known agents and data sources does not allocate.
type sflowListener struct {
	env    sourceEnv
	agents []netip.Prefix
	w      *Worker

	datagrams *SequenceTracker
	sources   map[sflowDataSource]sflowSampleState

	// walk is bound once, so that no closure is made per datagram; it records
	// the datagram's flow samples in samples (reused) for the loss accounting,
	// which needs the agent address that WalkSFlow returns only at the end.
	walk    func(SampledHeader)
	headers uint64
	samples []sflowSampleSeen

	warnedMalformed, warnedForeign         time.Time
	suppressedMalformed, suppressedForeign uint64
}

// sflowDataSource is one numbering space of flow samples: an agent's data
// source (sFlow v5: sequence numbers are kept per source_id).
type sflowDataSource struct {
	agent              netip.Addr
	subAgent           uint32
	sourceType, source uint32
}

type sflowSampleState struct {
	sequence, drops, uptime uint32
}

type sflowSampleSeen struct {
	sequence, sourceType, source, drops uint32
}

func newSFlowListener(env sourceEnv, agents []netip.Prefix) *sflowListener {
	l := &sflowListener{
		env: env, agents: agents, w: env.newWorker(),
		datagrams: NewSequenceTracker(sflowMaxSources),
		sources:   make(map[sflowDataSource]sflowSampleState),
	}
	l.walk = func(h SampledHeader) {
		l.headers++
		// A sample with several headers (rare) is one sample for the losses.
		if n := len(l.samples); n == 0 || l.samples[n-1] != (sflowSampleSeen{h.SequenceNumber, h.SourceIDType, h.SourceIDIndex, h.Drops}) {
			l.samples = append(l.samples, sflowSampleSeen{h.SequenceNumber, h.SourceIDType, h.SourceIDIndex, h.Drops})
		}
		if h.Protocol != SFlowHeaderProtocolEthernet {
			return
		}
		l.w.Frame(h.Header, int(h.FrameLength), uint64(max(h.SamplingRate, 1)), h.VLAN())
	}
	return l
}

// datagram takes one datagram from UDP source from, received at now.
func (l *sflowListener) datagram(b []byte, from netip.Addr, now time.Time) {
	stats := l.env.stats
	if !l.accepted(from) {
		stats.foreign.Add(1)
		l.warnForeign(from, now)
		return
	}
	l.headers = 0
	l.samples = l.samples[:0]
	d, err := WalkSFlow(b, l.walk)
	// The header was read when it declared samples or the walk succeeded: then
	// the datagram is in its agent's sequence even if a sample is bad, and
	// must not look lost.
	if err == nil || d.Samples > 0 {
		if lost := l.datagrams.Observe(d); lost > 0 {
			stats.lostDatagrams.Add(uint64(lost))
		}
		lostSamples, agentDrops := l.sampleLosses(d)
		if lostSamples+agentDrops > 0 {
			stats.dropped.Add(lostSamples + agentDrops)
		}
		if agentDrops > 0 {
			stats.agentDrops.Add(agentDrops)
		}
		stats.agents.Store(int64(l.datagrams.Stats().Sources))
	}
	if err != nil {
		stats.malformed.Add(1)
		l.warnMalformed(from, d, err, now)
	} else {
		stats.datagrams.Add(1)
	}
	if l.headers > 0 {
		stats.packets.Add(l.headers)
		stats.lastPacketNs.Store(now.UnixNano())
	}
	l.w.Publish(now)
}

func (l *sflowListener) accepted(from netip.Addr) bool {
	if len(l.agents) == 0 {
		return true
	}
	for _, p := range l.agents {
		if p.Contains(from) {
			return true
		}
	}
	return false
}

// sampleLosses accounts the flow samples of datagram d: the samples missing
// from each data source's sequence numbers, and the growth of the drops the
// agent reports (samples it could not take for lack of resources; they get no
// sequence number, so the two never count the same sample). The first sample
// of a data source, and the first after an agent restart (its uptime went
// back, or the sequence number did), only set the baseline.
func (l *sflowListener) sampleLosses(d Datagram) (lost, drops uint64) {
	for _, s := range l.samples {
		k := sflowDataSource{agent: d.Agent, subAgent: d.SubAgent, sourceType: s.sourceType, source: s.source}
		prev, known := l.sources[k]
		next := sflowSampleState{sequence: s.sequence, drops: s.drops, uptime: d.Uptime}
		if !known {
			if len(l.sources) >= sflowMaxDataSources {
				continue
			}
			l.sources[k] = next
			continue
		}
		step := s.sequence - prev.sequence
		switch {
		case d.Uptime < prev.uptime || step >= 1<<31:
			// restart (or a late datagram): a new baseline
		case step == 0:
			// the same sample again (a duplicated datagram)
		default:
			lost += uint64(step - 1)
			if s.drops >= prev.drops {
				drops += uint64(s.drops - prev.drops)
			}
		}
		l.sources[k] = next
	}
	return lost, drops
}

// warnMalformed logs a malformed datagram at debug level, and at warning level
// at most once per sflowWarnEvery, naming the agent: it is infrastructure, and
// its sFlow implementation (or something pretending to be it) is broken.
func (l *sflowListener) warnMalformed(from netip.Addr, d Datagram, err error, now time.Time) {
	// Guarded: the arguments would allocate even for a disabled level, and a
	// broken agent sends a malformed datagram every time.
	if l.env.logger.Enabled(context.Background(), slog.LevelDebug) {
		l.env.logger.Debug("malformed sFlow datagram; its samples before the fault are counted",
			"from", from, "agent", d.Agent, "sequence", d.Sequence, "err", err)
	}
	if !l.warnedMalformed.IsZero() && now.Sub(l.warnedMalformed) < sflowWarnEvery {
		l.suppressedMalformed++
		return
	}
	l.env.logger.Warn("malformed sFlow datagram; its samples before the fault are counted",
		"from", from, "agent", d.Agent, "err", err, "suppressed_since_last_warning", l.suppressedMalformed)
	l.env.stats.noteProblem(now, "malformed datagram from %v (agent %v): %v", from, d.Agent, err)
	l.warnedMalformed, l.suppressedMalformed = now, 0
}

// warnForeign logs a datagram from outside agents:, rate-limited as
// warnMalformed: a switch sending to the wrong collector, or a config that
// forgot one.
func (l *sflowListener) warnForeign(from netip.Addr, now time.Time) {
	if l.env.logger.Enabled(context.Background(), slog.LevelDebug) {
		l.env.logger.Debug("sFlow datagram from a sender outside agents: dropped", "from", from)
	}
	if !l.warnedForeign.IsZero() && now.Sub(l.warnedForeign) < sflowWarnEvery {
		l.suppressedForeign++
		return
	}
	l.env.logger.Warn("sFlow datagrams from a sender outside agents: are dropped", "from", from,
		"agents", prefixList(l.agents), "suppressed_since_last_warning", l.suppressedForeign)
	l.env.stats.noteProblem(now, "datagram from %v, outside agents: %s, dropped", from, prefixList(l.agents))
	l.warnedForeign, l.suppressedForeign = now, 0
}
