package snmpagent

import (
	"slices"

	"github.com/gosnmp/gosnmp"
)

// Error-status values of a Response-PDU (RFC 3416).
const (
	errTooBig             = 1
	errNoSuchName         = 2
	errGenErr             = 5
	errNoAccess           = 6
	errAuthorizationError = 16
)

// request is a decoded Get, GetNext, GetBulk or Set request.
type request struct {
	version        gosnmp.SnmpVersion
	pduType        gosnmp.PDUType
	requestID      int64
	nonRepeaters   int
	maxRepetitions int
	names          [][]uint32       // the varbind names, in scratch memory
	vars           []gosnmp.SnmpPDU // the varbinds as gosnmp decoded them, for echoes
}

// scratch is the working memory of one request, pooled across agents so
// that 1,000 idle agents hold none of it.
type scratch struct {
	vbl    []byte   // encoded varbinds of the response
	out    []byte   // the response message
	arena  []uint32 // the request's varbind names
	ends   []int
	oidVal []uint32 // OID values given as text
	names  [][]uint32
	cols   [][]uint32 // GETBULK: the last name of each repeater
	ended  []bool     // GETBULK: the repeater reached the end of the MIB
	sum    []byte     // HMAC output
	ctx    []byte     // contextEngineID and contextName of a v3 request
}

// setNames parses the request's varbind names into scratch memory.
func (s *scratch) setNames(req *request) error {
	s.arena, s.ends = s.arena[:0], s.ends[:0]
	var err error
	for _, v := range req.vars {
		if s.arena, err = appendParseOID(s.arena, v.Name); err != nil {
			return err
		}
		s.ends = append(s.ends, len(s.arena))
	}
	s.names = s.names[:0]
	start := 0
	for _, end := range s.ends {
		s.names = append(s.names, s.arena[start:end:end])
		start = end
	}
	req.names = s.names
	return nil
}

// view is the MIB as a request sees it, with the EndWalkAt fault applied.
type view struct {
	mib MIB
	end OID
}

func (v view) get(oid []uint32) (ValueFunc, bool) {
	if v.end != nil && slices.Compare(oid, v.end) > 0 {
		return nil, false
	}
	return v.mib.Get(oid)
}

func (v view) next(oid []uint32) (OID, ValueFunc, bool) {
	if v.end != nil && slices.Compare(oid, v.end) >= 0 {
		return nil, nil, false
	}
	o, f, ok := v.mib.Next(oid)
	if ok && v.end != nil && slices.Compare(o, v.end) > 0 {
		return nil, nil, false
	}
	return o, f, ok
}

// missing is the exception for a GET of an OID the MIB does not hold. A MIB
// here is a flat list of variables without object definitions, so it guesses
// as a reader of the MIB would, taking the last sub-identifier for the
// instance: an instance of an object that has other instances is
// noSuchInstance, anything else noSuchObject. (Objects indexed by several
// sub-identifiers, like ipAdEntAddr, get noSuchObject where net-snmp, which
// knows them, says noSuchInstance.)
func (v view) missing(oid []uint32) gosnmp.Asn1BER {
	if len(oid) < 2 {
		return gosnmp.NoSuchObject
	}
	parent := oid[:len(oid)-1]
	if o, _, ok := v.next(parent); ok && len(o) > len(parent) && slices.Equal(o[:len(parent)], parent) {
		return gosnmp.NoSuchInstance
	}
	return gosnmp.NoSuchObject
}

// successor finds the first variable after oid that the request's version
// can carry, and reads it. Variables whose value is noSuchObject or
// noSuchInstance are not there; one whose value is endOfMibView ends the MIB.
// SNMPv1 cannot carry Counter64, so v1 walks skip those (RFC 3584 4.2.2.1).
func successor(v view, oid []uint32, v1 bool) (OID, gosnmp.Asn1BER, any, bool) {
	cur := oid
	for {
		o, f, ok := v.next(cur)
		if !ok {
			return nil, 0, nil, false
		}
		t, val := f()
		switch {
		case t == gosnmp.NoSuchObject || t == gosnmp.NoSuchInstance:
			cur = o
			continue
		case t == gosnmp.EndOfMibView:
			return nil, 0, nil, false
		case t == gosnmp.Counter64 && v1:
			cur = o
			continue
		}
		return o, t, val, true
	}
}

// response is a response being built: its envelope, the size limit, and the
// outcome so far.
type response struct {
	s         *scratch
	env       *envelope
	max       int
	truncated bool
}

// add appends a varbind if the message still fits; it reports whether it did.
func (r *response) add(name []uint32, v *value) bool {
	n := varBindLen(name, v)
	if r.env.size(len(r.s.vbl)+n) > r.max {
		r.truncated = true
		return false
	}
	r.s.vbl = appendVarBind(r.s.vbl, name, v)
	return true
}

// fail turns the response into an error response with the request's varbinds.
func (r *response) fail(req *request, status, index int) {
	r.env.errStatus, r.env.errIndex = int64(status), int64(index)
	r.s.vbl = r.s.vbl[:0]
	for i, name := range req.names {
		val, buf, err := prepare(req.vars[i].Type, req.vars[i].Value, r.s.oidVal[:0])
		r.s.oidVal = buf
		if err != nil || req.pduType != gosnmp.SetRequest {
			val = value{tag: byte(gosnmp.Null)}
		}
		r.s.vbl = appendVarBind(r.s.vbl, name, &val)
	}
}

// process answers req into r.s.vbl and r.env's error fields. It reports
// false when the response cannot be sent at all.
func (a *Agent) process(req *request, r *response) bool {
	v := view{mib: a.mib.Load().mib, end: a.faults.EndWalkAt()}
	v1 := req.version == gosnmp.Version1
	r.s.vbl = r.s.vbl[:0]
	r.s.oidVal = r.s.oidVal[:0]

	switch req.pduType {
	case gosnmp.GetRequest:
		a.stats.get.Add(1)
		a.get(v, req, r, v1)
	case gosnmp.GetNextRequest:
		a.stats.getNext.Add(1)
		a.getNext(v, req, r, v1)
	case gosnmp.GetBulkRequest:
		a.stats.getBulk.Add(1)
		switch a.faults.BulkBroken() {
		case BulkDropped:
			return false
		case BulkGenErr:
			r.fail(req, errGenErr, 0)
		default:
			a.getBulk(v, req, r)
		}
	case gosnmp.SetRequest:
		// A read-only agent, as net-snmp answers a read-only community or user.
		a.stats.set.Add(1)
		if v1 {
			r.fail(req, errNoSuchName, 1)
		} else {
			r.fail(req, errNoAccess, 1)
		}
	default:
		return false
	}

	if r.env.size(len(r.s.vbl)) <= r.max {
		return true
	}
	// RFC 3416 4.2.1: too big for the manager or for us: tooBig, with no
	// varbinds in v2; SNMPv1 echoes the request's (RFC 1157 4.1.2).
	a.stats.tooBig.Add(1)
	if v1 {
		r.fail(req, errTooBig, 0)
	} else {
		r.env.errStatus, r.env.errIndex = errTooBig, 0
		r.s.vbl = r.s.vbl[:0]
	}
	return r.env.size(len(r.s.vbl)) <= r.max
}

func (a *Agent) get(v view, req *request, r *response, v1 bool) {
	for i, name := range req.names {
		var t gosnmp.Asn1BER
		var val any
		if f, ok := v.get(name); ok {
			t, val = f()
			if t == gosnmp.EndOfMibView { // never an answer to GET
				t = gosnmp.NoSuchObject
			}
		} else {
			t = v.missing(name)
		}
		if v1 && (t == gosnmp.NoSuchObject || t == gosnmp.NoSuchInstance || t == gosnmp.Counter64) {
			r.fail(req, errNoSuchName, i+1)
			return
		}
		if !a.appendValue(req, r, i, name, t, val) {
			return
		}
	}
}

func (a *Agent) getNext(v view, req *request, r *response, v1 bool) {
	for i, name := range req.names {
		o, t, val, ok := successor(v, name, v1)
		if !ok {
			if v1 {
				r.fail(req, errNoSuchName, i+1)
				return
			}
			o, t = name, gosnmp.EndOfMibView
		}
		if !a.appendValue(req, r, i, o, t, val) {
			return
		}
	}
}

// appendValue encodes one varbind without a size check (GET and GETNEXT are
// checked whole). A value the MIB cannot express fails the request with genErr.
func (a *Agent) appendValue(req *request, r *response, i int, name []uint32, t gosnmp.Asn1BER, val any) bool {
	enc, buf, err := prepare(t, val, r.s.oidVal)
	r.s.oidVal = buf
	if err != nil {
		a.logger.Warn("MIB value cannot be encoded", "oid", OID(name).String(), "err", err)
		r.fail(req, errGenErr, i+1)
		return false
	}
	r.s.vbl = appendVarBind(r.s.vbl, name, &enc)
	return true
}

// getBulk follows RFC 3416 4.2.3: non-repeaters once, then up to
// max-repetitions rounds of the repeaters. When the message would outgrow the
// size limit, varbinds are dropped from the end, one by one, as the RFC says;
// a response that would hold none at all is tooBig.
func (a *Agent) getBulk(v view, req *request, r *response) {
	n := min(max(req.nonRepeaters, 0), len(req.names))
	m := max(req.maxRepetitions, 0)
	s := r.s
	count := 0
	// add encodes and appends one varbind; false stops the whole response.
	add := func(idx int, name []uint32, t gosnmp.Asn1BER, val any) bool {
		enc, buf, err := prepare(t, val, s.oidVal)
		s.oidVal = buf
		if err != nil {
			a.logger.Warn("MIB value cannot be encoded", "oid", OID(name).String(), "err", err)
			r.fail(req, errGenErr, idx+1)
			return false
		}
		if !r.add(name, &enc) {
			return false
		}
		count++
		return true
	}
	defer func() {
		if r.truncated {
			if count == 0 {
				a.stats.tooBig.Add(1)
				r.env.errStatus, r.env.errIndex = errTooBig, 0
				s.vbl = s.vbl[:0]
				return
			}
			a.stats.truncated.Add(1)
		}
	}()

	for i := range n {
		o, t, val, ok := successor(v, req.names[i], false)
		if !ok {
			o, t = req.names[i], gosnmp.EndOfMibView
		}
		if !add(i, o, t, val) {
			return
		}
	}
	reps := len(req.names) - n
	if reps == 0 || m == 0 {
		return
	}
	s.cols = append(s.cols[:0], req.names[n:]...)
	s.ended = s.ended[:0]
	for range reps {
		s.ended = append(s.ended, false)
	}
	for range m {
		allEnded := true
		for j := range reps {
			if !s.ended[j] {
				if o, t, val, ok := successor(v, s.cols[j], false); ok {
					allEnded = false
					s.cols[j] = o
					if !add(n+j, o, t, val) {
						return
					}
					continue
				}
				s.ended[j] = true
			}
			if !add(n+j, s.cols[j], gosnmp.EndOfMibView, nil) {
				return
			}
		}
		if allEnded {
			return
		}
	}
}
