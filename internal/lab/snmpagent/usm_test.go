package snmpagent

import (
	"errors"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// The texts gosnmp v1.47.0 gives a poller for each SNMPv3 failure. A Report
// about a failed security check goes out unauthenticated (RFC 3414 3.1.1a,
// as net-snmp does), and gosnmp, once it knows the engine ID, discards an
// unauthenticated answer to an authenticated request: only a noAuthNoPriv
// manager sees which Report it was.
const (
	errNotAuthentic = "incoming packet is not authentic, discarding"
	errTimeout      = "request timeout (after 0 retries): max retries exceeded"
)

// v3Get encodes a GET as u would send it to a, with a's engine parameters
// already known: no discovery.
func v3Get(t testing.TB, a *Agent, u User, level gosnmp.SnmpV3MsgFlags, oids ...OID) []byte {
	t.Helper()
	g := &gosnmp.GoSNMP{}
	v3(u, level)(g)
	sp := g.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	sp.AuthoritativeEngineID = string(a.EngineID())
	sp.AuthoritativeEngineBoots = a.EngineBoots()
	sp.AuthoritativeEngineTime = uint32(time.Since(a.Started()) / time.Second)
	if err := sp.InitSecurityKeys(); err != nil {
		t.Fatal(err)
	}
	g.ContextEngineID = string(a.EngineID())
	var pdus []gosnmp.SnmpPDU
	for _, o := range oids {
		pdus = append(pdus, gosnmp.SnmpPDU{Name: o.String(), Type: gosnmp.Null})
	}
	msg, err := g.SnmpEncodePacket(gosnmp.GetRequest, pdus, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// expectReport checks that resp is an unauthenticated Report of counter oid.
func expectReport(t testing.TB, resp []byte, oid OID, engineID []byte) {
	t.Helper()
	if resp == nil {
		t.Fatalf("no Report for %s", oid)
	}
	p := decodePlain(t, resp)
	if p.PDUType != gosnmp.Report || len(p.Variables) != 1 {
		t.Fatalf("got %s with %d varbinds, want a Report with one", p.PDUType, len(p.Variables))
	}
	if v := p.Variables[0]; v.Name != "."+oid.String() || v.Type != gosnmp.Counter32 {
		t.Errorf("Report varbind %s, want a Counter32 at %s", pduString(v), oid)
	}
	if id := p.SecurityParameters.(*gosnmp.UsmSecurityParameters).AuthoritativeEngineID; id != string(engineID) {
		t.Errorf("Report engine ID %x, want %x", id, engineID)
	}
	if p.MsgFlags != gosnmp.NoAuthNoPriv {
		t.Errorf("Report msgFlags %s, want noAuthNoPriv", p.MsgFlags)
	}
}

// TestV3Failures shows each USM failure on the wire (the Report a manager
// gets) and as gosnmp reports it to a poller.
func TestV3Failures(t *testing.T) {
	a := startAgent(t, Config{MIB: testTree(), Users: testUsers})
	get := func(t *testing.T, u User, level gosnmp.SnmpV3MsgFlags, configure ...func(*gosnmp.GoSNMP)) (*gosnmp.SnmpPacket, error) {
		g := client(t, a.Addr(), func(g *gosnmp.GoSNMP) {
			v3(u, level)(g)
			g.Timeout = 300 * time.Millisecond
			for _, c := range configure {
				c(g)
			}
		})
		return g.Get([]string{oidSysDescr.String()})
	}
	delta := func(t *testing.T, what string, counter func(Stats) uint64, run func()) {
		t.Helper()
		before := counter(a.Stats())
		run()
		if got := counter(a.Stats()) - before; got != 1 {
			t.Errorf("%s went up by %d, want 1", what, got)
		}
	}

	t.Run("discovery", func(t *testing.T) {
		u := testUser(t, "sha-aes")
		g := client(t, a.Addr(), v3(u, gosnmp.AuthPriv))
		delta(t, "UnknownEngineIDs", func(s Stats) uint64 { return s.UnknownEngineIDs }, func() {
			if _, err := g.Get([]string{oidSysDescr.String()}); err != nil {
				t.Fatal(err)
			}
		})
		sp := g.SecurityParameters.(*gosnmp.UsmSecurityParameters)
		if sp.AuthoritativeEngineID != string(a.EngineID()) || sp.AuthoritativeEngineBoots != 1 {
			t.Errorf("discovered engine %x boots %d, want %x boots 1", sp.AuthoritativeEngineID, sp.AuthoritativeEngineBoots, a.EngineID())
		}
	})

	t.Run("wrong auth passphrase", func(t *testing.T) {
		u := testUser(t, "sha-aes")
		u.AuthPassphrase = "not-the-passphrase"
		delta(t, "WrongDigests", func(s Stats) uint64 { return s.WrongDigests }, func() {
			_, err := get(t, u, gosnmp.AuthPriv)
			if err == nil || err.Error() != errNotAuthentic {
				t.Errorf("err = %v, want %q", err, errNotAuthentic)
			}
		})
		resp := exchange(t, a.Addr(), v3Get(t, a, u, gosnmp.AuthPriv, oidSysDescr), time.Second)
		expectReport(t, resp, oidWrongDigests, a.EngineID())
	})

	t.Run("unknown user", func(t *testing.T) {
		u := testUser(t, "sha-aes")
		u.Name = "intruder"
		delta(t, "UnknownUserNames", func(s Stats) uint64 { return s.UnknownUserNames }, func() {
			_, err := get(t, u, gosnmp.AuthPriv)
			if err == nil || err.Error() != errNotAuthentic {
				t.Errorf("err = %v, want %q", err, errNotAuthentic)
			}
		})
		resp := exchange(t, a.Addr(), v3Get(t, a, u, gosnmp.AuthPriv, oidSysDescr), time.Second)
		expectReport(t, resp, oidUnknownUserNames, a.EngineID())

		// A noAuthNoPriv manager believes the Report.
		_, err := get(t, User{Name: "intruder"}, gosnmp.NoAuthNoPriv)
		if !errors.Is(err, gosnmp.ErrUnknownUsername) || err.Error() != "unknown username" {
			t.Errorf("noAuthNoPriv: err = %v, want gosnmp.ErrUnknownUsername", err)
		}
	})

	t.Run("unsupported security level", func(t *testing.T) {
		u := testUser(t, "sha")
		u.PrivProtocol, u.PrivPassphrase = gosnmp.AES, "aes-passphrase"
		delta(t, "UnsupportedSecLevels", func(s Stats) uint64 { return s.UnsupportedSecLevels }, func() {
			_, err := get(t, u, gosnmp.AuthPriv)
			if err == nil || err.Error() != errNotAuthentic {
				t.Errorf("err = %v, want %q", err, errNotAuthentic)
			}
		})
		resp := exchange(t, a.Addr(), v3Get(t, a, u, gosnmp.AuthPriv, oidSysDescr), time.Second)
		expectReport(t, resp, oidUnsupportedSecLevels, a.EngineID())

		// The same for an authenticated request from a noAuth user.
		_, err := get(t, User{Name: "noauth"}, gosnmp.AuthNoPriv, func(g *gosnmp.GoSNMP) {
			g.SecurityParameters.(*gosnmp.UsmSecurityParameters).AuthenticationProtocol = gosnmp.MD5
			g.SecurityParameters.(*gosnmp.UsmSecurityParameters).AuthenticationPassphrase = "md5-passphrase"
		})
		if err == nil || err.Error() != errNotAuthentic {
			t.Errorf("auth request as a noAuth user: err = %v, want %q", err, errNotAuthentic)
		}
	})

	t.Run("below the user's level", func(t *testing.T) {
		u := testUser(t, "sha-aes")
		for _, level := range []gosnmp.SnmpV3MsgFlags{gosnmp.AuthNoPriv, gosnmp.NoAuthNoPriv} {
			res, err := get(t, u, level)
			if err != nil {
				t.Fatalf("%s: %v", level, err)
			}
			if res.Error != gosnmp.AuthorizationError {
				t.Errorf("%s: error-status %s, want authorizationError", level, res.Error)
			}
		}
	})

	t.Run("wrong priv passphrase", func(t *testing.T) {
		// AES-CFB decrypts anything, into garbage: dropped, as by net-snmp.
		u := testUser(t, "sha-aes")
		u.PrivPassphrase = "not-the-passphrase"
		delta(t, "ParseErrors", func(s Stats) uint64 { return s.ParseErrors }, func() {
			_, err := get(t, u, gosnmp.AuthPriv)
			if err == nil || err.Error() != errTimeout {
				t.Errorf("err = %v, want %q", err, errTimeout)
			}
		})
	})

	t.Run("decryption error", func(t *testing.T) {
		u := testUser(t, "sha-des")
		msg := v3Get(t, a, u, gosnmp.AuthPriv, oidSysDescr)
		h, ok := parseV3Header(msg)
		if !ok || msg[h.scopedAt] != tagOctetString {
			t.Fatalf("unexpected encoding %x", msg)
		}
		msg[h.scopedAt] = tagSequence // no longer an encryptedPDU
		resign(t, a, msg, u)
		var resp []byte
		delta(t, "DecryptionErrors", func(s Stats) uint64 { return s.DecryptionErrors }, func() {
			resp = exchange(t, a.Addr(), msg, time.Second)
		})
		expectReport(t, resp, oidDecryptionErrors, a.EngineID())
	})

	t.Run("unknown context", func(t *testing.T) {
		u := testUser(t, "sha256-aes256")
		delta(t, "UnknownContexts", func(s Stats) uint64 { return s.UnknownContexts }, func() {
			_, err := get(t, u, gosnmp.AuthPriv, func(g *gosnmp.GoSNMP) { g.ContextName = "bridge1" })
			if !errors.Is(err, gosnmp.ErrUnknownReportPDU) {
				t.Errorf("err = %v, want gosnmp.ErrUnknownReportPDU", err)
			}
		})
	})

	t.Run("report only when reportable", func(t *testing.T) {
		u := testUser(t, "sha")
		u.Name = "intruder"
		msg := v3Get(t, a, u, gosnmp.AuthNoPriv, oidSysDescr)
		msg[globalData(t, msg).flags] &^= flagReportable
		if resp := exchange(t, a.Addr(), msg, 200*time.Millisecond); resp != nil {
			t.Errorf("answered a non-reportable message: %x", resp)
		}
	})
}

// globalDataOffsets are where msgGlobalData's values are in an SNMPv3 message.
type globalDataOffsets struct{ maxSize, flags int }

func globalData(t testing.TB, msg []byte) globalDataOffsets {
	t.Helper()
	r := berReader{b: msg}
	r.enter(tagSequence)
	r.int(tagInteger)
	if !r.enter(tagSequence) {
		t.Fatalf("no msgGlobalData in %x", msg)
	}
	r.int(tagInteger)
	var o globalDataOffsets
	o.maxSize = r.off
	r.int(tagInteger)
	_, o.flags, _ = r.octets()
	return o
}

// resign recomputes the MAC of a message changed after gosnmp signed it.
func resign(t testing.TB, a *Agent, msg []byte, u User) {
	t.Helper()
	usm, err := newUSMUser(u, a.EngineID())
	if err != nil {
		t.Fatal(err)
	}
	h, ok := parseV3Header(msg)
	if !ok {
		t.Fatalf("cannot parse %x", msg)
	}
	mac := msg[h.authAt : h.authAt+h.authLen]
	clear(mac)
	copy(mac, usm.digest(msg, new(scratch)))
}

// TestTimeWindow: a manager with stale engine boots and time gets a signed
// notInTimeWindow Report, resynchronises and succeeds, as after an agent
// restart.
func TestTimeWindow(t *testing.T) {
	a := startAgent(t, Config{MIB: testTree(), Users: testUsers})
	u := testUser(t, "sha256-aes256")
	g := client(t, a.Addr(), func(g *gosnmp.GoSNMP) {
		v3(u, gosnmp.AuthPriv)(g)
		sp := g.SecurityParameters.(*gosnmp.UsmSecurityParameters)
		sp.AuthoritativeEngineID = string(a.EngineID())
		sp.AuthoritativeEngineBoots, sp.AuthoritativeEngineTime = 1, 100_000
	})
	get := func() {
		t.Helper()
		res, err := g.Get([]string{oidSysDescr.String()})
		if err != nil {
			t.Fatal(err)
		}
		expect(t, "Get", res.Variables, "1.3.6.1.2.1.1.1.0 = "+canon(gosnmp.OctetString, "meetnoc test agent, Version 1.0"))
	}
	get()
	if n := a.Stats().NotInTimeWindows; n != 1 {
		t.Errorf("NotInTimeWindows = %d after a stale engine time, want 1", n)
	}
	get()
	a.Restart()
	get()
	if n := a.Stats().NotInTimeWindows; n != 2 {
		t.Errorf("NotInTimeWindows = %d after a restart, want 2", n)
	}
	if b := g.SecurityParameters.(*gosnmp.UsmSecurityParameters).AuthoritativeEngineBoots; b != 2 {
		t.Errorf("manager's engine boots = %d after the restart, want 2", b)
	}
}

func TestDecryptable(t *testing.T) {
	msg := []byte{tagOctetString, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	salt := make([]byte, 8)
	for _, tc := range []struct {
		priv gosnmp.SnmpV3PrivProtocol
		salt []byte
		want bool
	}{
		{gosnmp.AES, salt, true},
		{gosnmp.AES, salt[:7], false},
		{gosnmp.DES, salt, false}, // 9 octets are not whole DES blocks
	} {
		h := v3Header{privParams: tc.salt}
		if got := decryptable(msg, &h, tc.priv); got != tc.want {
			t.Errorf("decryptable(%s, %d-octet salt) = %v, want %v", tc.priv, len(tc.salt), got, tc.want)
		}
	}
}
