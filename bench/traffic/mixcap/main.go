// Command mixcap writes the benchmark's meeting mix (internal/packetgen/meetingmix) as
// a pcap file, the meetnoc configuration that classifies it, and what it holds
// per family — the known answer that `meetnoc classify` and tshark are checked
// against before their times count.
//
//	mixcap -frames 1000000 -seed 1 -out meeting.pcap -config.out meeting.yml -truth truth.txt
//
// -snaplen 128 keeps only each frame's first 128 bytes, as a capture taken with
// `tcpdump -s 128` does; the bytes counted are still the frames' original lengths.
//
// -out - writes the capture to stdout, so that a long one can be piped into
// `meetnoc classify /dev/stdin` without touching the disk.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/meetnoc/meetnoc/internal/packetgen"
	"github.com/meetnoc/meetnoc/internal/packetgen/meetingmix"
)

// start is the timestamp of the first frame: a Monday morning session.
var start = time.Date(2026, 3, 16, 9, 0, 0, 0, time.UTC)

func main() {
	frames := flag.Int("frames", 1_000_000, "number of frames")
	seed := flag.Uint64("seed", 1, "seed of the mix: the same seed writes the same file")
	out := flag.String("out", "", "capture file to write (pcap, microsecond timestamps); - for stdout")
	cfgOut := flag.String("config.out", "", "also write the meetnoc configuration of the mix's network here")
	truthOut := flag.String("truth", "", "also write the frames and bytes per family here: lines of FAMILY FRAMES BYTES")
	snaplen := flag.Int("snaplen", 65535, "keep at most this many bytes of each frame, as `tcpdump -s` does (the original length is kept)")
	flag.Parse()
	if *out == "" || *frames < 1 || *snaplen < 64 || *snaplen > 65535 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*frames, *seed, *snaplen, *out, *cfgOut, *truthOut); err != nil {
		fmt.Fprintln(os.Stderr, "mixcap:", err)
		os.Exit(1)
	}
}

func run(frames int, seed uint64, snaplen int, out, cfgOut, truthOut string) error {
	mix := meetingmix.Mix(seed, true)
	if cfgOut != "" {
		if err := writeFile(cfgOut, func(w io.Writer) error { return meetingmix.WriteConfig(w, mix) }); err != nil {
			return err
		}
	}
	stream, err := meetingmix.NewStream(mix)
	if err != nil {
		return err
	}
	families := []string{packetgen.FamilyIPv4, packetgen.FamilyIPv6, packetgen.FamilyNAT64, packetgen.FamilyOther}
	truth := map[string]*[2]uint64{}
	for _, f := range families {
		truth[f] = new([2]uint64)
	}
	write := func(w io.Writer) error {
		pw := pcapgo.NewWriter(w)
		if err := pw.WriteFileHeader(uint32(snaplen), layers.LinkTypeEthernet); err != nil {
			return err
		}
		for i := range frames {
			f := stream.Next()
			data := f.Bytes[:min(len(f.Bytes), snaplen)]
			ci := gopacket.CaptureInfo{
				Timestamp:     start.Add(time.Duration(i) * meetingmix.FrameGap),
				CaptureLength: len(data),
				Length:        len(f.Bytes),
			}
			if err := pw.WritePacket(ci, data); err != nil {
				return err
			}
			t := truth[f.Family]
			t[0]++
			t[1] += uint64(len(f.Bytes))
		}
		return nil
	}
	if out == "-" {
		bw := bufio.NewWriterSize(os.Stdout, 1<<20)
		if err := write(bw); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	} else if err := writeFile(out, write); err != nil {
		return err
	}
	if truthOut != "" {
		return writeFile(truthOut, func(w io.Writer) error {
			for _, f := range families {
				if _, err := fmt.Fprintf(w, "%s %d %d\n", f, truth[f][0], truth[f][1]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return nil
}

// writeFile writes a file through a buffer and reports a failure to close it,
// which for a file written this way is where a full disk shows.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
