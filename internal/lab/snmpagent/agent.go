package snmpagent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
)

const (
	// DefaultMaxMessageSize is the largest response an agent sends unless
	// told otherwise: the UDP payload of a 1,500-octet Ethernet frame over IPv4.
	DefaultMaxMessageSize = 1472
	// minMessageSize is the least every SNMP engine must accept (RFC 3417 3).
	minMessageSize = 484
	// maxRequestSize bounds the requests an agent reads, and is what it tells
	// SNMPv3 managers it accepts (msgMaxSize). Pollers send a few dozen
	// varbinds at most; a larger buffer would cost every one of a thousand
	// lab agents memory for nothing.
	maxRequestSize = 8192
)

// Config configures an Agent.
type Config struct {
	// Addr is the UDP address to listen on, e.g. "127.0.0.1:0" or "[::1]:0".
	Addr string
	// MIB is what the agent serves; nil serves an empty MIB.
	MIB MIB
	// Communities are the SNMPv1/v2c communities the agent answers (all
	// read-only). Requests with any other community are dropped without an
	// answer, as net-snmp does.
	Communities []string
	// Users are the SNMPv3 USM users the agent answers.
	Users []User
	// EngineID is the agent's authoritative snmpEngineID (5 to 32 octets).
	// nil derives a stable one from the address the agent listens on.
	EngineID []byte
	// MaxMessageSize is the largest response the agent sends, in octets of
	// SNMP message (the UDP payload); 0 means DefaultMaxMessageSize. A
	// manager's smaller SNMPv3 msgMaxSize lowers it further.
	MaxMessageSize int
	// Logger receives the agent's diagnostics; nil discards them.
	Logger *slog.Logger
	// Faults, if not nil, injects failures while the agent runs.
	Faults *Faults
}

// User is an SNMPv3 USM user. Zero protocols mean none (noAuth, noPriv); a
// user with a privacy protocol needs an authentication protocol too. The
// user's protocols are also the least security level the agent accepts from
// it: a request below it gets authorizationError, as from net-snmp's
// "rouser NAME authpriv".
type User struct {
	Name           string
	AuthProtocol   gosnmp.SnmpV3AuthProtocol
	AuthPassphrase string
	PrivProtocol   gosnmp.SnmpV3PrivProtocol
	PrivPassphrase string
}

// Stats counts what an agent has done since it was created.
type Stats struct {
	Received  uint64 // datagrams received
	Responses uint64 // Response-PDUs sent
	Reports   uint64 // SNMPv3 Report-PDUs sent
	Dropped   uint64 // datagrams answered with nothing at all

	// Requests by PDU type, counted once the community or USM checks passed.
	Get, GetNext, GetBulk, Set uint64

	TooBig    uint64 // responses with error-status tooBig
	Truncated uint64 // GETBULK responses cut short to fit the message size

	BadCommunities uint64 // SNMPv1/v2c requests with an unknown community
	ParseErrors    uint64 // datagrams that are not SNMP the agent can read

	// SNMPv3 USM errors (RFC 3414 usmStats), each answered by a Report-PDU
	// when the request allowed one.
	UnknownEngineIDs     uint64
	UnknownUserNames     uint64
	UnsupportedSecLevels uint64
	WrongDigests         uint64
	NotInTimeWindows     uint64
	DecryptionErrors     uint64
	// UnknownContexts counts SNMPv3 requests for a context other than the
	// default one, or for another engine's context.
	UnknownContexts uint64
}

// Requests is the number of requests that passed the community or USM checks.
func (s Stats) Requests() uint64 { return s.Get + s.GetNext + s.GetBulk + s.Set }

type counters struct {
	received, responses, reports, dropped                                  atomic.Uint64
	get, getNext, getBulk, set                                             atomic.Uint64
	tooBig, truncated, badCommunities, parseErrors                         atomic.Uint64
	unknownEngineIDs, unknownUserNames, unsupportedSecLevels, wrongDigests atomic.Uint64
	notInTimeWindows, decryptionErrors, unknownContexts                    atomic.Uint64
}

// An Agent answers SNMP GET, GETNEXT and GETBULK requests from a MIB on one
// UDP socket, with one goroutine: a thousand agents cost a thousand sockets
// and goroutines, and no goroutine per request.
type Agent struct {
	conn        *net.UDPConn
	addr        string
	engineID    []byte
	communities []string
	users       map[string]*usmUser
	maxSize     int
	logger      *slog.Logger
	faults      *Faults

	mib       atomic.Pointer[mibRef]
	engine    atomic.Pointer[engineState]
	restartMu sync.Mutex
	salt      atomic.Uint64
	serving   atomic.Bool

	plain *gosnmp.GoSNMP // decodes SNMPv1 and v2c messages
	stats counters
}

type mibRef struct{ mib MIB }

// engineState is what a restart changes (RFC 3414 2.2: snmpEngineBoots and
// snmpEngineTime).
type engineState struct {
	boots   uint32
	started time.Time
}

// Listen creates an agent and binds its socket, so that Addr is known before
// Serve runs.
func Listen(cfg Config) (*Agent, error) {
	if cfg.Addr == "" {
		return nil, errors.New("snmpagent: no listen address")
	}
	if len(cfg.Communities) == 0 && len(cfg.Users) == 0 {
		return nil, errors.New("snmpagent: neither communities nor users: the agent would answer nothing")
	}
	maxSize := cfg.MaxMessageSize
	if maxSize == 0 {
		maxSize = DefaultMaxMessageSize
	}
	if maxSize < minMessageSize {
		return nil, fmt.Errorf("snmpagent: MaxMessageSize %d is below the SNMP minimum of %d", maxSize, minMessageSize)
	}
	laddr, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("snmpagent: %w", err)
	}
	conn, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, fmt.Errorf("snmpagent: %w", err)
	}
	a := &Agent{
		conn:        conn,
		addr:        conn.LocalAddr().String(),
		communities: slices.Clone(cfg.Communities),
		maxSize:     maxSize,
		logger:      cfg.Logger,
		faults:      cfg.Faults,
		plain: &gosnmp.GoSNMP{
			Version: gosnmp.Version2c, Transport: "udp", MaxOids: gosnmp.MaxOids, Context: context.Background(),
		},
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	a.engineID = slices.Clone(cfg.EngineID)
	if a.engineID == nil {
		a.engineID = defaultEngineID(a.addr)
	}
	if n := len(a.engineID); n < 5 || n > 32 {
		conn.Close()
		return nil, fmt.Errorf("snmpagent: engine ID of %d octets, want 5 to 32 (RFC 3411)", n)
	}
	a.users = make(map[string]*usmUser, len(cfg.Users))
	for _, u := range cfg.Users {
		if _, dup := a.users[u.Name]; dup {
			conn.Close()
			return nil, fmt.Errorf("snmpagent: user %q configured twice", u.Name)
		}
		usm, err := newUSMUser(u, a.engineID)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("snmpagent: %w", err)
		}
		a.users[u.Name] = usm
	}
	a.SetMIB(cfg.MIB)
	a.engine.Store(&engineState{boots: 1, started: time.Now()})
	var salt [8]byte
	_, _ = rand.Read(salt[:]) // never fails (crypto/rand)
	a.salt.Store(binary.BigEndian.Uint64(salt[:]))
	return a, nil
}

// defaultEngineID derives an engine ID from the agent's address, in the
// RFC 3411 format: enterprise 8072 (net-snmp's, which lab agents commonly
// use), format 5 (octets), 12 octets of a hash of the address.
func defaultEngineID(addr string) []byte {
	sum := sha256.Sum256([]byte("meetnoc snmpagent " + addr))
	return append([]byte{0x80, 0x00, 0x1f, 0x88, 0x05}, sum[:12]...)
}

// Addr is the address the agent listens on, as "host:port".
func (a *Agent) Addr() string { return a.addr }

// EngineID is the agent's authoritative snmpEngineID.
func (a *Agent) EngineID() []byte { return slices.Clone(a.engineID) }

// EngineBoots is snmpEngineBoots: 1, plus one per Restart.
func (a *Agent) EngineBoots() uint32 { return a.engine.Load().boots }

// Started is when the agent last (re)started: the base of its sysUpTime.
func (a *Agent) Started() time.Time { return a.engine.Load().started }

// UpTime is a sysUpTime value for the agent's MIB: hundredths of a second
// since Started, wrapping as a TimeTicks does.
func (a *Agent) UpTime() ValueFunc {
	return func() (gosnmp.Asn1BER, any) {
		return gosnmp.TimeTicks, uint32(time.Since(a.Started()) / (10 * time.Millisecond))
	}
}

// SetMIB atomically replaces the MIB the agent serves; nil serves an empty one.
func (a *Agent) SetMIB(m MIB) {
	if m == nil {
		m = (&Tree{}).Freeze()
	}
	a.mib.Store(&mibRef{mib: m})
}

// Restart simulates a restart of the agent: snmpEngineBoots goes up by one,
// snmpEngineTime and Started (the base of sysUpTime) start again from now.
// SNMPv3 managers see their next request fail the time window check and
// resynchronise, as with a real agent.
func (a *Agent) Restart() {
	a.restartMu.Lock()
	defer a.restartMu.Unlock()
	a.engine.Store(&engineState{boots: a.engine.Load().boots + 1, started: time.Now()})
}

// Stats returns the agent's counters.
func (a *Agent) Stats() Stats {
	c := &a.stats
	return Stats{
		Received: c.received.Load(), Responses: c.responses.Load(), Reports: c.reports.Load(), Dropped: c.dropped.Load(),
		Get: c.get.Load(), GetNext: c.getNext.Load(), GetBulk: c.getBulk.Load(), Set: c.set.Load(),
		TooBig: c.tooBig.Load(), Truncated: c.truncated.Load(),
		BadCommunities: c.badCommunities.Load(), ParseErrors: c.parseErrors.Load(),
		UnknownEngineIDs: c.unknownEngineIDs.Load(), UnknownUserNames: c.unknownUserNames.Load(),
		UnsupportedSecLevels: c.unsupportedSecLevels.Load(), WrongDigests: c.wrongDigests.Load(),
		NotInTimeWindows: c.notInTimeWindows.Load(), DecryptionErrors: c.decryptionErrors.Load(),
		UnknownContexts: c.unknownContexts.Load(),
	}
}

// Close closes the agent's socket; a running Serve returns.
func (a *Agent) Close() error { return a.conn.Close() }

// Serve answers requests until ctx is done or the agent is closed, then
// closes the socket and returns nil. It handles one request at a time.
func (a *Agent) Serve(ctx context.Context) error {
	if !a.serving.CompareAndSwap(false, true) {
		return errors.New("snmpagent: Serve called twice")
	}
	stop := context.AfterFunc(ctx, func() { a.conn.Close() })
	defer stop()
	defer a.conn.Close()
	buf := make([]byte, maxRequestSize)
	for {
		n, from, err := a.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Errors a socket reports for earlier datagrams (ICMP) must not
			// stop an agent.
			a.logger.Debug("read failed", "err", err)
			continue
		}
		a.handle(ctx, buf[:n], from)
	}
}

// ServeAll serves agents, each on its own goroutine, until ctx is done, and
// returns the first error any of them returned.
func ServeAll(ctx context.Context, agents ...*Agent) error {
	errs := make(chan error, len(agents))
	for _, a := range agents {
		go func() { errs <- a.Serve(ctx) }()
	}
	var first error
	for range agents {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func (a *Agent) handle(ctx context.Context, pkt []byte, from netip.AddrPort) {
	a.stats.received.Add(1)
	if a.faults.Drop() {
		a.stats.dropped.Add(1)
		return
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	out := a.answer(pkt, s)
	if out == nil {
		a.stats.dropped.Add(1)
		return
	}
	if d := a.faults.Delay(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
	if _, err := a.conn.WriteToUDPAddrPort(out, from); err != nil {
		a.logger.Debug("write failed", "err", err)
	}
}

// answer returns the message that answers pkt, or nil for none. The result
// lives in s.
func (a *Agent) answer(pkt []byte, s *scratch) (out []byte) {
	defer func() {
		// A MIB function that panics fails its request, not the lab.
		if p := recover(); p != nil {
			a.logger.Error("request handling panicked", "panic", p)
			out = nil
		}
	}()
	r := berReader{b: pkt}
	if !r.enter(tagSequence) || len(r.b) != len(pkt) {
		a.parseError("not a BER SEQUENCE")
		return nil
	}
	version, ok := r.int(tagInteger)
	if !ok {
		a.parseError("no version")
		return nil
	}
	switch gosnmp.SnmpVersion(version) {
	case gosnmp.Version1, gosnmp.Version2c:
		return a.answerCommunity(pkt, &r, gosnmp.SnmpVersion(version), s)
	case gosnmp.Version3:
		return a.answerV3(pkt, s)
	}
	a.parseError("unknown SNMP version")
	return nil
}

func (a *Agent) parseError(why string) {
	a.stats.parseErrors.Add(1)
	a.logger.Debug("request dropped", "reason", why)
}

func (a *Agent) answerCommunity(pkt []byte, r *berReader, version gosnmp.SnmpVersion, s *scratch) []byte {
	community, _, ok := r.octets()
	if !ok {
		a.parseError("no community")
		return nil
	}
	if !slices.Contains(a.communities, string(community)) {
		a.stats.badCommunities.Add(1)
		return nil
	}
	p, err := a.plain.SnmpDecodePacket(pkt)
	if err != nil {
		a.parseError(err.Error())
		return nil
	}
	if version == gosnmp.Version1 && p.PDUType == gosnmp.GetBulkRequest {
		a.parseError("GetBulkRequest in an SNMPv1 message")
		return nil
	}
	req, ok := a.newRequest(s, version, p)
	if !ok {
		return nil
	}
	env := envelope{version: version, community: community, pduType: gosnmp.GetResponse, requestID: req.requestID}
	resp := response{s: s, env: &env, max: a.maxResponse(0)}
	if !a.process(&req, &resp) {
		return nil
	}
	return a.encode(&env, s, &a.stats.responses)
}

// newRequest is the request gosnmp decoded from a message, with its varbind
// names in s's memory; false when they cannot be read (counted as a parse error).
func (a *Agent) newRequest(s *scratch, version gosnmp.SnmpVersion, p *gosnmp.SnmpPacket) (request, bool) {
	req := request{
		version:   version,
		pduType:   p.PDUType,
		requestID: int64(int32(p.RequestID)), // gosnmp reads the Integer32 as unsigned
		// gosnmp keeps non-repeaters in a uint8: requests with more than 255
		// varbinds read it modulo 256.
		nonRepeaters:   int(p.NonRepeaters),
		maxRepetitions: int(p.MaxRepetitions),
		vars:           p.Variables,
	}
	if err := s.setNames(&req); err != nil {
		a.parseError(err.Error())
		return req, false
	}
	return req, true
}

// encode writes the message of env around s.vbl into s.out and counts it.
func (a *Agent) encode(env *envelope, s *scratch, sent *atomic.Uint64) []byte {
	var err error
	s.out, err = env.appendMessage(s.out[:0], s.vbl, s)
	if err != nil {
		a.logger.Error("message cannot be encoded", "pdu", env.pduType, "err", err)
		return nil
	}
	sent.Add(1)
	return s.out
}

// maxResponse is the size limit of a response: ours, the manager's, and the
// TooBigOver fault's, whichever is least.
func (a *Agent) maxResponse(manager int64) int {
	m := a.maxSize
	if manager > 0 && manager < int64(m) {
		m = int(manager)
	}
	if f := a.faults.TooBigOver(); f > 0 && f < m {
		m = f
	}
	return m
}
