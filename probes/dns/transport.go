package dns

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"
)

// errConnClosed is a stream connection that ended while a query waited on it.
var errConnClosed = errors.New("connection closed before the answer")

// exchange is one query in flight and, once answered, its answer. A probe owns
// one and reuses it (and its buffers) for every query it sends.
type exchange struct {
	query  []byte   // the packed query; its first two bytes are the ID
	frame  []byte   // query with a 2-byte length prefix, for TCP and TLS
	conn   net.Conn // the connection the query went out on
	fresh  bool     // conn was dialed for this query
	probe  *probe   // the probe that owns the exchange
	notify chan<- *exchange

	// Set under transport.mu by the reader before the exchange is handed to
	// notify: the matching answer, or the network error that ended the query.
	answer []byte
	err    error

	// Answers with the query's ID that did not match its question, counted
	// under transport.mu; the last one's reason goes into a failure's detail.
	mismatched   int
	lastMismatch string
}

// transport is one resolver's reused socket: a connected UDP socket, or a TCP
// or TLS connection on which queries are pipelined. A reader goroutine hands
// each answer to the query in flight with the same ID and question; anything
// else is counted and dropped, so a stray or spoofed packet is never taken for
// the answer.
type transport struct {
	network string // udp, tcp, tls
	addr    string
	dial    func(ctx context.Context) (net.Conn, error)
	stray   func(reason string) // counts an answer that matched no query

	mu      sync.Mutex
	conn    net.Conn
	pending map[uint16]*exchange
	closed  bool

	writeMu sync.Mutex
}

func newTransport(network, addr string, dialer *net.Dialer, tlsConfig *tls.Config, stray func(string)) *transport {
	t := &transport{network: network, addr: addr, stray: stray, pending: map[uint16]*exchange{}}
	switch network {
	case "tls":
		d := &tls.Dialer{NetDialer: dialer, Config: tlsConfig}
		t.dial = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	default:
		t.dial = func(ctx context.Context) (net.Conn, error) { return dialer.DialContext(ctx, network, addr) }
	}
	return t
}

func (t *transport) stream() bool { return t.network != "udp" }

// connect returns the open connection, or dials one by deadline. fresh says
// it was dialed by this call.
func (t *transport) connect(ctx context.Context, deadline time.Time) (conn net.Conn, fresh bool, err error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, false, net.ErrClosed
	}
	if t.conn != nil {
		c := t.conn
		t.mu.Unlock()
		return c, false, nil
	}
	t.mu.Unlock()
	// Dial outside the lock; if two dial at once (the old and the new
	// schedule of a resolver, for a moment after a reload), the loser's
	// connection is closed and it uses the winner's.
	ctx, cancel := context.WithDeadline(ctx, deadline)
	c, err := t.dial(ctx)
	cancel()
	if err != nil {
		return nil, false, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		c.Close()
		return nil, false, net.ErrClosed
	}
	if t.conn != nil {
		c.Close()
		return t.conn, false, nil
	}
	t.conn = c
	go t.read(c)
	return c, true, nil
}

// send writes ex.query and returns without waiting: the answer, or the error
// that ends the query, is handed to notify by the reader, with ex.answer or
// ex.err set. An error returned by send ends the query (if the connection
// failed at that very moment, the exchange may be handed over too, once; the
// owner has its verdict by then and ignores it). notify must have room for
// every exchange its owner has in flight, as the reader never blocks on it.
func (t *transport) send(ctx context.Context, ex *exchange, deadline time.Time, notify chan<- *exchange) error {
	conn, fresh, err := t.connect(ctx, deadline)
	if err != nil {
		return err
	}
	t.mu.Lock()
	id := uint16(rand.N(1 << 16))
	for t.pending[id] != nil {
		id++
	}
	binary.BigEndian.PutUint16(ex.query, id)
	ex.conn, ex.fresh, ex.notify = conn, fresh, notify
	ex.answer, ex.err = ex.answer[:0], nil
	ex.mismatched, ex.lastMismatch = 0, ""
	t.pending[id] = ex
	t.mu.Unlock()

	out := ex.query
	if t.stream() {
		ex.frame = binary.BigEndian.AppendUint16(ex.frame[:0], uint16(len(ex.query)))
		ex.frame = append(ex.frame, ex.query...)
		out = ex.frame
	}
	t.writeMu.Lock()
	_ = conn.SetWriteDeadline(deadline)
	_, err = conn.Write(out)
	t.writeMu.Unlock()
	if err != nil {
		// Taken out first, so that failing the connection's other queries
		// does not hand this one over as well.
		t.forget(ex)
		t.drop(conn, err)
		return err
	}
	return nil
}

// forget takes ex out of the queries in flight (it timed out, or its owner
// stopped). Once it returns, nothing more of ex is handed over.
func (t *transport) forget(ex *exchange) {
	id := binary.BigEndian.Uint16(ex.query)
	t.mu.Lock()
	if t.pending[id] == ex {
		delete(t.pending, id)
	}
	t.mu.Unlock()
}

// read hands every answer on conn to its query until conn fails.
func (t *transport) read(conn net.Conn) {
	buf := make([]byte, 65535)
	for {
		var n int
		var err error
		if t.stream() {
			if _, err = io.ReadFull(conn, buf[:2]); err == nil {
				n = int(binary.BigEndian.Uint16(buf))
				_, err = io.ReadFull(conn, buf[:n])
			}
		} else {
			n, err = conn.Read(buf)
		}
		if err != nil {
			// On a connected UDP socket an ICMP port unreachable comes back as
			// ECONNREFUSED: nothing listens. The socket itself is still good.
			if !t.stream() && errors.Is(err, syscall.ECONNREFUSED) {
				t.fail(conn, fmt.Errorf("connection refused (nothing listens on %s)", t.addr))
				continue
			}
			t.drop(conn, err)
			return
		}
		t.deliver(buf[:n])
	}
}

// deliver gives one answer to the query it belongs to.
func (t *transport) deliver(b []byte) {
	if len(b) < 12 {
		t.stray("short")
		return
	}
	t.mu.Lock()
	ex := t.pending[binary.BigEndian.Uint16(b)]
	if ex == nil {
		t.mu.Unlock()
		t.stray("id")
		return
	}
	if err := matchAnswer(ex.query, b); err != nil {
		ex.mismatched++
		ex.lastMismatch = err.Error()
		t.mu.Unlock()
		t.stray("question")
		return
	}
	delete(t.pending, binary.BigEndian.Uint16(b))
	ex.answer = append(ex.answer[:0], b...)
	ex.err = nil
	// Handed over under the lock, so that once the owner has forgotten the
	// query (under the lock too) no late result can land in a later send.
	handOver(ex)
	t.mu.Unlock()
}

// handOver gives a finished exchange to its owner; called with transport.mu
// held. The owner's channel has room for all its exchanges in flight, each
// handed over at most once per send, so this never drops one in practice; it
// never blocks the reader either way.
func handOver(ex *exchange) {
	select {
	case ex.notify <- ex:
	default:
	}
}

// fail ends every query waiting on conn with err.
func (t *transport) fail(conn net.Conn, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, ex := range t.pending {
		if ex.conn == conn {
			delete(t.pending, id)
			ex.err = err
			handOver(ex)
		}
	}
}

// drop closes a failed connection, so that the next query dials a new one, and
// fails the queries that waited on it.
func (t *transport) drop(conn net.Conn, err error) {
	conn.Close()
	t.mu.Lock()
	if t.conn == conn {
		t.conn = nil
	}
	t.mu.Unlock()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		err = errConnClosed
	}
	t.fail(conn, err)
}

// close ends the transport for good.
func (t *transport) close() {
	t.mu.Lock()
	t.closed = true
	c := t.conn
	t.conn = nil
	t.mu.Unlock()
	if c != nil {
		c.Close()
		t.fail(c, net.ErrClosed)
	}
}

// matchAnswer checks that answer is a response to query: the same ID, the QR
// bit, and the same single question (names compared case-insensitively, as a
// resolver may echo the name in another case).
func matchAnswer(query, answer []byte) error {
	if len(answer) < 12 {
		return fmt.Errorf("answer of %d bytes is shorter than a DNS header", len(answer))
	}
	if answer[0] != query[0] || answer[1] != query[1] {
		return fmt.Errorf("answer ID %d, want %d", binary.BigEndian.Uint16(answer), binary.BigEndian.Uint16(query))
	}
	if answer[2]&0x80 == 0 {
		return errors.New("QR bit not set: a query, not an answer")
	}
	qd := binary.BigEndian.Uint16(answer[4:])
	if qd != 1 {
		return fmt.Errorf("answer has %d questions, want 1", qd)
	}
	// The query's question runs from byte 12 to the end of its QTYPE/QCLASS.
	q := query[12:questionEnd(query)]
	if len(answer) < 12+len(q) || !sameQuestion(answer[12:12+len(q)], q) {
		return errors.New("answer's question is not the question asked")
	}
	return nil
}

// sameQuestion compares two packed questions: the name ignoring ASCII case,
// QTYPE and QCLASS exactly.
func sameQuestion(a, b []byte) bool {
	if len(a) != len(b) || len(b) < 4 {
		return false
	}
	n := len(b) - 4
	for i := range n {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return bytes.Equal(a[n:], b[n:])
}

// questionEnd is the offset after the first question of a packed message that
// this package built itself (uncompressed name).
func questionEnd(msg []byte) int {
	i := 12
	for i < len(msg) && msg[i] != 0 {
		i += int(msg[i]) + 1
	}
	return min(i+1+4, len(msg))
}
