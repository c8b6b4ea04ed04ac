package snmp

import (
	"cmp"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/meetnoc/meetnoc/internal/config"
)

// Built-in values for snmp-level settings that config.Load normally fills. They
// apply only when a Config did not come through Load (tests, embedders) and the
// field holds a value Load would never leave: zero for an interval, say.
const (
	defaultInterval       = 30 * time.Second
	defaultTimeout        = 5 * time.Second
	defaultMaxRepetitions = 25
	defaultMaxConcurrency = 64
	defaultAPMissingHold  = time.Hour
	defaultTargetLabel    = "target"
	defaultPort           = 161
)

// targetSettings is one target with every default resolved: all that a poll needs,
// and what Apply compares to decide whether a target changed. It is immutable.
type targetSettings struct {
	Name     string
	Address  string // as configured, for the status page and target_info
	Host     string // without brackets
	Port     uint16
	AuthName string
	Auth     config.Auth // the values in use; the *_file paths are cleared
	Profiles []string
	Labels   map[string]string

	Interval       time.Duration
	Timeout        time.Duration
	Retries        int
	MaxRepetitions uint32
	UseGetNext     bool
	Jitter         float64
	MissingHold    time.Duration

	// ProfileContent holds copies of the profiles (File cleared), so that a reload
	// that edits a profile restarts the targets using it, and one that only moves
	// it to another file does not.
	ProfileContent []config.Profile
}

// resolveTarget applies the snmp-level defaults to t and looks up its auth and
// profiles.
func resolveTarget(s *config.SNMP, profiles map[string]*config.Profile, t *config.Target) (*targetSettings, error) {
	if t == nil {
		return nil, fmt.Errorf("empty target entry")
	}
	if t.Name == "" {
		return nil, fmt.Errorf("target with address %q has no name", t.Address)
	}
	host, port, err := splitAddress(t.Address)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", t.Name, err)
	}
	auth, ok := s.Auths[t.Auth]
	if !ok || auth == nil {
		return nil, fmt.Errorf("target %q: unknown auth %q", t.Name, t.Auth)
	}
	if len(t.Profiles) == 0 {
		return nil, fmt.Errorf("target %q: no profiles", t.Name)
	}
	ts := &targetSettings{
		Name:           t.Name,
		Address:        t.Address,
		Host:           host,
		Port:           port,
		AuthName:       t.Auth,
		Auth:           *auth,
		Profiles:       append([]string(nil), t.Profiles...),
		Labels:         make(map[string]string, len(t.Labels)),
		Interval:       cmp.Or(t.Interval, s.Interval, defaultInterval),
		Timeout:        cmp.Or(t.Timeout, s.Timeout, defaultTimeout),
		Retries:        s.Retries,
		MaxRepetitions: cmp.Or(t.MaxRepetitions, s.MaxRepetitions, defaultMaxRepetitions),
		UseGetNext:     t.UseGetNext,
		Jitter:         s.Jitter,
		MissingHold:    cmp.Or(s.APMissingHold, defaultAPMissingHold),
	}
	ts.Auth.CommunityFile, ts.Auth.AuthPasswordFile, ts.Auth.PrivPasswordFile = "", "", ""
	if t.Retries != nil {
		ts.Retries = *t.Retries
	}
	if ts.Retries < 0 {
		ts.Retries = 0
	}
	if ts.Jitter < 0 {
		ts.Jitter = 0
	}
	if ts.Jitter > 0.5 {
		ts.Jitter = 0.5
	}
	for k, v := range t.Labels {
		ts.Labels[k] = v
	}
	if _, err := authParams(&ts.Auth); err != nil {
		return nil, fmt.Errorf("target %q: auth %q: %w", t.Name, t.Auth, err)
	}
	seen := make(map[string]bool, len(t.Profiles))
	for _, name := range t.Profiles {
		p, ok := profiles[name]
		if !ok || p == nil {
			return nil, fmt.Errorf("target %q: unknown profile %q", t.Name, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("target %q: profile %q listed twice", t.Name, name)
		}
		seen[name] = true
		pc := *p
		pc.File = ""
		ts.ProfileContent = append(ts.ProfileContent, pc)
	}
	return ts, nil
}

// sameAs reports whether a running target with settings o can go on unchanged
// under settings ts: same effective settings, auth values and profile contents.
func (ts *targetSettings) sameAs(o *targetSettings) bool {
	return reflect.DeepEqual(ts, o)
}

// requestTimeoutText says how long one request waits in all, for messages:
// "5s × 2 tries".
func (ts *targetSettings) requestTimeoutText() string {
	tries := ts.Retries + 1
	if tries == 1 {
		return ts.Timeout.String() + " × 1 try"
	}
	return ts.Timeout.String() + " × " + strconv.Itoa(tries) + " tries"
}

// splitAddress parses host:port, [v6]:port, a bare host or a bare IPv6 address;
// the port defaults to 161.
func splitAddress(addr string) (string, uint16, error) {
	if addr == "" {
		return "", 0, fmt.Errorf("empty address")
	}
	if a, err := netip.ParseAddr(addr); err == nil {
		return a.String(), defaultPort, nil
	}
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		a, err := netip.ParseAddr(addr[1 : len(addr)-1])
		if err != nil {
			return "", 0, fmt.Errorf("address %q: %w", addr, err)
		}
		return a.String(), defaultPort, nil
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(addr, ":") {
			return "", 0, fmt.Errorf("address %q: want host:port, [ipv6]:port or host", addr)
		}
		host, portText = addr, ""
	}
	if host == "" {
		return "", 0, fmt.Errorf("address %q: no host", addr)
	}
	if portText == "" {
		return host, defaultPort, nil
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("address %q: bad port %q", addr, portText)
	}
	return host, uint16(port), nil
}
