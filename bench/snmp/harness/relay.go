package main

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
)

// A relay forwards UDP datagrams between pollers and one agent and counts them
// (and, decoding them, the requests by PDU type and the varbinds answered):
// the packet counts of the benchmark come from here, the same way for both
// tools, not from what either tool says about itself. Every poller socket gets
// an upstream socket of its own, so that the agent sees as many peers as there
// are, and answers go back to the socket that asked.
type relay struct {
	conn     *net.UDPConn
	upstream *net.UDPAddr

	mu      sync.Mutex
	clients map[netip.AddrPort]*net.UDPConn
	wg      sync.WaitGroup

	requests, responses         atomic.Uint64
	requestBytes, responseBytes atomic.Uint64
	gets, getNexts, getBulks    atomic.Uint64
	varbinds, undecodable       atomic.Uint64
}

// relayIdle closes an upstream socket that has carried nothing for this long:
// snmp_exporter opens a new socket for every scrape.
const relayIdle = 20 * time.Second

func newRelay(agent string) (*relay, error) {
	up, err := net.ResolveUDPAddr("udp", agent)
	if err != nil {
		return nil, err
	}
	if !up.IP.IsLoopback() {
		return nil, errors.New("relay: agent must be on loopback: " + agent)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	r := &relay{conn: conn, upstream: up, clients: map[netip.AddrPort]*net.UDPConn{}}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// Addr is where pollers send their requests.
func (r *relay) Addr() string { return r.conn.LocalAddr().String() }

func (r *relay) serve() {
	defer r.wg.Done()
	dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Logger: gosnmp.NewLogger(nil)}
	buf := make([]byte, 65535)
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		r.requests.Add(1)
		r.requestBytes.Add(uint64(n))
		if pkt, err := dec.SnmpDecodePacket(buf[:n]); err == nil {
			switch pkt.PDUType {
			case gosnmp.GetRequest:
				r.gets.Add(1)
			case gosnmp.GetNextRequest:
				r.getNexts.Add(1)
			case gosnmp.GetBulkRequest:
				r.getBulks.Add(1)
			}
		} else {
			r.undecodable.Add(1)
		}
		up, err := r.client(from)
		if err != nil {
			continue
		}
		_, _ = up.Write(buf[:n])
	}
}

func (r *relay) client(from netip.AddrPort) (*net.UDPConn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.clients[from]; c != nil {
		return c, nil
	}
	c, err := net.DialUDP("udp", nil, r.upstream)
	if err != nil {
		return nil, err
	}
	r.clients[from] = c
	r.wg.Add(1)
	go r.answers(from, c)
	return c, nil
}

// answers forwards the agent's answers to one poller socket, counting them and
// the variable bindings in them.
func (r *relay) answers(to netip.AddrPort, c *net.UDPConn) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.clients, to)
		r.mu.Unlock()
		c.Close()
	}()
	dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Logger: gosnmp.NewLogger(nil)}
	buf := make([]byte, 65535)
	for {
		_ = c.SetReadDeadline(time.Now().Add(relayIdle))
		n, err := c.Read(buf)
		if err != nil {
			return // idle, or closed
		}
		r.responses.Add(1)
		r.responseBytes.Add(uint64(n))
		if pkt, err := dec.SnmpDecodePacket(buf[:n]); err == nil {
			r.varbinds.Add(uint64(len(pkt.Variables)))
		} else {
			r.undecodable.Add(1)
		}
		_, _ = r.conn.WriteToUDPAddrPort(buf[:n], to)
	}
}

// relayCounts is a snapshot of a relay's counters.
type relayCounts struct {
	Requests, Responses, RequestBytes, ResponseBytes, Varbinds, Undecodable uint64
	Gets, GetNexts, GetBulks                                                uint64
}

func (r *relay) counts() relayCounts {
	return relayCounts{
		Requests: r.requests.Load(), Responses: r.responses.Load(),
		RequestBytes: r.requestBytes.Load(), ResponseBytes: r.responseBytes.Load(),
		Varbinds: r.varbinds.Load(), Undecodable: r.undecodable.Load(),
		Gets: r.gets.Load(), GetNexts: r.getNexts.Load(), GetBulks: r.getBulks.Load(),
	}
}

func (a relayCounts) sub(b relayCounts) relayCounts {
	return relayCounts{
		Requests: a.Requests - b.Requests, Responses: a.Responses - b.Responses,
		RequestBytes: a.RequestBytes - b.RequestBytes, ResponseBytes: a.ResponseBytes - b.ResponseBytes,
		Varbinds: a.Varbinds - b.Varbinds, Undecodable: a.Undecodable - b.Undecodable,
		Gets: a.Gets - b.Gets, GetNexts: a.GetNexts - b.GetNexts, GetBulks: a.GetBulks - b.GetBulks,
	}
}

// Close stops the relay and its upstream sockets.
func (r *relay) Close() {
	r.conn.Close()
	r.mu.Lock()
	for _, c := range r.clients {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
