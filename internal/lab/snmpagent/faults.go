package snmpagent

import (
	"slices"
	"sync/atomic"
	"time"
)

// Faults are misbehaviours a test or the lab can switch on while an agent
// runs, to show how a poller copes with the ways real agents fail. The zero
// value injects nothing; every method is safe for concurrent use, and a nil
// *Faults reads as no faults.
type Faults struct {
	drop       atomic.Bool
	delay      atomic.Int64
	bulk       atomic.Int32
	endWalkAt  atomic.Pointer[OID]
	tooBigOver atomic.Int64
}

// BulkFailure is how an agent with a broken GETBULK answers one.
type BulkFailure int32

const (
	// BulkWorks answers GETBULK normally.
	BulkWorks BulkFailure = iota
	// BulkDropped never answers a GETBULK, while GET and GETNEXT work: what
	// SNMPv1-only stacks do with the PDU type they do not know, and what
	// firmware bugs that hang on GETBULK look like from the outside. The
	// poller sees a timeout, so only a GET that succeeds in the same poll
	// tells it that the agent is alive and GETBULK is the problem.
	BulkDropped
	// BulkGenErr answers every GETBULK with error-status genErr, error-index 0
	// and the request's varbinds, as some embedded agents do.
	BulkGenErr
)

// SetDrop makes the agent answer nothing at all, as an agent that is down or
// unreachable does.
func (f *Faults) SetDrop(drop bool) { f.drop.Store(drop) }

// Drop reports whether the agent answers nothing.
func (f *Faults) Drop() bool { return f != nil && f.drop.Load() }

// SetDelay makes the agent answer each request d late; 0 answers at once.
// Requests queue behind a delayed one, as they do on an overloaded agent.
func (f *Faults) SetDelay(d time.Duration) { f.delay.Store(int64(d)) }

// Delay is the current answer delay.
func (f *Faults) Delay() time.Duration {
	if f == nil {
		return 0
	}
	return time.Duration(f.delay.Load())
}

// SetBulkBroken selects how GETBULK fails; BulkWorks repairs it.
func (f *Faults) SetBulkBroken(b BulkFailure) { f.bulk.Store(int32(b)) }

// BulkBroken is how GETBULK currently fails.
func (f *Faults) BulkBroken() BulkFailure {
	if f == nil {
		return BulkWorks
	}
	return BulkFailure(f.bulk.Load())
}

// SetEndWalkAt makes the agent behave as if its MIB ended at oid: variables
// after it do not exist (noSuchInstance or noSuchObject for GET, endOfMibView
// or, in SNMPv1, noSuchName for GETNEXT and GETBULK), so a walk of a table
// ends early. oid itself is still served. A nil oid serves the whole MIB again.
func (f *Faults) SetEndWalkAt(oid OID) {
	if oid == nil {
		f.endWalkAt.Store(nil)
		return
	}
	c := slices.Clone(oid)
	f.endWalkAt.Store(&c)
}

// EndWalkAt is the OID the MIB currently ends at, nil for none.
func (f *Faults) EndWalkAt() OID {
	if f == nil {
		return nil
	}
	if p := f.endWalkAt.Load(); p != nil {
		return *p
	}
	return nil
}

// SetTooBigOver limits responses to n bytes (the whole SNMP message), on top
// of the agent's MaxMessageSize and the manager's msgMaxSize: a GET or GETNEXT
// whose response would be larger is answered with tooBig, a GETBULK response
// is cut short. 0 removes the limit.
func (f *Faults) SetTooBigOver(n int) { f.tooBigOver.Store(int64(n)) }

// TooBigOver is the current response size limit, 0 for none.
func (f *Faults) TooBigOver() int {
	if f == nil {
		return 0
	}
	return int(f.tooBigOver.Load())
}

// Reset switches every fault off.
func (f *Faults) Reset() {
	f.SetDrop(false)
	f.SetDelay(0)
	f.SetBulkBroken(BulkWorks)
	f.SetEndWalkAt(nil)
	f.SetTooBigOver(0)
}
