package snmpagent

import "github.com/gosnmp/gosnmp"

// SNMPv3 msgFlags bits.
const (
	flagAuth       = 0x01
	flagPriv       = 0x02
	flagReportable = 0x04
)

// envelope is everything of a response message but its varbinds, so that
// the size of the message can be known before it is written.
type envelope struct {
	version   gosnmp.SnmpVersion
	community []byte

	// SNMPv3 only.
	msgID       int64
	maxSize     int64 // msgMaxSize: what we accept
	flags       byte  // flagAuth, flagPriv
	engineID    []byte
	boots       int64
	time        int64
	userName    []byte
	user        *usmUser // keys; needed when flags has flagAuth
	salt        uint64   // privacy salt: unique per message
	ctxEngineID []byte
	ctxName     []byte

	pduType   gosnmp.PDUType
	requestID int64
	errStatus int64
	errIndex  int64
}

func (e *envelope) pduContentLen(vblLen int) int {
	return tlvLen(intLen(e.requestID)) + tlvLen(intLen(e.errStatus)) + tlvLen(intLen(e.errIndex)) + tlvLen(vblLen)
}

func (e *envelope) macLen() int {
	if e.flags&flagAuth == 0 {
		return 0
	}
	return e.user.macLen
}

func (e *envelope) privLen() int {
	if e.flags&flagPriv == 0 {
		return 0
	}
	return 8
}

func (e *envelope) globalContentLen() int {
	return tlvLen(intLen(e.msgID)) + tlvLen(intLen(e.maxSize)) + tlvLen(1) + tlvLen(1)
}

func (e *envelope) usmContentLen() int {
	return tlvLen(len(e.engineID)) + tlvLen(intLen(e.boots)) + tlvLen(intLen(e.time)) +
		tlvLen(len(e.userName)) + tlvLen(e.macLen()) + tlvLen(e.privLen())
}

func (e *envelope) scopedContentLen(pduLen int) int {
	return tlvLen(len(e.ctxEngineID)) + tlvLen(len(e.ctxName)) + pduLen
}

// cipherLen is the size of the encrypted scoped PDU of plain size n: DES
// works on 8-octet blocks (RFC 3414 8.1.1.2), AES in CFB mode needs no padding.
func (e *envelope) cipherLen(n int) int {
	if e.user.priv == gosnmp.DES {
		return (n + 7) &^ 7
	}
	return n
}

func (e *envelope) scopedFieldLen(pduLen int) int {
	n := tlvLen(e.scopedContentLen(pduLen))
	if e.flags&flagPriv != 0 {
		return tlvLen(e.cipherLen(n))
	}
	return n
}

func (e *envelope) contentLen(vblLen int) int {
	pdu := tlvLen(e.pduContentLen(vblLen))
	if e.version != gosnmp.Version3 {
		return tlvLen(1) + tlvLen(len(e.community)) + pdu
	}
	return tlvLen(1) + tlvLen(e.globalContentLen()) + tlvLen(tlvLen(e.usmContentLen())) + e.scopedFieldLen(pdu)
}

// size is the size of the whole message carrying vblLen octets of varbinds.
func (e *envelope) size(vblLen int) int { return tlvLen(e.contentLen(vblLen)) }

func (e *envelope) appendPDU(b, vbl []byte) []byte {
	b = appendHeader(b, byte(e.pduType), e.pduContentLen(len(vbl)))
	b = appendInt(b, tagInteger, e.requestID)
	b = appendInt(b, tagInteger, e.errStatus)
	b = appendInt(b, tagInteger, e.errIndex)
	b = appendHeader(b, tagSequence, len(vbl))
	return append(b, vbl...)
}

// appendMessage writes the message carrying the varbinds vbl, encrypted and
// signed as the envelope's flags say.
func (e *envelope) appendMessage(b, vbl []byte, s *scratch) ([]byte, error) {
	start := len(b)
	b = appendHeader(b, tagSequence, e.contentLen(len(vbl)))
	b = appendInt(b, tagInteger, int64(e.version))
	if e.version != gosnmp.Version3 {
		b = appendHeader(b, tagOctetString, len(e.community))
		b = append(b, e.community...)
		return e.appendPDU(b, vbl), nil
	}

	b = appendHeader(b, tagSequence, e.globalContentLen())
	b = appendInt(b, tagInteger, e.msgID)
	b = appendInt(b, tagInteger, e.maxSize)
	b = append(b, tagOctetString, 1, e.flags)
	b = appendInt(b, tagInteger, int64(gosnmp.UserSecurityModel))

	usm := e.usmContentLen()
	b = appendHeader(b, tagOctetString, tlvLen(usm))
	b = appendHeader(b, tagSequence, usm)
	b = appendHeader(b, tagOctetString, len(e.engineID))
	b = append(b, e.engineID...)
	b = appendInt(b, tagInteger, e.boots)
	b = appendInt(b, tagInteger, e.time)
	b = appendHeader(b, tagOctetString, len(e.userName))
	b = append(b, e.userName...)
	b = appendHeader(b, tagOctetString, e.macLen())
	macAt := len(b)
	for range e.macLen() {
		b = append(b, 0) // zeros while the digest is computed (RFC 3414 6.3.1)
	}
	b = appendHeader(b, tagOctetString, e.privLen())
	saltAt := len(b)
	if e.flags&flagPriv != 0 {
		b = e.user.appendSalt(b, e.boots, e.salt)
	}

	pdu := tlvLen(e.pduContentLen(len(vbl)))
	if e.flags&flagPriv != 0 {
		plain := tlvLen(e.scopedContentLen(pdu))
		b = appendHeader(b, tagOctetString, e.cipherLen(plain))
		at := len(b)
		b = e.appendScoped(b, pdu, vbl)
		for len(b)-at < e.cipherLen(plain) {
			b = append(b, 0)
		}
		if err := e.user.encrypt(b[at:], b[saltAt:saltAt+8], e.boots, e.time); err != nil {
			return nil, err
		}
	} else {
		b = e.appendScoped(b, pdu, vbl)
	}
	if e.flags&flagAuth != 0 {
		copy(b[macAt:macAt+e.macLen()], e.user.digest(b[start:], s))
	}
	return b, nil
}

func (e *envelope) appendScoped(b []byte, pduLen int, vbl []byte) []byte {
	b = appendHeader(b, tagSequence, e.scopedContentLen(pduLen))
	b = appendHeader(b, tagOctetString, len(e.ctxEngineID))
	b = append(b, e.ctxEngineID...)
	b = appendHeader(b, tagOctetString, len(e.ctxName))
	b = append(b, e.ctxName...)
	return e.appendPDU(b, vbl)
}
