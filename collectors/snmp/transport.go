package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/config"
)

// sessionAuth is a config.Auth in gosnmp's terms.
type sessionAuth struct {
	version     gosnmp.SnmpVersion
	community   string
	msgFlags    gosnmp.SnmpV3MsgFlags
	usm         *gosnmp.UsmSecurityParameters // v3 only
	contextName string
}

var authProtocols = map[string]gosnmp.SnmpV3AuthProtocol{
	"MD5":    gosnmp.MD5,
	"SHA":    gosnmp.SHA,
	"SHA1":   gosnmp.SHA,
	"SHA224": gosnmp.SHA224,
	"SHA256": gosnmp.SHA256,
	"SHA384": gosnmp.SHA384,
	"SHA512": gosnmp.SHA512,
}

var privProtocols = map[string]gosnmp.SnmpV3PrivProtocol{
	"DES":     gosnmp.DES,
	"AES":     gosnmp.AES,
	"AES128":  gosnmp.AES,
	"AES192":  gosnmp.AES192,
	"AES256":  gosnmp.AES256,
	"AES192C": gosnmp.AES192C,
	"AES256C": gosnmp.AES256C,
}

// authParams maps credentials to gosnmp's version, message flags and USM
// parameters. It checks what Load may not have: that each security level has the
// protocols and passphrases it needs.
func authParams(a *config.Auth) (sessionAuth, error) {
	switch a.Version {
	case config.Version2c:
		if a.Community.Value() == "" {
			return sessionAuth{}, errors.New("version 2c needs a community")
		}
		return sessionAuth{version: gosnmp.Version2c, community: a.Community.Value()}, nil
	case config.Version3:
	default:
		return sessionAuth{}, fmt.Errorf("unsupported SNMP version %q (want %q or %q)", a.Version, config.Version2c, config.Version3)
	}
	if a.Username == "" {
		return sessionAuth{}, errors.New("version 3 needs a username")
	}
	usm := &gosnmp.UsmSecurityParameters{
		UserName:               a.Username,
		AuthenticationProtocol: gosnmp.NoAuth,
		PrivacyProtocol:        gosnmp.NoPriv,
	}
	sa := sessionAuth{version: gosnmp.Version3, usm: usm, contextName: a.ContextName}
	level := a.SecurityLevel
	if level == "" {
		// As Load infers it: from what was written.
		switch {
		case a.PrivProtocol != "" || a.PrivPassword != "":
			level = "authPriv"
		case a.AuthProtocol != "" || a.AuthPassword != "":
			level = "authNoPriv"
		default:
			level = "noAuthNoPriv"
		}
	}
	switch {
	case strings.EqualFold(level, "noAuthNoPriv"):
		sa.msgFlags = gosnmp.NoAuthNoPriv
		return sa, nil
	case strings.EqualFold(level, "authNoPriv"):
		sa.msgFlags = gosnmp.AuthNoPriv
	case strings.EqualFold(level, "authPriv"):
		sa.msgFlags = gosnmp.AuthPriv
	default:
		return sessionAuth{}, fmt.Errorf("unknown security_level %q (want noAuthNoPriv, authNoPriv or authPriv)", level)
	}
	ap, ok := authProtocols[strings.ToUpper(a.AuthProtocol)]
	if !ok {
		return sessionAuth{}, fmt.Errorf("security level %s needs auth_protocol MD5, SHA, SHA224, SHA256, SHA384 or SHA512, not %q", level, a.AuthProtocol)
	}
	if a.AuthPassword.Value() == "" {
		return sessionAuth{}, fmt.Errorf("security level %s needs an auth password", level)
	}
	usm.AuthenticationProtocol = ap
	usm.AuthenticationPassphrase = a.AuthPassword.Value()
	if sa.msgFlags == gosnmp.AuthNoPriv {
		return sa, nil
	}
	pp, ok := privProtocols[strings.ToUpper(a.PrivProtocol)]
	if !ok {
		return sessionAuth{}, fmt.Errorf("security level authPriv needs priv_protocol DES, AES, AES192, AES256, AES192C or AES256C, not %q", a.PrivProtocol)
	}
	if a.PrivPassword.Value() == "" {
		return sessionAuth{}, errors.New("security level authPriv needs a priv password")
	}
	usm.PrivacyProtocol = pp
	usm.PrivacyPassphrase = a.PrivPassword.Value()
	return sa, nil
}

// newSession builds an unconnected gosnmp session for the target. One session
// serves all polls of a target, so that SNMPv3 discovers the engine and derives
// its keys once, not on every poll.
func newSession(ts *targetSettings, onSent func()) (*gosnmp.GoSNMP, error) {
	sa, err := authParams(&ts.Auth)
	if err != nil {
		return nil, err
	}
	g := &gosnmp.GoSNMP{
		Target:    ts.Host,
		Port:      ts.Port,
		Transport: "udp",
		Version:   sa.version,
		Community: sa.community,
		Timeout:   ts.Timeout,
		Retries:   ts.Retries,
		MaxOids:   gosnmp.MaxOids,
		Context:   context.Background(),
	}
	if sa.version == gosnmp.Version3 {
		g.SecurityModel = gosnmp.UserSecurityModel
		g.MsgFlags = sa.msgFlags
		g.SecurityParameters = sa.usm
		g.ContextName = sa.contextName
	}
	if onSent != nil {
		g.OnSent = func(*gosnmp.GoSNMP) { onSent() }
	}
	return g, nil
}

// Poll results, the values of meetnoc_snmp_polls_total's result label.
const (
	resultOK      = "ok"
	resultTimeout = "timeout"
	resultAuth    = "auth"
	resultError   = "error"
)

// results lists every result, for pre-initialised counters.
var results = [...]string{resultOK, resultTimeout, resultAuth, resultError}

func resultIndex(r string) int {
	for i, v := range results {
		if v == r {
			return i
		}
	}
	return len(results) - 1
}

// pollError is why a poll failed: its result class and a message for the NOC that
// says what happened and what to check.
type pollError struct {
	result string
	msg    string
	err    error
}

func (e *pollError) Error() string { return e.msg }
func (e *pollError) Unwrap() error { return e.err }

// statusError is an answer that carries an SNMP error-status.
type statusError struct {
	op     string // GET, GETNEXT, GETBULK
	status gosnmp.SNMPError
	oid    string // the variable the error-index points at, if any
}

func (e *statusError) Error() string {
	if e.oid != "" {
		return fmt.Sprintf("agent answered %s with error-status %s at %s", e.op, e.status, e.oid)
	}
	return fmt.Sprintf("agent answered %s with error-status %s", e.op, e.status)
}

// classify turns an error from a request into a pollError. what names the request
// ("GET of 1.3.6.1.2.1.1.3.0"); answered tells whether the agent answered an
// earlier request of the same poll, which changes what a timeout means.
func classify(err error, ts *targetSettings, what string, answered bool) *pollError {
	var pe *pollError
	if errors.As(err, &pe) {
		return pe
	}
	addr := ts.Address
	timeout := func(msg string) *pollError { return &pollError{result: resultTimeout, msg: msg, err: err} }
	auth := func(msg string) *pollError { return &pollError{result: resultAuth, msg: msg, err: err} }
	user := ts.Auth.Username
	text := err.Error()

	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return timeout(fmt.Sprintf("poll of %s did not finish in time (%s was under way); agent too slow for the interval, or stopped answering?", addr, what))
	case errors.Is(err, syscall.ECONNREFUSED):
		return timeout(fmt.Sprintf("no response from %s: connection refused (ICMP port unreachable) to %s; agent down or wrong port?", addr, what))
	case errors.Is(err, gosnmp.ErrMaxRetriesExceeded), strings.Contains(text, "timeout"), errors.As(err, &netErr) && netErr.Timeout():
		if answered {
			return timeout(fmt.Sprintf("no response from %s within %s to %s, though it answered earlier requests of this poll; agent overloaded, or answers too big for the path?", addr, ts.requestTimeoutText(), what))
		}
		return timeout(fmt.Sprintf("no response from %s within %s; agent down, wrong address, or wrong community/credentials?", addr, ts.requestTimeoutText()))

	case errors.Is(err, gosnmp.ErrUnknownUsername):
		return auth(fmt.Sprintf("agent %s does not know SNMPv3 user %q (usmStatsUnknownUserNames); check the username", addr, user))
	case errors.Is(err, gosnmp.ErrWrongDigest):
		return auth(fmt.Sprintf("agent %s rejected the authentication of user %q (usmStatsWrongDigests); check auth_protocol (%s) and the auth password", addr, user, ts.Auth.AuthProtocol))
	case errors.Is(err, gosnmp.ErrDecryption):
		return auth(fmt.Sprintf("agent %s could not decrypt the request of user %q (usmStatsDecryptionErrors); check priv_protocol (%s) and the priv password", addr, user, ts.Auth.PrivProtocol))
	case errors.Is(err, gosnmp.ErrUnknownSecurityLevel):
		return auth(fmt.Sprintf("agent %s does not allow security level %s for user %q (usmStatsUnsupportedSecLevels); check security_level", addr, ts.Auth.SecurityLevel, user))
	case errors.Is(err, gosnmp.ErrNotInTimeWindow):
		return auth(fmt.Sprintf("agent %s answered user %q with notInTimeWindow even after resynchronising (usmStatsNotInTimeWindows); check the auth password, or restart the agent if its engine boots/time are stuck", addr, user))
	case errors.Is(err, gosnmp.ErrUnknownEngineID):
		return auth(fmt.Sprintf("SNMPv3 engine discovery with %s failed (usmStatsUnknownEngineIDs); is it an SNMPv3 agent, and is user %q configured there?", addr, user))
	case errors.Is(err, gosnmp.ErrUnknownSecurityModels):
		return auth(fmt.Sprintf("agent %s does not support the user-based security model (snmpUnknownSecurityModels); check version", addr))
	case strings.Contains(text, "not authentic"), strings.Contains(text, "is not authenticated"):
		// Agents report an unknown user, a wrong digest or a failed decryption
		// in an unauthenticated Report, which gosnmp can only discard as not
		// authentic: which of the three it was is lost.
		return auth(fmt.Sprintf("agent %s rejected the request of user %q (unknown user, wrong digest or failed decryption); %s", addr, user, credentialsHint(&ts.Auth)))
	case strings.Contains(text, "are not configured to parse incoming"):
		return auth(fmt.Sprintf("agent %s answers at another security level than %s for user %q; check security_level", addr, ts.Auth.SecurityLevel, user))
	}

	if i := strings.Index(text, " Stack:"); i >= 0 && strings.HasPrefix(text, "recover:") {
		// gosnmp recovered from a panic on a malformed packet; its stack is no
		// help on a status page.
		text = strings.TrimSpace(text[len("recover:"):i])
		return &pollError{result: resultError, msg: fmt.Sprintf("malformed answer from %s to %s: %s", addr, what, text), err: err}
	}
	for _, sign := range []string{"packet sanity", "unmarshal", "unable to decode", "truncated", "error parsing"} {
		if strings.Contains(text, sign) {
			return &pollError{result: resultError, msg: fmt.Sprintf("malformed answer from %s to %s: %s; a broken agent, or something else listening on that port?", addr, what, text), err: err}
		}
	}
	var se *statusError
	if errors.As(err, &se) && se.status == gosnmp.AuthorizationError {
		who := fmt.Sprintf("user %q at security level %s", user, ts.Auth.SecurityLevel)
		if ts.Auth.Version == config.Version2c {
			who = "the community"
		}
		return auth(fmt.Sprintf("agent %s refused %s (authorizationError): its access rules want another security level or do not cover these OIDs; check security_level and the agent's access configuration", addr, who))
	}
	if errors.As(err, &se) {
		return &pollError{result: resultError, msg: fmt.Sprintf("%s to %s: %s", what, addr, se.Error()), err: err}
	}
	return &pollError{result: resultError, msg: fmt.Sprintf("%s to %s failed: %s", what, addr, text), err: err}
}

// isTimeout tells whether err means the agent did not answer in time.
func isTimeout(err error) bool {
	var pe *pollError
	if errors.As(err, &pe) {
		return pe.result == resultTimeout
	}
	var netErr net.Error
	return errors.Is(err, gosnmp.ErrMaxRetriesExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout()) ||
		strings.Contains(err.Error(), "timeout")
}

// credentialsHint says which settings of an auth to check.
func credentialsHint(a *config.Auth) string {
	switch {
	case a.PrivProtocol != "":
		return fmt.Sprintf("check the username, auth_protocol (%s), priv_protocol (%s) and both passwords", a.AuthProtocol, a.PrivProtocol)
	case a.AuthProtocol != "":
		return fmt.Sprintf("check the username, auth_protocol (%s) and the auth password", a.AuthProtocol)
	}
	return "check the username and security_level"
}
