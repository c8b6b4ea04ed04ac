package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Tshark is the path of Wireshark's tshark: the independent oracle for traffic
// counts (DESIGN.md, "Real components").
func Tshark(t testing.TB) string {
	t.Helper()
	return Require(t, "tshark")[0]
}

// tshark runs tshark with args and returns its standard output. Its warnings
// (running as root, …) go to standard error and are only shown on failure.
func tshark(t testing.TB, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(Tshark(t), args...)
	// No user profile, no name resolution: the same dissection on every host.
	cmd.Env = append(os.Environ(), "WIRESHARK_CONFIG_DIR="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// IOStat is one column of tshark's io,stat: the frames a display filter matched
// and the sum of their frame.len.
type IOStat struct {
	Frames, Bytes uint64
}

// TsharkIOStat runs `tshark -r file -q -z io,stat,0,FILTER...` over the whole
// capture and returns each filter's frames and bytes, in order. tshark prints
// nothing for a capture whose timestamps are all equal: let them advance. A filter may
// not contain a comma (io,stat's separator): write `a || b`, not `{a, b}`.
func TsharkIOStat(t testing.TB, file string, filters []string) []IOStat {
	t.Helper()
	for _, f := range filters {
		if strings.Contains(f, ",") {
			t.Fatalf("io,stat filter %q contains a comma", f)
		}
	}
	arg := "io,stat,0"
	for _, f := range filters {
		arg += "," + f
	}
	out := tshark(t, "-n", "-r", file, "-q", "-z", arg)
	// The data row is the one line with "<>" (the interval): "| 0.000 <> 0.000 |
	// 3 | 180 | 0 | 0 |". Headers hold the filters' text, which may contain "|".
	for _, line := range strings.Split(string(out), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.Contains(cells[1], "<>") {
			continue
		}
		var nums []uint64
		for _, c := range cells[2:] {
			if c = strings.TrimSpace(c); c == "" {
				continue
			}
			n, err := strconv.ParseUint(c, 10, 64)
			if err != nil {
				t.Fatalf("tshark io,stat: cell %q of %q is not a number", c, line)
			}
			nums = append(nums, n)
		}
		if len(nums) != 2*len(filters) {
			t.Fatalf("tshark io,stat: %d numbers for %d filters in %q", len(nums), len(filters), line)
		}
		stats := make([]IOStat, len(filters))
		for i := range stats {
			stats[i] = IOStat{Frames: nums[2*i], Bytes: nums[2*i+1]}
		}
		return stats
	}
	t.Fatalf("tshark io,stat: no data row in\n%s", out)
	return nil
}

// TsharkFields runs `tshark -r file -Y filter -T fields -e FIELD...` and returns,
// per matching frame, each field's occurrences in the frame's order (empty when
// the field is absent).
func TsharkFields(t testing.TB, file, filter string, fields ...string) [][][]string {
	t.Helper()
	args := []string{"-n", "-r", file, "-T", "fields", "-E", "occurrence=a", "-E", "separator=/t", "-E", "aggregator=;"}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	var frames [][][]string
	for _, line := range strings.Split(strings.TrimRight(string(tshark(t, args...)), "\n"), "\n") {
		if line == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != len(fields) {
			t.Fatalf("tshark fields: %d columns for %d fields in %q", len(cols), len(fields), line)
		}
		frame := make([][]string, len(cols))
		for i, c := range cols {
			if c != "" {
				frame[i] = strings.Split(c, ";")
			}
		}
		frames = append(frames, frame)
	}
	return frames
}

// CaptureRecord is one frame to write into a test capture.
type CaptureRecord struct {
	Data []byte
	// WireLen is the frame's original length; len(Data) when zero. A record is
	// cut to the capture's snap length, so WireLen may exceed what is written.
	WireLen int
	Time    time.Time
}

// Capture formats WriteCapture writes.
const (
	FormatPcap   = "pcap"
	FormatPcapng = "pcapng"
)

// WriteCapture writes records as an Ethernet capture in format (FormatPcap,
// microsecond timestamps, or FormatPcapng) to path. A non-zero snaplen cuts
// every record to it, as tcpdump -s does, keeping its original length.
func WriteCapture(t testing.TB, path, format string, snaplen int, records []CaptureRecord) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var write func(gopacket.CaptureInfo, []byte) error
	flush := func() error { return nil }
	fileSnap := uint32(snaplen)
	if fileSnap == 0 {
		fileSnap = 262144
	}
	switch format {
	case FormatPcap:
		w := pcapgo.NewWriter(f)
		if err := w.WriteFileHeader(fileSnap, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		write = w.WritePacket
	case FormatPcapng:
		w, err := pcapgo.NewNgWriterInterface(f, pcapgo.NgInterface{
			Name: "test0", LinkType: layers.LinkTypeEthernet, SnapLength: fileSnap,
			TimestampResolution: 9,
		}, pcapgo.NgWriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		write, flush = w.WritePacket, w.Flush
	default:
		t.Fatalf("WriteCapture: unknown format %q", format)
	}
	for i, r := range records {
		data := r.Data
		wire := r.WireLen
		if wire == 0 {
			wire = len(data)
		}
		if snaplen > 0 && len(data) > snaplen {
			data = data[:snaplen]
		}
		ci := gopacket.CaptureInfo{Timestamp: r.Time, CaptureLength: len(data), Length: wire}
		if err := write(ci, data); err != nil {
			t.Fatalf("%s: record %d: %v", path, i, err)
		}
	}
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// SharedCapture is the path of one capture in the shared test data's pcaps/.
func SharedCapture(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(SharedTestdata(t), "pcaps", name)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "shared capture %s: %v", name, err)
	}
	return p
}

// String makes an IOStat readable in test failures.
func (s IOStat) String() string { return fmt.Sprintf("%d frames, %d bytes", s.Frames, s.Bytes) }
