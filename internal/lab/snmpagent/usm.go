package snmpagent

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des" //nolint:gosec // SNMPv3 USM privacy protocol (RFC 3414), not a choice
	"crypto/hmac"
	"fmt"
	"hash"
	"math"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Counters a Report-PDU carries (RFC 3414 usmStats, RFC 3412 snmpMPDStats,
// RFC 3413 snmpUnknownContexts).
var (
	oidUnsupportedSecLevels = MustParseOID("1.3.6.1.6.3.15.1.1.1.0")
	oidNotInTimeWindows     = MustParseOID("1.3.6.1.6.3.15.1.1.2.0")
	oidUnknownUserNames     = MustParseOID("1.3.6.1.6.3.15.1.1.3.0")
	oidUnknownEngineIDs     = MustParseOID("1.3.6.1.6.3.15.1.1.4.0")
	oidWrongDigests         = MustParseOID("1.3.6.1.6.3.15.1.1.5.0")
	oidDecryptionErrors     = MustParseOID("1.3.6.1.6.3.15.1.1.6.0")
	oidUnknownPDUHandlers   = MustParseOID("1.3.6.1.6.3.11.2.1.3.0")
	oidUnknownContexts      = MustParseOID("1.3.6.1.6.3.12.1.5.0")
)

// timeWindow is how far a request's engine time may be from ours (RFC 3414 3.2 7b).
const timeWindow = 150

// usmUser is a User with its keys localized to the agent's engine ID.
// Key localization and decryption of requests are gosnmp's; the HMAC check
// of requests and the encryption and signing of responses are here, because
// gosnmp does them only inside its own client and marshaller.
type usmUser struct {
	name    string
	auth    gosnmp.SnmpV3AuthProtocol
	priv    gosnmp.SnmpV3PrivProtocol
	level   byte // flagAuth and flagPriv as configured
	authKey []byte
	privKey []byte
	macLen  int
	// mac, block and decoder are used by the agent's Serve goroutine only.
	mac     hash.Hash
	block   cipher.Block
	decoder *gosnmp.GoSNMP
}

func newUSMUser(u User, engineID []byte) (*usmUser, error) {
	if u.Name == "" || len(u.Name) > 32 {
		return nil, fmt.Errorf("user name %q: want 1 to 32 octets", u.Name)
	}
	auth, priv := u.AuthProtocol, u.PrivProtocol
	if auth == 0 {
		auth = gosnmp.NoAuth
	}
	if priv == 0 {
		priv = gosnmp.NoPriv
	}
	if auth < gosnmp.NoAuth || auth > gosnmp.SHA512 {
		return nil, fmt.Errorf("user %q: unknown authentication protocol %d", u.Name, auth)
	}
	if priv < gosnmp.NoPriv || priv > gosnmp.AES256C {
		return nil, fmt.Errorf("user %q: unknown privacy protocol %d", u.Name, priv)
	}
	if priv != gosnmp.NoPriv && auth == gosnmp.NoAuth {
		return nil, fmt.Errorf("user %q: privacy without authentication", u.Name)
	}
	// net-snmp refuses passphrases shorter than 8 (RFC 3414 11.2), and so
	// would the lab's own managers.
	if auth != gosnmp.NoAuth && len(u.AuthPassphrase) < 8 {
		return nil, fmt.Errorf("user %q: authentication passphrase shorter than 8 characters", u.Name)
	}
	if priv != gosnmp.NoPriv && len(u.PrivPassphrase) < 8 {
		return nil, fmt.Errorf("user %q: privacy passphrase shorter than 8 characters", u.Name)
	}
	sp := &gosnmp.UsmSecurityParameters{
		UserName:                 u.Name,
		AuthoritativeEngineID:    string(engineID),
		AuthenticationProtocol:   auth,
		AuthenticationPassphrase: u.AuthPassphrase,
		PrivacyProtocol:          priv,
		PrivacyPassphrase:        u.PrivPassphrase,
	}
	if err := sp.InitSecurityKeys(); err != nil {
		return nil, fmt.Errorf("user %q: %w", u.Name, err)
	}
	usm := &usmUser{
		name: u.Name, auth: auth, priv: priv, authKey: sp.SecretKey, privKey: sp.PrivacyKey,
		decoder: &gosnmp.GoSNMP{
			Version: gosnmp.Version3, SecurityModel: gosnmp.UserSecurityModel, SecurityParameters: sp,
			Transport: "udp", MaxOids: gosnmp.MaxOids, Context: context.Background(),
		},
	}
	if auth != gosnmp.NoAuth {
		usm.level |= flagAuth
		if len(usm.authKey) == 0 {
			return nil, fmt.Errorf("user %q: no authentication key", u.Name)
		}
		usm.mac = hmac.New(auth.HashType().New, usm.authKey)
		usm.macLen = macLen(auth)
	}
	if priv != gosnmp.NoPriv {
		usm.level |= flagPriv
		var err error
		if priv == gosnmp.DES {
			if len(usm.privKey) < 16 {
				return nil, fmt.Errorf("user %q: DES key too short", u.Name)
			}
			usm.block, err = des.NewCipher(usm.privKey[:8]) //nolint:gosec // see import
		} else {
			usm.block, err = aes.NewCipher(usm.privKey)
		}
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", u.Name, err)
		}
	}
	return usm, nil
}

// macLen is the size of msgAuthenticationParameters: HMAC-96 for MD5 and
// SHA-1 (RFC 3414), the truncations of RFC 7860 for SHA-2.
func macLen(p gosnmp.SnmpV3AuthProtocol) int {
	switch p {
	case gosnmp.SHA224:
		return 16
	case gosnmp.SHA256:
		return 24
	case gosnmp.SHA384:
		return 32
	case gosnmp.SHA512:
		return 48
	}
	return 12
}

// digest is the truncated HMAC of a whole message whose MAC field is zero.
func (u *usmUser) digest(msg []byte, s *scratch) []byte {
	u.mac.Reset()
	u.mac.Write(msg)
	s.sum = u.mac.Sum(s.sum[:0])
	return s.sum[:u.macLen]
}

// v3Header is the unencrypted part of an SNMPv3 message (RFC 3412 6, RFC 3414 2.4).
type v3Header struct {
	msgID      int64
	maxSize    int64
	flags      byte
	secModel   int64
	engineID   []byte
	boots      int64
	time       int64
	user       []byte
	authAt     int // offset of msgAuthenticationParameters' content in the message
	authLen    int
	privParams []byte
	scopedAt   int // offset of the scopedPduData TLV
}

// parseV3Header reads the header of an SNMPv3 message without allocating.
// Everything it returns points into pkt.
func parseV3Header(pkt []byte) (h v3Header, ok bool) {
	r := berReader{b: pkt}
	if !r.enter(tagSequence) || len(r.b) != len(pkt) {
		return h, false
	}
	if v, ok := r.int(tagInteger); !ok || v != int64(gosnmp.Version3) {
		return h, false
	}
	g := r
	if !g.enter(tagSequence) {
		return h, false
	}
	r.next()
	var flags []byte
	var okID, okMax, okFlags, okModel bool
	h.msgID, okID = g.int(tagInteger)
	h.maxSize, okMax = g.int(tagInteger)
	flags, _, okFlags = g.octets()
	h.secModel, okModel = g.int(tagInteger)
	if !okID || !okMax || !okFlags || !okModel || len(flags) != 1 || h.msgID < 0 || h.msgID > math.MaxInt32 {
		return h, false
	}
	h.flags = flags[0]
	params, at, ok := r.octets()
	if !ok {
		return h, false
	}
	h.scopedAt = r.off
	if _, _, end, ok := r.next(); !ok || end != len(pkt) {
		return h, false
	}
	if h.secModel != int64(gosnmp.UserSecurityModel) {
		return h, true // not USM: the caller drops it
	}
	u := berReader{b: pkt[:at+len(params)], off: at}
	if !u.enter(tagSequence) {
		return h, false
	}
	var okE, okB, okT, okU, okA, okP bool
	var auth []byte
	h.engineID, _, okE = u.octets()
	h.boots, okB = u.int(tagInteger)
	h.time, okT = u.int(tagInteger)
	h.user, _, okU = u.octets()
	auth, h.authAt, okA = u.octets()
	h.privParams, _, okP = u.octets()
	h.authLen = len(auth)
	if !okE || !okB || !okT || !okU || !okA || !okP || len(h.engineID) > 32 || len(h.user) > 32 {
		return h, false
	}
	return h, true
}

// peekRequestID reads the request-id of a plaintext scoped PDU, for Reports
// about requests that go no further.
func peekRequestID(pkt []byte, at int) int64 {
	r := berReader{b: pkt, off: at}
	if !r.enter(tagSequence) {
		return 0
	}
	if _, _, ok := r.octets(); !ok {
		return 0
	}
	if _, _, ok := r.octets(); !ok {
		return 0
	}
	tag, start, end, ok := r.next()
	if !ok || tag < 0xa0 || tag > 0xa8 {
		return 0
	}
	p := berReader{b: pkt[:end], off: start}
	id, _ := p.int(tagInteger)
	return id
}

// answerV3 runs the checks of RFC 3412 7.2 and RFC 3414 3.2 in their order,
// answering a failed one with the Report-PDU net-snmp sends, then answers
// the request.
func (a *Agent) answerV3(pkt []byte, s *scratch) []byte {
	h, ok := parseV3Header(pkt)
	if !ok {
		a.parseError("malformed SNMPv3 header")
		return nil
	}
	level := h.flags & (flagAuth | flagPriv)
	switch {
	case h.secModel != int64(gosnmp.UserSecurityModel):
		a.parseError("security model other than USM")
		return nil
	case level == flagPriv:
		a.parseError("privacy without authentication")
		return nil
	case h.maxSize < minMessageSize:
		a.parseError("msgMaxSize below 484")
		return nil
	}
	eng := a.engine.Load()
	engineTime := int64(time.Since(eng.started) / time.Second)

	// Reports on failed security checks go out unauthenticated (RFC 3414
	// 3.1.1a), but for notInTimeWindow, which is signed so that the manager
	// can trust the engine boots and time in it.
	if !bytes.Equal(h.engineID, a.engineID) {
		// Also the answer to engine ID discovery (RFC 3414 4).
		n := a.stats.unknownEngineIDs.Add(1)
		return a.report(pkt, &h, s, nil, 0, oidUnknownEngineIDs, n, eng, engineTime)
	}
	u := a.users[string(h.user)]
	if u == nil {
		n := a.stats.unknownUserNames.Add(1)
		return a.report(pkt, &h, s, nil, 0, oidUnknownUserNames, n, eng, engineTime)
	}
	if level&^u.level != 0 {
		n := a.stats.unsupportedSecLevels.Add(1)
		return a.report(pkt, &h, s, nil, 0, oidUnsupportedSecLevels, n, eng, engineTime)
	}
	if level&flagAuth != 0 {
		if h.authLen != u.macLen {
			n := a.stats.wrongDigests.Add(1)
			return a.report(pkt, &h, s, nil, 0, oidWrongDigests, n, eng, engineTime)
		}
		var got [64]byte
		mac := pkt[h.authAt : h.authAt+h.authLen]
		copy(got[:], mac)
		clear(mac)
		if !hmac.Equal(u.digest(pkt, s), got[:h.authLen]) {
			n := a.stats.wrongDigests.Add(1)
			return a.report(pkt, &h, s, nil, 0, oidWrongDigests, n, eng, engineTime)
		}
		if eng.boots == math.MaxInt32 || h.boots != int64(eng.boots) ||
			h.time < engineTime-timeWindow || h.time > engineTime+timeWindow {
			n := a.stats.notInTimeWindows.Add(1)
			return a.report(pkt, &h, s, u, flagAuth, oidNotInTimeWindows, n, eng, engineTime)
		}
	}
	if level&flagPriv != 0 && !decryptable(pkt, &h, u.priv) {
		n := a.stats.decryptionErrors.Add(1)
		return a.report(pkt, &h, s, nil, 0, oidDecryptionErrors, n, eng, engineTime)
	}

	// gosnmp decrypts and decodes (its SnmpDecodePacket checks no MAC; ours
	// is checked above).
	u.decoder.MsgFlags = gosnmp.SnmpV3MsgFlags(level)
	p, err := u.decoder.SnmpDecodePacket(pkt)
	if err != nil {
		// A wrong privacy key yields garbage, not an error (AES-CFB, DES-CBC
		// have no integrity): net-snmp drops such requests, so do we.
		a.parseError(err.Error())
		return nil
	}
	s.ctx = append(append(s.ctx[:0], p.ContextEngineID...), p.ContextName...)
	env := a.v3Envelope(&h, u, level, eng, engineTime, gosnmp.GetResponse, int64(int32(p.RequestID)))
	env.ctxEngineID = s.ctx[:len(p.ContextEngineID)]
	env.ctxName = s.ctx[len(p.ContextEngineID):]
	if len(env.ctxEngineID) > 0 && !bytes.Equal(env.ctxEngineID, a.engineID) {
		n := a.stats.unknownContexts.Add(1)
		return a.report(pkt, &h, s, u, level, oidUnknownPDUHandlers, n, eng, engineTime)
	}
	if len(env.ctxName) > 0 {
		n := a.stats.unknownContexts.Add(1)
		return a.report(pkt, &h, s, u, level, oidUnknownContexts, n, eng, engineTime)
	}
	if len(env.ctxEngineID) == 0 {
		env.ctxEngineID = a.engineID
	}

	req, ok := a.newRequest(s, gosnmp.Version3, p)
	if !ok {
		return nil
	}
	resp := response{s: s, env: &env, max: a.maxResponse(h.maxSize)}
	if level < u.level {
		// USM accepted the message, access control does not (net-snmp's
		// "rouser NAME authpriv" answering an authNoPriv request).
		switch req.pduType {
		case gosnmp.GetRequest, gosnmp.GetNextRequest, gosnmp.GetBulkRequest, gosnmp.SetRequest:
			resp.fail(&req, errAuthorizationError, 0)
		default:
			return nil
		}
	} else if !a.process(&req, &resp) {
		return nil
	}
	return a.encode(&env, s, &a.stats.responses)
}

// decryptable checks what RFC 3414 8.3.2 and RFC 3826 3.1.4 call decryption
// errors: a salt of the wrong size, or DES ciphertext that is not whole blocks.
func decryptable(pkt []byte, h *v3Header, priv gosnmp.SnmpV3PrivProtocol) bool {
	if len(h.privParams) != 8 {
		return false
	}
	r := berReader{b: pkt, off: h.scopedAt}
	tag, start, end, ok := r.next()
	if !ok || tag != tagOctetString {
		return false
	}
	return priv != gosnmp.DES || (end-start)%des.BlockSize == 0
}

// report builds a Report-PDU carrying one counter, if the request asked for
// reports. level is its security level; signing and encryption use u.
func (a *Agent) report(pkt []byte, h *v3Header, s *scratch, u *usmUser, level byte, oid OID, count uint64, eng *engineState, engineTime int64) []byte {
	if h.flags&flagReportable == 0 {
		return nil
	}
	var requestID int64
	if h.flags&flagPriv == 0 {
		requestID = peekRequestID(pkt, h.scopedAt)
	}
	env := a.v3Envelope(h, u, level, eng, engineTime, gosnmp.Report, requestID)
	env.ctxEngineID = a.engineID
	val := value{tag: byte(gosnmp.Counter32), kind: kindUint, u: uint64(uint32(count)), n: uintLen(uint64(uint32(count)))}
	s.vbl = appendVarBind(s.vbl[:0], oid, &val)
	return a.encode(&env, s, &a.stats.reports)
}

// v3Envelope is the header of an SNMPv3 message from this engine to the sender
// of h, signed and encrypted as level says with u's keys.
func (a *Agent) v3Envelope(h *v3Header, u *usmUser, level byte, eng *engineState, engineTime int64, pdu gosnmp.PDUType, requestID int64) envelope {
	return envelope{
		version:   gosnmp.Version3,
		msgID:     h.msgID,
		maxSize:   maxRequestSize,
		flags:     level,
		engineID:  a.engineID,
		boots:     int64(eng.boots),
		time:      engineTime,
		userName:  h.user,
		user:      u,
		salt:      a.salt.Add(1),
		pduType:   pdu,
		requestID: requestID,
	}
}

// encrypt encrypts a scoped PDU in place: AES in CFB-128 mode with the IV of
// RFC 3826 3.1.2.1, DES in CBC mode with the IV of RFC 3414 8.1.1.1.
func (u *usmUser) encrypt(data, salt []byte, boots, engineTime int64) error {
	switch u.priv {
	case gosnmp.DES:
		var iv [des.BlockSize]byte
		for i := range iv {
			iv[i] = u.privKey[8+i] ^ salt[i]
		}
		cipher.NewCBCEncrypter(u.block, iv[:]).CryptBlocks(data, data)
	case gosnmp.AES, gosnmp.AES192, gosnmp.AES256, gosnmp.AES192C, gosnmp.AES256C:
		var iv [16]byte
		putUint32(iv[0:], uint32(boots))
		putUint32(iv[4:], uint32(engineTime))
		copy(iv[8:], salt)
		//nolint:staticcheck // RFC 3826 prescribes CFB-128
		cipher.NewCFBEncrypter(u.block, iv[:]).XORKeyStream(data, data)
	default:
		return fmt.Errorf("privacy protocol %s not supported", u.priv)
	}
	return nil
}

// appendSalt appends msgPrivacyParameters: for DES the engine boots and a
// counter (RFC 3414 8.1.1.1), for AES a 64-bit counter (RFC 3826 3.1.2.1).
func (u *usmUser) appendSalt(b []byte, boots int64, salt uint64) []byte {
	if u.priv == gosnmp.DES {
		salt = uint64(uint32(boots))<<32 | salt&0xffffffff
	}
	return append(b, byte(salt>>56), byte(salt>>48), byte(salt>>40), byte(salt>>32),
		byte(salt>>24), byte(salt>>16), byte(salt>>8), byte(salt))
}

func putUint32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
