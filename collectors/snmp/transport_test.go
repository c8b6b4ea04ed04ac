package snmp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/meetnoc/meetnoc/internal/config"
	"github.com/meetnoc/meetnoc/internal/lab/snmpagent"
)

func TestAuthParams(t *testing.T) {
	v3 := func(level, ap, pp string) config.Auth {
		a := config.Auth{Version: "3", Username: "noc", SecurityLevel: level, AuthProtocol: ap, PrivProtocol: pp}
		if ap != "" {
			a.AuthPassword = "auth-secret"
		}
		if pp != "" {
			a.PrivPassword = "priv-secret"
		}
		return a
	}
	type want struct {
		flags gosnmp.SnmpV3MsgFlags
		auth  gosnmp.SnmpV3AuthProtocol
		priv  gosnmp.SnmpV3PrivProtocol
	}
	cases := map[string]struct {
		auth config.Auth
		want want
	}{
		"noAuthNoPriv": {v3("noAuthNoPriv", "", ""), want{gosnmp.NoAuthNoPriv, gosnmp.NoAuth, gosnmp.NoPriv}},
		"inferred":     {v3("", "", ""), want{gosnmp.NoAuthNoPriv, gosnmp.NoAuth, gosnmp.NoPriv}},
	}
	auths := map[string]gosnmp.SnmpV3AuthProtocol{"MD5": gosnmp.MD5, "SHA": gosnmp.SHA, "SHA224": gosnmp.SHA224,
		"SHA256": gosnmp.SHA256, "SHA384": gosnmp.SHA384, "SHA512": gosnmp.SHA512}
	privs := map[string]gosnmp.SnmpV3PrivProtocol{"DES": gosnmp.DES, "AES": gosnmp.AES, "AES192": gosnmp.AES192,
		"AES256": gosnmp.AES256, "AES192C": gosnmp.AES192C, "AES256C": gosnmp.AES256C}
	for an, ap := range auths {
		cases["authNoPriv/"+an] = struct {
			auth config.Auth
			want want
		}{v3("authNoPriv", an, ""), want{gosnmp.AuthNoPriv, ap, gosnmp.NoPriv}}
		for pn, pp := range privs {
			cases["authPriv/"+an+"/"+pn] = struct {
				auth config.Auth
				want want
			}{v3("authPriv", an, pn), want{gosnmp.AuthPriv, ap, pp}}
		}
	}
	cases["inferred authPriv, lower case"] = struct {
		auth config.Auth
		want want
	}{v3("", "sha256", "aes"), want{gosnmp.AuthPriv, gosnmp.SHA256, gosnmp.AES}}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sa, err := authParams(&tc.auth)
			if err != nil {
				t.Fatal(err)
			}
			if sa.version != gosnmp.Version3 || sa.msgFlags != tc.want.flags ||
				sa.usm.UserName != "noc" || sa.usm.AuthenticationProtocol != tc.want.auth || sa.usm.PrivacyProtocol != tc.want.priv {
				t.Fatalf("got version %v flags %v user %q auth %v priv %v; want %+v",
					sa.version, sa.msgFlags, sa.usm.UserName, sa.usm.AuthenticationProtocol, sa.usm.PrivacyProtocol, tc.want)
			}
			wantAuthPass, wantPrivPass := "", ""
			if tc.want.auth != gosnmp.NoAuth {
				wantAuthPass = "auth-secret"
			}
			if tc.want.priv != gosnmp.NoPriv {
				wantPrivPass = "priv-secret"
			}
			if sa.usm.AuthenticationPassphrase != wantAuthPass || sa.usm.PrivacyPassphrase != wantPrivPass {
				t.Errorf("passphrases %q/%q, want %q/%q", sa.usm.AuthenticationPassphrase, sa.usm.PrivacyPassphrase, wantAuthPass, wantPrivPass)
			}
			// The session built from it carries the same.
			ts := &targetSettings{Host: "127.0.0.1", Port: 161, Auth: tc.auth, Timeout: time.Second, Retries: 2}
			g, err := newSession(ts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if g.Version != gosnmp.Version3 || g.MsgFlags != tc.want.flags || g.SecurityModel != gosnmp.UserSecurityModel ||
				g.Timeout != time.Second || g.Retries != 2 || g.Port != 161 {
				t.Errorf("session %+v", g)
			}
		})
	}

	v2, err := authParams(&config.Auth{Version: "2c", Community: "s3cret"})
	if err != nil || v2.version != gosnmp.Version2c || v2.community != "s3cret" {
		t.Errorf("2c: %+v, %v", v2, err)
	}

	for name, a := range map[string]config.Auth{
		"v1":                          {Version: "1", Community: "public"},
		"2c without community":        {Version: "2c"},
		"v3 without user":             {Version: "3"},
		"authNoPriv without protocol": {Version: "3", Username: "u", SecurityLevel: "authNoPriv", AuthPassword: "x"},
		"authNoPriv without password": {Version: "3", Username: "u", SecurityLevel: "authNoPriv", AuthProtocol: "SHA"},
		"authPriv bad priv":           {Version: "3", Username: "u", SecurityLevel: "authPriv", AuthProtocol: "SHA", AuthPassword: "x", PrivProtocol: "3DES", PrivPassword: "y"},
		"authPriv without password":   {Version: "3", Username: "u", SecurityLevel: "authPriv", AuthProtocol: "SHA", AuthPassword: "x", PrivProtocol: "AES"},
		"bad level":                   {Version: "3", Username: "u", SecurityLevel: "authpriv+"},
	} {
		if _, err := authParams(&a); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSplitAddress(t *testing.T) {
	for _, tc := range []struct {
		in   string
		host string
		port uint16
		bad  bool
	}{
		{"192.0.2.1:1161", "192.0.2.1", 1161, false},
		{"192.0.2.1", "192.0.2.1", 161, false},
		{"[2001:db8::1]:1161", "2001:db8::1", 1161, false},
		{"[2001:db8::1]", "2001:db8::1", 161, false},
		{"2001:db8::1", "2001:db8::1", 161, false},
		{"core1.noc.example", "core1.noc.example", 161, false},
		{"core1.noc.example:162", "core1.noc.example", 162, false},
		{"", "", 0, true},
		{"192.0.2.1:0", "", 0, true},
		{"192.0.2.1:99999", "", 0, true},
		{"[2001:db8::1", "", 0, true},
	} {
		host, port, err := splitAddress(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || host != tc.host || port != tc.port {
			t.Errorf("%q: %q %d %v; want %q %d", tc.in, host, port, err, tc.host, tc.port)
		}
	}
}

func TestClassify(t *testing.T) {
	ts := &targetSettings{Address: "192.0.2.1:161", Timeout: 5 * time.Second, Retries: 1,
		Auth: config.Auth{Version: "3", Username: "noc", SecurityLevel: "authPriv", AuthProtocol: "SHA256", PrivProtocol: "AES"}}
	for _, tc := range []struct {
		err    error
		result string
		text   string
	}{
		{fmt.Errorf("request timeout (after 1 retries): %w", gosnmp.ErrMaxRetriesExceeded), resultTimeout,
			"no response from 192.0.2.1:161 within 5s × 2 tries; agent down, wrong address, or wrong community/credentials?"},
		{fmt.Errorf("error reading from socket: %w", syscall.ECONNREFUSED), resultTimeout, "connection refused"},
		{context.DeadlineExceeded, resultTimeout, "did not finish in time"},
		{gosnmp.ErrUnknownUsername, resultAuth, `does not know SNMPv3 user "noc"`},
		{gosnmp.ErrWrongDigest, resultAuth, "check auth_protocol (SHA256) and the auth password"},
		{gosnmp.ErrDecryption, resultAuth, "check priv_protocol (AES) and the priv password"},
		{gosnmp.ErrUnknownSecurityLevel, resultAuth, "check security_level"},
		{gosnmp.ErrNotInTimeWindow, resultAuth, "notInTimeWindow"},
		{errors.New("incoming packet is not authentic, discarding"), resultAuth, "both passwords"},
		{&statusError{op: "GET", status: gosnmp.AuthorizationError}, resultAuth, "authorizationError"},
		{&statusError{op: "GET", status: gosnmp.NoAccess, oid: "1.3.6.1.2.1.1.3.0"}, resultError, "error-status NoAccess at 1.3.6.1.2.1.1.3.0"},
		{errors.New("recover: runtime error: index out of range Stack:goroutine 1 [running]:\nmain.main()"), resultError,
			"malformed answer from 192.0.2.1:161 to GET of x: runtime error: index out of range"},
		{errors.New("unable to decode packet body: bad"), resultError, "malformed answer from 192.0.2.1:161 to GET of x: unable to decode packet body: bad"},
		{errors.New("something odd"), resultError, "GET of x to 192.0.2.1:161 failed: something odd"},
	} {
		pe := classify(tc.err, ts, "GET of x", false)
		if pe.result != tc.result || !strings.Contains(pe.msg, tc.text) {
			t.Errorf("classify(%v) = %s %q; want %s containing %q", tc.err, pe.result, pe.msg, tc.result, tc.text)
		}
		if strings.Contains(pe.msg, "Stack:") {
			t.Errorf("message carries a stack: %q", pe.msg)
		}
	}
}

// TestSNMPv3 polls the lab agent over SNMPv3 with each security level, and with
// wrong credentials.
func TestSNMPv3(t *testing.T) {
	users := []snmpagent.User{
		{Name: "plain"},
		{Name: "signer", AuthProtocol: gosnmp.SHA512, AuthPassphrase: "sign-this-please"},
		{Name: "noc", AuthProtocol: gosnmp.SHA256, AuthPassphrase: "auth-pass-1234", PrivProtocol: gosnmp.AES, PrivPassphrase: "priv-pass-5678"},
		{Name: "old", AuthProtocol: gosnmp.MD5, AuthPassphrase: "md5-pass-1234", PrivProtocol: gosnmp.DES, PrivPassphrase: "des-pass-5678"},
	}
	a := startAgent(t, ifTree(2).freeze(), users...)
	cfg := testConfig()
	cfg.SNMP.Auths = map[string]*config.Auth{
		"plain":  {Version: "3", Username: "plain", SecurityLevel: "noAuthNoPriv"},
		"signer": {Version: "3", Username: "signer", SecurityLevel: "authNoPriv", AuthProtocol: "SHA512", AuthPassword: "sign-this-please"},
		"noc": {Version: "3", Username: "noc", SecurityLevel: "authPriv", AuthProtocol: "SHA256", AuthPassword: "auth-pass-1234",
			PrivProtocol: "AES", PrivPassword: "priv-pass-5678"},
		"old": {Version: "3", Username: "old", SecurityLevel: "authPriv", AuthProtocol: "MD5", AuthPassword: "md5-pass-1234",
			PrivProtocol: "DES", PrivPassword: "des-pass-5678"},
		"wrong-auth": {Version: "3", Username: "noc", SecurityLevel: "authPriv", AuthProtocol: "SHA256", AuthPassword: "not-the-password",
			PrivProtocol: "AES", PrivPassword: "priv-pass-5678"},
		"unknown-user":       {Version: "3", Username: "mallory", SecurityLevel: "authNoPriv", AuthProtocol: "SHA", AuthPassword: "whatever-1234"},
		"too-weak":           {Version: "3", Username: "noc", SecurityLevel: "noAuthNoPriv"},
		"unknown-plain-user": {Version: "3", Username: "eve", SecurityLevel: "noAuthNoPriv"},
	}
	for name := range cfg.SNMP.Auths {
		tg := targetConf(name, a.Addr(), "test_if")
		tg.Auth = name
		cfg.SNMP.Targets = append(cfg.SNMP.Targets, tg)
	}
	c := newCollector(t, cfg)
	ctx := context.Background()
	for _, name := range []string{"plain", "signer", "noc", "old"} {
		if err := c.Poll(ctx, name); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		s := snapshotOf(t, c, name)
		if got := series(s.samples)[`meetnoc_interface_up{alias="port 1",interface="Gi1/0/1",target="`+name+`"}`]; got != 0 {
			t.Errorf("%s: interface up = %v, want 0 (ifOperStatus 2)", name, got)
		}
		if len(s.samples) != 9 {
			t.Errorf("%s: %d samples, want 9", name, len(s.samples))
		}
		// A second poll reuses the session: no new engine discovery.
		before := s.requests
		if err := c.Poll(ctx, name); err != nil {
			t.Errorf("%s: second poll: %v", name, err)
		}
		if after := snapshotOf(t, c, name).requests; after-before > 3 {
			t.Errorf("%s: second poll sent %d requests, want 3 (GET, walk, end of walk)", name, after-before)
		}
	}
	for name, want := range map[string]string{
		"wrong-auth":         `rejected the request of user "noc" (unknown user, wrong digest or failed decryption); check the username, auth_protocol (SHA256), priv_protocol (AES) and both passwords`,
		"unknown-user":       `rejected the request of user "mallory"`,
		"unknown-plain-user": `does not know SNMPv3 user "eve" (usmStatsUnknownUserNames)`,
		"too-weak":           `refused user "noc" at security level noAuthNoPriv (authorizationError)`,
	} {
		err := c.Poll(ctx, name)
		st := statusOf(t, c, name)
		if err == nil || st.LastResult != resultAuth || !strings.Contains(st.LastError, want) {
			t.Errorf("%s: err %v, result %q, message %q; want auth, %q", name, err, st.LastResult, st.LastError, want)
		}
		if st.Up || st.Samples != 0 {
			t.Errorf("%s: up %v with %d samples after an auth failure", name, st.Up, st.Samples)
		}
	}
}
