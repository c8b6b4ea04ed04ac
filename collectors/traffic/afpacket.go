//go:build linux

package traffic

// The afpacket source: live capture from a mirror (SPAN) port through AF_PACKET
// TPACKET_V3 rings, with several workers in one PACKET_FANOUT group and,
// optionally, 1:N sampling done by the kernel. The ring reader is our own, on
// golang.org/x/sys/unix: every frame is classified where it lies in the ring,
// and a VLAN tag the kernel took off is put back in place, in headroom the
// socket reserves for it, so the per-packet path allocates nothing and takes
// no lock (gopacket's reader copies such a frame and boxes the tag, three
// allocations and a mutex per frame, and on a trunk mirror that is every frame).

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// SourceTypeAFPacket is the type of a live AF_PACKET capture source.
const SourceTypeAFPacket = "afpacket"

func init() { newSourceFuncs[SourceTypeAFPacket] = newAFPacketSource }

const (
	// afpBlockSize is the preferred TPACKET_V3 block: the kernel fills a block
	// with many frames and hands it over whole, so one poll serves thousands of
	// frames. Smaller rings get smaller blocks (see newRingGeometry).
	afpBlockSize = 1 << 20
	// afpMinBlocks is the fewest blocks a ring is cut into: while the worker reads
	// one block the kernel needs others to fill.
	afpMinBlocks = 8
	// afpFrameOverhead is what the kernel puts before a frame in the ring
	// (tpacket3_hdr, sockaddr_ll, alignment, the VLAN headroom), rounded up.
	afpFrameOverhead = 128
	// afpBlockTimeout is how long the kernel keeps filling a block before it
	// hands it over anyway: below the 100 ms publish interval, so a quiet link's
	// frames reach the scrape in time.
	afpBlockTimeout = 50 * time.Millisecond
	// afpPollTimeout bounds a wait for the next block, so an idle worker still
	// publishes and notices that ctx ended (well within a second). A worker
	// calls Publish after every block, and a block spans at most
	// afpBlockTimeout of traffic, so busy or quiet, the counts are handed over
	// on Publish's own cadence.
	afpPollTimeout = 200 * time.Millisecond
	// afpStatsEvery is how often a worker reads its socket's drop counter (a
	// getsockopt call) and reports blocks it could not walk.
	afpStatsEvery = time.Second
)

// afpacketSource captures from one interface with cfg.Workers fanout members.
type afpacketSource struct {
	env       sourceEnv
	iface     string
	workers   int
	weight    uint64
	ring      ringGeometry
	filter    []bpf.RawInstruction // snap length and sampling, see captureFilter
	dropAll   []bpf.RawInstruction
	capturing func() // test hook: called once every worker captures with filter
}

// ringGeometry is one worker's TPACKET_V3 ring.
type ringGeometry struct {
	blockSize, numBlocks, frameSize int
}

func newAFPacketSource(env sourceEnv) (source, error) {
	cfg := env.cfg
	if cfg.Interface == "" {
		return nil, errors.New("afpacket: interface is not set")
	}
	if cfg.Workers < 1 {
		return nil, fmt.Errorf("afpacket: workers %d is less than 1", cfg.Workers)
	}
	ring, err := newRingGeometry(cfg.RingSize, cfg.Workers, cfg.Snaplen, os.Getpagesize())
	if err != nil {
		return nil, err
	}
	weight := uint64(max(cfg.Sampling, 1))
	filter, err := captureFilter(cfg.Snaplen, uint32(weight))
	if err != nil {
		return nil, err
	}
	dropAll, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		return nil, err
	}
	return &afpacketSource{
		env: env, iface: cfg.Interface, workers: cfg.Workers, weight: weight,
		ring: ring, filter: filter, dropAll: dropAll,
	}, nil
}

// newRingGeometry splits ringSize bytes over workers rings of 1 MiB blocks, or
// of smaller blocks (halved down to a page, but never below one frame) when a
// worker's share would otherwise hold fewer than afpMinBlocks. The frame size
// only has to be valid in TPACKET_V3 (frames are packed into the block at their
// captured length); the snap length itself is enforced by captureFilter.
func newRingGeometry(ringSize, workers, snaplen, pageSize int) (ringGeometry, error) {
	if snaplen < 1 || snaplen > 1<<18 {
		return ringGeometry{}, fmt.Errorf("afpacket: snaplen %d is out of range", snaplen)
	}
	frame := pageSize
	for frame < snaplen+afpFrameOverhead {
		frame *= 2
	}
	block := max(afpBlockSize, frame)
	perWorker := ringSize / workers
	for block > frame && perWorker/block < afpMinBlocks {
		block /= 2
	}
	g := ringGeometry{blockSize: block, numBlocks: perWorker / block, frameSize: frame}
	if g.numBlocks < 2 {
		return ringGeometry{}, fmt.Errorf("afpacket: ring_size %d bytes is too small for %d workers at snaplen %d: each needs at least %d bytes",
			ringSize, workers, snaplen, 2*block)
	}
	return g, nil
}

// captureFilter is the classic BPF program every worker's socket runs before a
// frame is copied into its ring. It returns how many bytes of the frame to keep:
// snaplen (TPACKET_V3 would otherwise copy whole frames, up to a block), or 0 to
// drop the frame.
//
// With 1:N sampling it first keeps a frame only when the kernel's per-packet
// random number (the SKF_AD_RANDOM ancillary load) is 0 mod N. Sampling in the
// kernel rather than in the worker means that the N−1 frames in N that are not
// sampled are never copied into the ring nor read: the ring holds N times more
// time and the workers do 1/N of the work, which is the point of sampling a
// link too fast to capture whole.
func captureFilter(snaplen int, sampling uint32) ([]bpf.RawInstruction, error) {
	prog := []bpf.Instruction{bpf.RetConstant{Val: uint32(snaplen)}}
	if sampling > 1 {
		prog = []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtRand},                     // ld rand
			bpf.ALUOpConstant{Op: bpf.ALUOpMod, Val: sampling},      // mod #N
			bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0, SkipTrue: 1}, // jneq #0, drop
			bpf.RetConstant{Val: uint32(snaplen)},                   // keep snaplen bytes
			bpf.RetConstant{Val: 0},                                 // drop
		}
	}
	return bpf.Assemble(prog)
}

// run opens every worker's socket on the calling goroutine, so that all of them
// live in the network namespace of its thread, then captures until ctx ends or
// a worker fails.
func (s *afpacketSource) run(ctx context.Context) error {
	ifi, err := net.InterfaceByName(s.iface)
	if err != nil {
		return fmt.Errorf("afpacket: interface %q not found (%v): check `interface:` and that the link exists", s.iface, err)
	}
	var fanoutID uint16
	if s.workers > 1 {
		fanoutID = fanoutIDs.reserve(s, s.env.cfg.Name)
		defer fanoutIDs.release(s)
	}
	rings := make([]*ring, 0, s.workers)
	defer func() {
		for _, r := range rings {
			r.close()
		}
	}()
	for range s.workers {
		r, err := s.open(ifi.Index)
		if err != nil {
			return err
		}
		rings = append(rings, r)
	}
	// A mirror port's frames are addressed to other hosts: without promiscuous
	// mode the NIC would not pass them up. The kernel takes the membership back
	// when the socket closes.
	if err := rings[0].setPromiscuous(ifi.Index); err != nil {
		return fmt.Errorf("afpacket: promiscuous mode on %q: %w", s.iface, err)
	}
	// Join the fanout group only now that every member is bound (the kernel
	// wants that) and drops all frames, so that no frame reaches two members.
	if s.workers > 1 {
		for _, r := range rings {
			if err := r.joinFanout(fanoutID); err != nil {
				return fmt.Errorf("afpacket: joining fanout group %d on %q: %w (another socket holds this group id with other settings)", fanoutID, s.iface, err)
			}
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		ready    sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	ready.Add(len(rings))
	for _, r := range rings {
		w := s.env.newWorker()
		wg.Go(func() {
			if err := s.capture(ctx, r, w, ready.Done); err != nil {
				errOnce.Do(func() { firstErr = err })
				cancel()
			}
		})
	}
	wg.Go(func() {
		ready.Wait()
		if ctx.Err() != nil {
			return
		}
		s.env.logger.Info("capturing", "interface", s.iface, "workers", s.workers,
			"ring_bytes_per_worker", s.ring.blockSize*s.ring.numBlocks, "sampling", s.weight)
		if s.capturing != nil {
			s.capturing()
		}
	})
	wg.Wait()
	return firstErr
}

// afpFanout spreads frames over the workers by flow hash, which the kernel
// makes symmetric, so both directions of a flow meet in one worker. Not with
// PACKET_FANOUT_FLAG_DEFRAG: it would hand the workers reassembled datagrams
// instead of the frames on the wire, and frames are what is counted. Rollover
// sends a frame to another worker when its own ring is full rather than drop it.
const afpFanout = unix.PACKET_FANOUT_HASH | unix.PACKET_FANOUT_FLAG_ROLLOVER

// open opens one worker's socket with its ring, bound to the interface, with a
// filter that drops everything until capture sets the real one.
func (s *afpacketSource) open(ifindex int) (*ring, error) {
	r, err := openRing(ifindex, s.ring, s.dropAll)
	if err != nil {
		return nil, openError(s.iface, err)
	}
	return r, nil
}

// openError turns a socket error into one that says what to do.
func openError(iface string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("afpacket: capture on %q needs CAP_NET_RAW: run as root or with AmbientCapabilities=CAP_NET_RAW (systemd): %w", iface, err)
	case errors.Is(err, unix.ENOMEM):
		return fmt.Errorf("afpacket: no memory for the capture ring on %q: lower ring_size: %w", iface, err)
	case errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("afpacket: the kernel has no AF_PACKET support: %w", err)
	}
	return fmt.Errorf("afpacket: opening capture on %q: %w", iface, err)
}

// capture is one worker's loop. It first drains anything the ring took in
// before the socket joined the fanout group and got its filter (frames every
// member would have seen, not sampled: openRing keeps that empty, the drain
// makes sure), then classifies the frames of every block the kernel hands over
// where they lie, and gives the block back.
func (s *afpacketSource) capture(ctx context.Context, r *ring, w *Worker, ready func()) error {
	if err := r.drain(ctx); err != nil {
		ready()
		return fmt.Errorf("afpacket: capture on %q stopped: %w", s.iface, err)
	}
	if err := r.setFilter(s.filter); err != nil {
		ready()
		return fmt.Errorf("afpacket: attaching filter on %q: %w", s.iface, err)
	}
	ready()

	var (
		stats    = s.env.stats
		health   ringHealth
		nextStat = s.env.now().Add(afpStatsEvery)
		runErr   error
	)
	for ctx.Err() == nil {
		block, err := r.next(afpPollTimeout)
		if err != nil {
			runErr = fmt.Errorf("afpacket: capture on %q stopped: %w (interface down or removed?)", s.iface, err)
			break
		}
		var frames uint64
		if block != nil {
			var ok bool
			frames, ok = walkBlock(block, w, s.weight)
			r.release(block)
			if !ok {
				health.badBlocks++
			}
		}
		// A batch boundary: a block, or an idle poll.
		now := s.env.now()
		w.Publish(now)
		if frames > 0 {
			stats.packets.Add(frames)
			stats.lastPacketNs.Store(now.UnixNano())
		}
		if !now.Before(nextStat) {
			health.update(r, stats, now, s.env.logger)
			nextStat = now.Add(afpStatsEvery)
		}
	}
	now := s.env.now()
	health.update(r, stats, now, s.env.logger)
	w.Flush(now)
	return runErr
}

// ringHealth turns the socket's counters into increments of stats.dropped and
// reports blocks whose headers did not add up.
type ringHealth struct {
	freezes   uint64 // queue freezes seen, for the log
	badBlocks uint64 // blocks walkBlock stopped in, since the last update
}

func (h *ringHealth) update(r *ring, stats *sourceStats, now time.Time, logger *slog.Logger) {
	if h.badBlocks > 0 {
		// Never seen from a real kernel; reported once per afpStatsEvery at
		// most, however many blocks it hits.
		stats.noteProblem(now, "%d capture ring blocks had inconsistent headers: their remaining frames were skipped", h.badBlocks)
		logger.Warn("capture ring blocks had inconsistent headers: their remaining frames were skipped", "blocks", h.badBlocks)
		h.badBlocks = 0
	}
	// Reading the kernel's counters resets them: what it returns is the
	// increment since the last read.
	st, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return
	}
	if st.Drops > 0 {
		stats.dropped.Add(uint64(st.Drops))
	}
	// A queue freeze is the ring being full: every block waits for the worker.
	// The drops it causes are counted above; the freezes say why.
	if st.Freeze_q_cnt > 0 {
		h.freezes += uint64(st.Freeze_q_cnt)
		logger.Debug("capture ring was full", "freezes", st.Freeze_q_cnt, "freezes_total", h.freezes, "dropped", st.Drops)
	}
}

// TPACKET_V3 ring layout (linux/if_packet.h). A block starts with a
// tpacket_block_desc whose tpacket_hdr_v1 says how many frames it holds and
// where the first one is; each frame has a tpacket3_hdr, then a sockaddr_ll,
// then free space, then the frame itself at tp_mac.
const (
	tpBlockHdrLen    = 48 // tpacket_block_desc with tpacket_hdr_v1
	tpBlockStatusOff = 8  // u32 block_status
	tpNumPktsOff     = 12 // u32 num_pkts
	tpFirstPktOff    = 16 // u32 offset_to_first_pkt

	tp3HdrLen      = 48 // tpacket3_hdr
	tp3NextOff     = 0  // u32 tp_next_offset: 0 in a block's last frame
	tp3SnaplenOff  = 12 // u32 tp_snaplen: bytes in the ring
	tp3LenOff      = 16 // u32 tp_len: length on the wire
	tp3StatusOff   = 20 // u32 tp_status
	tp3MacOff      = 24 // u16 tp_mac: the frame, from the tpacket3_hdr
	tp3VLANTCIOff  = 32 // u32 hv1.tp_vlan_tci
	tp3VLANTPIDOff = 36 // u16 hv1.tp_vlan_tpid
	tpMACAddrsLen  = 12 // destination and source MAC: the tag goes behind them
	tpVLANHeadroom = vlanTagLen
)

// walkBlock classifies every frame of one TPACKET_V3 block, which the kernel
// has handed over (status TP_STATUS_USER), with w. It returns how many frames it
// classified, and false when a header of the block did not add up: every offset
// and length the kernel wrote is checked against the block before use, and the
// walk stops at the first that points outside it, backwards, or into the
// header it came from.
//
// A frame whose VLAN tag the kernel took off (NIC offload, or skb_vlan_untag in
// software, which is nearly every frame on a trunk mirror) has the tag put back
// in place, as libpcap does: the two MAC addresses move 4 bytes earlier, into
// the headroom the socket reserved (PACKET_RESERVE), and the tag (its TPID,
// 802.1Q or 802.1ad, and TCI) goes behind them. The frame and its wire length
// are then what tshark shows, tags included, and the classifier reads the outer
// tag first, QinQ too. This writes into the block, which is ours until release.
func walkBlock(block []byte, w *Worker, weight uint64) (frames uint64, ok bool) {
	size := uint64(len(block))
	if size < tpBlockHdrLen {
		return 0, false
	}
	ne := binary.NativeEndian
	n := ne.Uint32(block[tpNumPktsOff:])
	off := uint64(ne.Uint32(block[tpFirstPktOff:]))
	for i := uint32(0); i < n; i++ {
		if off < tpBlockHdrLen || off > size-tp3HdrLen {
			return frames, false
		}
		h := block[off : off+tp3HdrLen]
		mac := uint64(ne.Uint16(h[tp3MacOff:]))
		snap := uint64(ne.Uint32(h[tp3SnaplenOff:]))
		if mac < tp3HdrLen || off+mac+snap > size {
			return frames, false
		}
		start, end := off+mac, off+mac+snap
		wireLen := int(ne.Uint32(h[tp3LenOff:]))
		status := ne.Uint32(h[tp3StatusOff:])
		tci := ne.Uint32(h[tp3VLANTCIOff:])
		// libpcap's test: kernels before 3.0 set no status bit but a TCI.
		if (status&unix.TP_STATUS_VLAN_VALID != 0 || tci != 0) && snap >= tpMACAddrsLen {
			if mac < tp3HdrLen+tpVLANHeadroom {
				return frames, false
			}
			tpid := ne.Uint16(h[tp3VLANTPIDOff:])
			if tpid == 0 && status&unix.TP_STATUS_VLAN_TPID_VALID == 0 {
				tpid = etherType8021Q // kernels before 3.14 report no TPID
			}
			start -= tpVLANHeadroom
			copy(block[start:start+tpMACAddrsLen], block[start+tpVLANHeadroom:start+tpVLANHeadroom+tpMACAddrsLen])
			binary.BigEndian.PutUint16(block[start+tpMACAddrsLen:], tpid)
			binary.BigEndian.PutUint16(block[start+tpMACAddrsLen+2:], uint16(tci))
			wireLen += tpVLANHeadroom
		}
		w.Frame(block[start:end:end], wireLen, weight, 0)
		frames++
		if i+1 == n {
			break
		}
		// The next frame starts behind this one (the kernel aligns it to 8
		// bytes); anything else is a lie that could loop or overlap.
		next := uint64(ne.Uint32(h[tp3NextOff:]))
		if next < mac+snap {
			return frames, false
		}
		off += next
	}
	return frames, true
}

// ring is one worker's AF_PACKET socket and its mmapped TPACKET_V3 ring. The
// kernel fills the blocks in order and marks each TP_STATUS_USER when it hands
// it over; the worker reads them in the same order and gives each back by
// setting TP_STATUS_KERNEL. The status word is the only thing both sides write,
// so it is read and written atomically: once per block, never per frame.
type ring struct {
	fd        int
	mem       []byte // numBlocks blocks of blockSize bytes
	blockSize int
	numBlocks int
	cur       int // the block the kernel hands over next
	pollfds   [1]unix.PollFd
}

// openRing opens a socket with a ring of geometry g on interface ifindex. The
// socket is made with protocol 0, which receives nothing, and gets the dropAll
// filter before bind starts its ETH_P_ALL stream: no frame lands in the ring
// until capture attaches the real filter (the drain is then only a safeguard).
func openRing(ifindex int, g ringGeometry, dropAll []bpf.RawInstruction) (_ *ring, err error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	r := &ring{fd: fd, blockSize: g.blockSize, numBlocks: g.numBlocks}
	r.pollfds[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, fmt.Errorf("setting TPACKET_V3: %w", err)
	}
	// Room for the VLAN tag walkBlock puts back: the kernel then places every
	// frame at least this far behind the tpacket3_hdr and sockaddr_ll.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_RESERVE, tpVLANHeadroom); err != nil {
		return nil, fmt.Errorf("reserving VLAN headroom: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(g.blockSize),
		Block_nr:       uint32(g.numBlocks),
		Frame_size:     uint32(g.frameSize),
		Frame_nr:       uint32(g.blockSize / g.frameSize * g.numBlocks),
		Retire_blk_tov: uint32(afpBlockTimeout / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, fmt.Errorf("setting up the ring (%d blocks of %d bytes): %w", g.numBlocks, g.blockSize, err)
	}
	r.mem, err = unix.Mmap(fd, 0, g.blockSize*g.numBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping the ring: %w", err)
	}
	if err := r.setFilter(dropAll); err != nil {
		return nil, fmt.Errorf("attaching filter: %w", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("binding to interface %d: %w", ifindex, err)
	}
	return r, nil
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// setFilter attaches a classic BPF program, replacing the one before.
func (r *ring) setFilter(prog []bpf.RawInstruction) error {
	if len(prog) == 0 {
		return errors.New("empty filter")
	}
	insns := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		insns[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	return unix.SetsockoptSockFprog(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]})
}

func (r *ring) setPromiscuous(ifindex int) error {
	return unix.SetsockoptPacketMreq(r.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP,
		&unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC})
}

func (r *ring) joinFanout(id uint16) error {
	return unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, int(id)|afpFanout<<16)
}

// status is the status word of block i.
func (r *ring) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.mem[i*r.blockSize+tpBlockStatusOff]))
}

// next returns the next block the kernel has handed over, waiting up to timeout
// for it, or nil when none came. It fails when the socket reports an error:
// the interface went down or away (ENETDOWN).
func (r *ring) next(timeout time.Duration) ([]byte, error) {
	polled := false
	for {
		if atomic.LoadUint32(r.status(r.cur))&unix.TP_STATUS_USER != 0 {
			b := r.mem[r.cur*r.blockSize : (r.cur+1)*r.blockSize : (r.cur+1)*r.blockSize]
			r.cur = (r.cur + 1) % r.numBlocks
			return b, nil
		}
		if polled {
			// Readable, but not our block (yet): let the caller publish and
			// come back rather than spin here.
			return nil, nil
		}
		r.pollfds[0].Revents = 0
		n, err := unix.Poll(r.pollfds[:], int(timeout/time.Millisecond))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("poll: %w", err)
		}
		if n == 0 {
			return nil, nil
		}
		if ev := r.pollfds[0].Revents; ev&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			// Reading SO_ERROR clears it; a link that comes back up would
			// deliver again, but capture restarts anyway (with back-off).
			if soErr, err := unix.GetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && soErr != 0 {
				return nil, unix.Errno(soErr)
			}
			return nil, fmt.Errorf("poll: socket error (events %#x)", ev)
		}
		polled = true
	}
}

// release gives a block that next returned back to the kernel.
func (r *ring) release(block []byte) {
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&block[tpBlockStatusOff])), unix.TP_STATUS_KERNEL)
}

// drain gives back what is in the ring until a poll times out. The drop-all
// filter is attached, so nothing new arrives: frames taken in before it are
// handed over when their block times out (afpBlockTimeout), well before the
// poll does (afpPollTimeout).
func (r *ring) drain(ctx context.Context) error {
	for ctx.Err() == nil {
		b, err := r.next(afpPollTimeout)
		if err != nil {
			return err
		}
		if b == nil {
			return nil
		}
		r.release(b)
	}
	return nil
}

// close unmaps the ring and closes the socket, which also ends its fanout
// membership and promiscuous mode.
func (r *ring) close() {
	if r.mem != nil {
		unix.Munmap(r.mem)
		r.mem = nil
	}
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

// fanoutIDs hands out PACKET_FANOUT group ids. The kernel knows a group by its
// id within a network namespace: two sources on one interface with the same id
// would silently share one stream (each seeing part of it), and on different
// interfaces the second could not join. An id is derived from the source name,
// so a source keeps its group across restarts, and moves on to the next free id
// when another running source of this process holds that one.
var fanoutIDs = fanoutRegistry{owners: map[uint16]*afpacketSource{}}

type fanoutRegistry struct {
	mu     sync.Mutex
	owners map[uint16]*afpacketSource
}

func (r *fanoutRegistry) reserve(s *afpacketSource, name string) uint16 {
	h := fnv.New32a()
	h.Write([]byte("meetnoc/afpacket/" + name))
	sum := h.Sum32()
	id := uint16(sum>>16) ^ uint16(sum)
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if owner, taken := r.owners[id]; !taken || owner == s {
			r.owners[id] = s
			return id
		}
		id++
	}
}

func (r *fanoutRegistry) release(s *afpacketSource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, owner := range r.owners {
		if owner == s {
			delete(r.owners, id)
		}
	}
}
