package nat64

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// connect opens a TCP connection to dst for t and closes it at once: the
// handshake is the probe.
func (p *Prober) connect(ctx context.Context, t *target, network string, dst netip.AddrPort, src netip.Addr) pathResult {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	var d net.Dialer
	if src.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: src.AsSlice(), Zone: src.Zone()}
	}
	var conn net.Conn
	start := time.Now()
	err := p.socket(t, func() error {
		var err error
		conn, err = d.DialContext(ctx, network, dst.String())
		return err
	})
	r := pathResult{probed: true, duration: time.Since(start), result: classify(err)}
	if err != nil {
		r.err = err.Error()
	} else {
		conn.Close()
	}
	return r
}

// classify names the outcome of a probe.
func classify(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ResultOK
	case errors.Is(err, syscall.ECONNREFUSED):
		// The destination (or, for the nat64 path, the destination through the
		// NAT64) answered with a reset: see pathResult.reachable.
		return ResultRefused
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT),
		errors.As(err, &ne) && ne.Timeout():
		return ResultTimeout
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		// No route here, or an ICMP destination unreachable from a router
		// (for the nat64 path, often the NAT64 itself).
		return ResultUnreachable
	}
	return ResultError
}

// errNotPermitted: neither kind of ICMP socket may be opened.
var errNotPermitted = errors.New("ICMP echo not permitted")

// listenICMP opens an unprivileged ping socket (SOCK_DGRAM, IPPROTO_ICMP or
// IPPROTO_ICMPV6; allowed when net.ipv4.ping_group_range holds the process's
// group), or else a raw ICMP socket (needs CAP_NET_RAW). raw tells which.
func listenICMP(v6 bool, src netip.Addr) (c *icmp.PacketConn, raw bool, err error) {
	dgram, rawNet, laddr := "udp4", "ip4:icmp", "0.0.0.0"
	if v6 {
		dgram, rawNet, laddr = "udp6", "ip6:ipv6-icmp", "::"
	}
	if src.IsValid() {
		laddr = src.String()
	}
	c, err = icmp.ListenPacket(dgram, laddr)
	if err == nil {
		return c, false, nil
	}
	if !permissionError(err) {
		return nil, false, err
	}
	c, rerr := icmp.ListenPacket(rawNet, laddr)
	if rerr == nil {
		return c, true, nil
	}
	if permissionError(rerr) {
		return nil, false, fmt.Errorf("%w: no ping socket (%v: net.ipv4.ping_group_range does not include this process's group) and no raw socket (%v: needs CAP_NET_RAW)",
			errNotPermitted, err, rerr)
	}
	return nil, false, rerr
}

func permissionError(err error) bool {
	return errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// ping sends one echo request to dst for t and waits for its reply until t's
// timeout.
func (p *Prober) ping(ctx context.Context, t *target, dst, src netip.Addr) pathResult {
	v6 := dst.Is6()
	var conn *icmp.PacketConn
	var raw bool
	err := p.socket(t, func() error {
		var err error
		conn, raw, err = listenICMP(v6, src)
		return err
	})
	if err != nil {
		r := pathResult{probed: true, result: ResultError, err: err.Error()}
		if errors.Is(err, errNotPermitted) {
			r.result = ResultNotPermitted
		}
		return r
	}
	defer conn.Close()
	// A shutdown or reload ends the wait at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	var nonce [10]byte
	rand.Read(nonce[:])
	// A ping socket's kernel puts its own identifier in; a raw socket sees every
	// echo reply on the host, so ours is told by identifier, sequence and nonce.
	id := int(binary.BigEndian.Uint16(nonce[0:2]))
	seq := int(binary.BigEndian.Uint16(nonce[2:4]))
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if v6 {
		typ = ipv6.ICMPTypeEchoRequest
	}
	// For ICMPv6 the kernel fills in the checksum (it needs the pseudo-header).
	msg, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: nonce[:]}}).Marshal(nil)
	if err != nil {
		return pathResult{probed: true, result: ResultError, err: err.Error()}
	}
	var to net.Addr = &net.UDPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	if raw {
		to = &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()}
	}
	start := time.Now()
	conn.SetDeadline(start.Add(t.timeout))
	if _, err := conn.WriteTo(msg, to); err != nil {
		return pathResult{probed: true, result: classify(err), duration: time.Since(start), err: err.Error()}
	}
	proto := 1 // ICMP
	if v6 {
		proto = 58 // ICMPv6
	}
	buf := make([]byte, 1500)
	for {
		n, peer, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return pathResult{probed: true, result: classify(err), duration: time.Since(start), err: err.Error()}
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil {
			continue
		}
		switch body := m.Body.(type) {
		case *icmp.Echo:
			if (m.Type == ipv4.ICMPTypeEchoReply || m.Type == ipv6.ICMPTypeEchoReply) && peerAddr(peer) == dst &&
				(!raw || body.ID == id) && body.Seq == seq && bytes.Equal(body.Data, nonce[:]) {
				return pathResult{probed: true, result: ResultOK, duration: time.Since(start)}
			}
		case *icmp.DstUnreach:
			if quotesEcho(body.Data, v6, id, seq, raw) {
				err := fmt.Errorf("ICMP destination unreachable from %s", peerAddr(peer))
				return pathResult{probed: true, result: ResultUnreachable, duration: time.Since(start), err: err.Error()}
			}
		}
	}
}

// quotesEcho reports whether an ICMP error's quoted packet is our echo request.
func quotesEcho(quoted []byte, v6 bool, id, seq int, raw bool) bool {
	off := 40
	if !v6 {
		if len(quoted) < 20 {
			return false
		}
		off = int(quoted[0]&0x0f) * 4
	}
	if len(quoted) < off+8 {
		return false
	}
	h := quoted[off:]
	return (!raw || int(binary.BigEndian.Uint16(h[4:6])) == id) && int(binary.BigEndian.Uint16(h[6:8])) == seq
}

func peerAddr(a net.Addr) netip.Addr {
	var ip net.IP
	switch v := a.(type) {
	case *net.UDPAddr:
		ip = v.IP
	case *net.IPAddr:
		ip = v.IP
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr.Unmap()
}
