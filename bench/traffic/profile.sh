#!/usr/bin/env bash
# Go CPU profiles of meetnoc's traffic paths, to see where the time of the traffic
# benchmark goes: the pcap replay of `meetnoc classify` (BenchmarkCaptureFile: the
# engine's pcap source reading a capture of the meeting mix from the page cache), the
# cold header walk through a Worker, and sFlow datagrams through a Worker. Each
# profile is restricted (pprof -focus) to the measured loop, without the set-up that
# generates the frames. Output: bench/traffic/profile-latest.txt (and stdout).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
[ -f go.mod ] || { echo "profile.sh: $ROOT is not the repository root" >&2; exit 1; }
GO=${GO:-go}
OUT=$ROOT/bench/traffic/profile-latest.txt

# shellcheck source=bench/snmp/lib.sh
. "$ROOT/bench/snmp/lib.sh"
bench_workdir meetnoc-traffic-profile

profile() { # TITLE BENCH FOCUS
	echo "## $1"
	echo
	echo "go test -run '^\$' -bench '$2' -benchtime 3s -cpuprofile cpu.out ./collectors/traffic/"
	echo "go tool pprof -top -focus '$3' -nodecount 30 cpu.out"
	echo
	"$GO" test -run '^$' -bench "$2" -benchtime 3s -benchmem -cpuprofile "$WORK/cpu.out" -o "$WORK/traffic.test" ./collectors/traffic/ 2>&1 |
		grep -E '^Benchmark' || true
	echo
	"$GO" tool pprof -top -focus "$3" -nodecount 30 "$WORK/traffic.test" "$WORK/cpu.out" 2>/dev/null | sed -n '/^Showing nodes/,$p'
	echo
}
{
	echo "# Traffic profiles ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg))"
	echo
	profile "pcap replay (meetnoc classify's path), whole frames" 'CaptureFile/whole' 'pcapSource'
	profile "pcap replay, frames cut to 128 bytes" 'CaptureFile/snap128' 'pcapSource'
	profile "header walk, hot, through a Worker" 'HeaderWalk/Worker/hot' 'BenchmarkHeaderWalk\.func'
	profile "header walk, cold, through a Worker" 'HeaderWalk/Worker/cold' 'BenchmarkHeaderWalk\.func'
	profile "sFlow datagrams through a Worker" 'SFlow$/Worker' 'BenchmarkSFlow\.func'
	# Every allocation under Worker.Frame and Worker.Publish in the cold walk (10 passes
	# of 1M frames); the Worker's construction before the loop is left out.
	echo "## allocations in the cold header walk through a Worker"
	echo
	echo "go test -run '^\$' -bench 'HeaderWalk/Worker/cold' -benchtime 10x -memprofile mem.out -memprofilerate 1 ./collectors/traffic/"
	echo "go tool pprof -sample_index=alloc_objects -top -focus 'Worker\)\.(Frame|Publish)' mem.out"
	echo
	"$GO" test -run '^$' -bench 'HeaderWalk/Worker/cold' -benchtime 10x -benchmem -memprofile "$WORK/mem.out" -memprofilerate 1 \
		-o "$WORK/traffic.test" ./collectors/traffic/ 2>&1 | grep -E '^Benchmark' || true
	echo
	"$GO" tool pprof -sample_index=alloc_objects -top -focus 'Worker\)\.(Frame|Publish)' -nodecount 25 "$WORK/traffic.test" "$WORK/mem.out" 2>/dev/null |
		sed -n '/^Showing nodes/,$p'
} | tee "$OUT"
