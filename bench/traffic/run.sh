#!/usr/bin/env bash
# meetnoc's traffic benchmark (`make bench`; method and results in docs/benchmarks.md).
#
#  1. bench/traffic/mixcap writes 1M frames of the meeting mix (internal/packetgen/meetingmix,
#     seed 1: three SSIDs on 802.1Q VLANs, IPv4/IPv6/NAT64 up and down, ARP, DHCP, RAs)
#     as a pcap file (~1 GB) in a temporary directory, with the meetnoc config of its
#     network and the frames and bytes it holds per family; and the same frames cut to
#     128 bytes each (~130 MB), as `tcpdump -s 128` captures them.
#  2. `meetnoc classify`, `tshark -q -z io,stat,0,<one filter per family>` and
#     `tcpdump --count <IPv6 filter>` read each; their counts must equal the known ones.
#  3. Side by side: REPS rounds of the three tools on the same file (from the page
#     cache), the order rotating each round. Wall time (median), CPU, peak RSS; ratios.
#  4. Memory under sustained load: peak RSS of `meetnoc classify` over 1M and over 10M
#     distinct frames, from a file (the 10M-frame one, ~10 GB, written for this and
#     removed right after) and piped from mixcap.
#  5. The Go benchmarks of collectors/traffic: the header walk (hot, cold), sFlow, the
#     pcap replay.
#
# Results: Markdown on stdout and in bench/traffic/results-latest.md.
# QUICK=1: 2 rounds instead of 5, Go benchmarks once instead of 5 times.
# The machine is shared and noisy: medians and ratios are what to read.
set -euo pipefail

QUICK=${QUICK:-0}
cd "$(dirname "$0")/../.."
ROOT=$PWD
[ -f go.mod ] || { echo "run.sh: $ROOT is not the repository root" >&2; exit 1; }
OUT=$ROOT/bench/traffic/results-latest.md
MEETNOC=${MEETNOC:-$ROOT/bin/meetnoc}
GO=${GO:-go}
FRAMES=1000000
LONG_FRAMES=10000000
SEED=1
if [ "$QUICK" = 1 ]; then
	REPS=2 GO_COUNT=1
else
	REPS=5 GO_COUNT=5
fi

# tshark and tcpdump are the references (Debian packages; installed by the script).
./scripts/install-test-deps.sh
[ -x "$MEETNOC" ] || { echo "run.sh: missing $MEETNOC (run 'make bench', which builds it)" >&2; exit 1; }
for t in tshark tcpdump /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "run.sh: $t not found" >&2; exit 1; }
done

# shellcheck source=bench/snmp/lib.sh
. "$ROOT/bench/snmp/lib.sh"
bench_workdir meetnoc-traffic-bench

log() { echo "run.sh: $*" >&2; }
started=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

log "building mixcap"
CGO_ENABLED=0 "$GO" build -o "$WORK/mixcap" ./bench/traffic/mixcap
CFG=$WORK/meeting.yml
log "writing $FRAMES frames of the meeting mix, whole and cut to 128 bytes"
"$WORK/mixcap" -frames "$FRAMES" -seed "$SEED" -out "$WORK/full.pcap" -config.out "$CFG" -truth "$WORK/truth.txt"
"$WORK/mixcap" -frames "$FRAMES" -seed "$SEED" -snaplen 128 -out "$WORK/s128.pcap"
"$MEETNOC" check "$CFG" >&2
NAT64=$(sed -n 's/^nat64_prefixes: \[\(.*\)\]$/\1/p' "$CFG")
# Every tool reads the files from the page cache: read them once first.
cat "$WORK/full.pcap" "$WORK/s128.pcap" >/dev/null

# The commands compared. tshark: one io,stat column per family, as DESIGN.md defines
# them (bytes = frame.len). tcpdump: the one class BPF can count, IPv6 (native and
# NAT64); `ip6` alone matches untagged frames only, and every frame here is tagged.
TSHARK_FILTERS="ip,ipv6 && !(ipv6.addr==$NAT64),ipv6.addr==$NAT64,!ip && !ipv6"
TCPDUMP_FILTER='ip6 or (vlan and ip6)'
tools=(meetnoc tshark tcpdump)
use_capture() { # TAG: the commands read $WORK/TAG.pcap
	CAP=$WORK/$1.pcap TAG=$1
	CMD_meetnoc=("$MEETNOC" classify --config.file="$CFG" "$CAP")
	CMD_tshark=(tshark -r "$CAP" -q -z "io,stat,0,$TSHARK_FILTERS")
	CMD_tcpdump=(tcpdump -r "$CAP" --count "$TCPDUMP_FILTER")
}

# measure TOOL: one timed run of CMD_TOOL on the current capture; appends "wall_s user_s
# sys_s maxrss_kB" to $WORK/TAG.TOOL.times and leaves its stdout in $WORK/TAG.TOOL.out.
# Wall time from bash's microsecond clock, the rest from /usr/bin/time (which adds the
# same fork and exec to all).
measure() {
	local -n cmd="CMD_$1"
	local t0 t1
	t0=$EPOCHREALTIME
	/usr/bin/time -f '%U %S %M' -o "$WORK/$TAG.$1.rusage" "${cmd[@]}" >"$WORK/$TAG.$1.out" 2>"$WORK/$TAG.$1.log"
	t1=$EPOCHREALTIME
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }') $(tail -n1 "$WORK/$TAG.$1.rusage")" >>"$WORK/$TAG.$1.times"
}

# family_counts_meetnoc FILE → "family packets bytes" lines from classify's text output.
family_counts_meetnoc() {
	awk '/^meetnoc_traffic_(packets|bytes)_total\{/ {
		match($1, /family="[a-z0-9]+"/); f = substr($1, RSTART + 8, RLENGTH - 9)
		if ($1 ~ /^meetnoc_traffic_packets_total/) p[f] += $2; else b[f] += $2
	} END { for (f in p) printf "%s %.0f %.0f\n", f, p[f], b[f] }' "$1" | sort
}
# family_counts_tshark FILE → the same from the io,stat table (columns in TSHARK_FILTERS order).
family_counts_tshark() {
	awk -F'|' '/<>/ {
		split("ipv4 ipv6 nat64 other", fam, " ")
		for (i = 1; i <= 4; i++) { p = $(2 * i + 1); b = $(2 * i + 2); gsub(/ /, "", p); gsub(/ /, "", b); printf "%s %s %s\n", fam[i], p, b }
	}' "$1" | sort
}
sort "$WORK/truth.txt" >"$WORK/truth.sorted"
IPV6_TRUTH=$(awk '$1 == "ipv6" || $1 == "nat64" { n += $2 } END { print n }' "$WORK/truth.txt")

# median FILE COLUMN
median() { awk -v c="$2" '{ print $c }' "$1" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
list() { awk -v c="$2" '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $c }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
ratio2() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
goal() { awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN { ok = (op == ">=") ? v >= g : v <= g; print ok ? "met" : "**missed**" }'; }

# compare TAG: 2. the counts of all three tools checked against the mix's (a fast wrong
# count is worth nothing), then 3. REPS rounds side by side, the order rotating so that
# no tool always runs after the same one. Sets WALL_/CPU_/RSS_TAG_TOOL and the ratios.
compare() {
	use_capture "$1"
	log "$TAG: checking the counts of meetnoc classify, tshark and tcpdump against the known mix"
	for tool in "${tools[@]}"; do measure "$tool"; : >"$WORK/$TAG.$tool.times"; done
	family_counts_meetnoc "$WORK/$TAG.meetnoc.out" >"$WORK/$TAG.meetnoc.counts"
	family_counts_tshark "$WORK/$TAG.tshark.out" >"$WORK/$TAG.tshark.counts"
	for tool in meetnoc tshark; do
		diff -u "$WORK/truth.sorted" "$WORK/$TAG.$tool.counts" >&2 ||
			{ echo "run.sh: $TAG: $tool's counts per family differ from the mix's" >&2; exit 1; }
	done
	local v6
	v6=$(awk '/packets/ { print $1 }' "$WORK/$TAG.tcpdump.out")
	[ "$v6" = "$IPV6_TRUTH" ] || { echo "run.sh: $TAG: tcpdump counted $v6 IPv6 frames, the mix has $IPV6_TRUTH" >&2; exit 1; }

	log "$TAG: $REPS rounds of meetnoc classify, tshark and tcpdump on the same file"
	for r in $(seq 0 $((REPS - 1))); do
		for i in 0 1 2; do measure "${tools[$(((r + i) % 3))]}"; done
	done
	for t in "${tools[@]}"; do
		declare -g "WALL_${TAG}_$t=$(median "$WORK/$TAG.$t.times" 1)"
		declare -g "CPU_${TAG}_$t=$(awk '{ print $2 + $3 }' "$WORK/$TAG.$t.times" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
		declare -g "RSS_${TAG}_$t=$(median "$WORK/$TAG.$t.times" 4)"
	done
	local -n wm="WALL_${TAG}_meetnoc" wt="WALL_${TAG}_tshark" wd="WALL_${TAG}_tcpdump"
	declare -g "TSHARK_RATIO_$TAG=$(ratio "$wt" "$wm")" "TCPDUMP_RATIO_$TAG=$(ratio2 "$wm" "$wd")"
	# Per round: tshark ÷ meetnoc and meetnoc ÷ tcpdump, to show the spread of the ratio.
	declare -g "ROUND_RATIOS_$TAG=$(paste -d' ' "$WORK/$TAG.meetnoc.times" "$WORK/$TAG.tshark.times" "$WORK/$TAG.tcpdump.times" |
		awk '{ printf "%s%.0f×/%.2f", (NR > 1 ? ", " : ""), $5 / $1, $1 / $9 }')"
}
compare full
compare s128
CAP_BYTES_full=$(stat -c %s "$WORK/full.pcap") CAP_BYTES_s128=$(stat -c %s "$WORK/s128.pcap")

# 4. Memory under sustained load: peak RSS over 1M and over 10M frames of the same
# stream (the 10M begin with the 1M), both ways classify reads: a pcap file (mapped;
# the 10M-frame file, ~10 GB, is written for this and removed right after) and a pipe
# (pcapgo's buffered reader; the frames never touch the disk).
rss_classify() { # CAPTURE [FRAMES-TO-PIPE] → "maxrss_kB frames_classified wall_s max_anon_kB"
	# Peak RSS is ru_maxrss from /usr/bin/time; the process's anonymous memory (heap,
	# stacks: RssAnon, without the file pages of a mapping) is sampled every 20 ms.
	local t0 t1 tpid cpid anon=0 a
	t0=$EPOCHREALTIME
	if [ -n "${2:-}" ]; then
		"$WORK/mixcap" -frames "$2" -seed "$SEED" -out - |
			/usr/bin/time -f '%M' -o "$WORK/rss.rusage" "$MEETNOC" classify --config.file="$CFG" "$1" >"$WORK/rss.out" 2>"$WORK/rss.log" &
	else
		/usr/bin/time -f '%M' -o "$WORK/rss.rusage" "$MEETNOC" classify --config.file="$CFG" "$1" >"$WORK/rss.out" 2>"$WORK/rss.log" &
	fi
	tpid=$!
	while kill -0 "$tpid" 2>/dev/null; do
		cpid=${cpid:-$(pgrep -P "$tpid" || true)}
		if [ -n "$cpid" ]; then
			a=$(awk '/^RssAnon:/ { print $2 }' "/proc/$cpid/status" 2>/dev/null || true)
			[ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a
		fi
		sleep 0.02
	done
	wait "$tpid"
	t1=$EPOCHREALTIME
	echo "$(tail -n1 "$WORK/rss.rusage") $(family_counts_meetnoc "$WORK/rss.out" | awk '{ n += $2 } END { print n }') $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') $anon"
}
log "peak RSS of meetnoc classify over $FRAMES and $LONG_FRAMES frames: files, then pipes"
"$WORK/mixcap" -frames "$LONG_FRAMES" -seed "$SEED" -out "$WORK/long.pcap"
read -r RSS_file_1M N_file_1M T_file_1M ANON_file_1M <<<"$(rss_classify "$WORK/full.pcap")"
read -r RSS_file_10M N_file_10M T_file_10M ANON_file_10M <<<"$(rss_classify "$WORK/long.pcap")"
LONG_BYTES=$(stat -c %s "$WORK/long.pcap")
rm -f "$WORK/long.pcap"
read -r RSS_pipe_1M N_pipe_1M T_pipe_1M ANON_pipe_1M <<<"$(rss_classify /dev/stdin "$FRAMES")"
read -r RSS_pipe_10M N_pipe_10M T_pipe_10M ANON_pipe_10M <<<"$(rss_classify /dev/stdin "$LONG_FRAMES")"
for n in "$N_file_1M" "$N_pipe_1M"; do [ "$n" = "$FRAMES" ] || { echo "run.sh: classify counted $n frames, not $FRAMES" >&2; exit 1; }; done
for n in "$N_file_10M" "$N_pipe_10M"; do [ "$n" = "$LONG_FRAMES" ] || { echo "run.sh: classify counted $n frames, not $LONG_FRAMES" >&2; exit 1; }; done
growth() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", 100 * (b - a) / a }'; }
RSS_GROWTH_file=$(growth "$RSS_file_1M" "$RSS_file_10M") RSS_GROWTH_pipe=$(growth "$RSS_pipe_1M" "$RSS_pipe_10M")

# 5. Go benchmarks, medians of GO_COUNT runs. The test binary is built once and run
# GO_COUNT times (rather than -count, which repeats each benchmark back to back), so
# that a burst of load on this shared machine hits one run of each, not all runs of one.
log "Go benchmarks ($GO_COUNT runs)"
BENCH_RE='HeaderWalk|SFlow$|CaptureFile'
BENCH_CMD="go test -run '^\$' -bench '$BENCH_RE' -benchmem -benchtime 2s ./collectors/traffic/"
"$GO" test -c -o "$WORK/traffic.test" ./collectors/traffic/
: >"$WORK/gobench.txt"
for _ in $(seq 1 "$GO_COUNT"); do
	(cd collectors/traffic && "$WORK/traffic.test" -test.run '^$' -test.bench "$BENCH_RE" -test.benchmem -test.benchtime 2s) \
		>>"$WORK/gobench.txt" 2>&1 || { cat "$WORK/gobench.txt" >&2; exit 1; }
done
# gobench_median NAME UNIT → the median of that metric over the runs of benchmark NAME.
gobench_median() {
	awk -v name="$1" -v unit="$2" '$1 ~ "^Benchmark" name "(-[0-9]+)?$" {
		for (i = 3; i < NF; i++) if ($(i + 1) == unit) print $i
	}' "$WORK/gobench.txt" | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
max_of() { awk -v name="$1" -v unit="$2" '$1 ~ "^Benchmark" name "(-[0-9]+)?$" { for (i = 3; i < NF; i++) if ($(i + 1) == unit && $i > m) m = $i } END { print m + 0 }' "$WORK/gobench.txt"; }
HOT_MPPS=$(gobench_median HeaderWalk/Classify/hot Mpps)
WORKER_HOT_MPPS=$(gobench_median HeaderWalk/Worker/hot Mpps)
ALLOCS_HOT=$(for b in HeaderWalk/Classify/hot HeaderWalk/Worker/hot; do max_of "$b" allocs/Mpacket; done | sort -g | tail -n1)
ALLOCS_COLD=$(for b in HeaderWalk/Classify/cold HeaderWalk/Worker/cold; do max_of "$b" allocs/Mpacket; done | sort -g | tail -n1)
SFLOW_ALLOCS_MAX=$(for b in SFlow/ClassifySFlow SFlow/Worker; do max_of "$b" allocs/sample; done | sort -g | tail -n1)
SFLOW_WORKER=$(gobench_median SFlow/Worker samples/s)

elapsed=$(($(date +%s) - started))
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
side_by_side() { # TAG FILE-NAME-SHOWN
	local -n wm="WALL_$1_meetnoc" wt="WALL_$1_tshark" wd="WALL_$1_tcpdump"
	local -n cm="CPU_$1_meetnoc" ct="CPU_$1_tshark" cd="CPU_$1_tcpdump"
	local -n rm="RSS_$1_meetnoc" rt="RSS_$1_tshark" rd="RSS_$1_tcpdump"
	local -n tr="TSHARK_RATIO_$1" dr="TCPDUMP_RATIO_$1" rr="ROUND_RATIOS_$1"
	echo "| tool | command | wall (median) | wall, each round (s) | CPU (median) | peak RSS (median) |"
	echo "|---|---|---:|---|---:|---:|"
	echo "| meetnoc | \`meetnoc classify --config.file=meeting.yml $2\` | **$(printf %.3f "$wm") s** | $(list "$WORK/$1.meetnoc.times" 1) | $(printf %.2f "$cm") s | $(mb "$rm") |"
	echo "| tshark | \`tshark -r $2 -q -z 'io,stat,0,$TSHARK_FILTERS'\` | **$(printf %.2f "$wt") s** | $(list "$WORK/$1.tshark.times" 1) | $(printf %.2f "$ct") s | $(mb "$rt") |"
	echo "| tcpdump | \`tcpdump -r $2 --count '$TCPDUMP_FILTER'\` | **$(printf %.3f "$wd") s** | $(list "$WORK/$1.tcpdump.times" 1) | $(printf %.2f "$cd") s | $(mb "$rd") |"
	echo
	echo "tshark ÷ meetnoc **${tr}×**, meetnoc ÷ tcpdump **${dr}×** (medians); per round: $rr."
}
{
	echo "## Traffic benchmark results ($(date -u +%Y-%m-%dT%H:%MZ)$([ "$QUICK" = 1 ] && echo ', QUICK=1 smoke run'))"
	echo
	echo "Reproduce: \`make bench\` (bench/traffic/run.sh), ${elapsed} s for this run."
	echo
	echo "| machine | |"
	echo "|---|---|"
	echo "| CPU | $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') |"
	echo "| memory | $(awk '/MemTotal/ {printf "%.1f GB", $2/1e6}' /proc/meminfo) |"
	echo "| kernel | $(uname -sr) |"
	echo "| meetnoc | $("$MEETNOC" version 2>&1 | head -n1) ($("$GO" version | cut -d' ' -f3)) |"
	echo "| tshark | $(tshark --version 2>/dev/null | head -n1) |"
	echo "| tcpdump | $(tcpdump --version 2>&1 | head -n1), $(tcpdump --version 2>&1 | sed -n 2p) |"
	echo "| load average (1, 5, 15 min) before / after | $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg) |"
	echo
	echo "### Goals"
	echo
	echo "| goal | measured | |"
	echo "|---|---:|---|"
	echo "| \`meetnoc classify\` ≥ 90× faster than tshark (wall, whole frames) | **${TSHARK_RATIO_full}×** (median ÷ median) | $(goal "$TSHARK_RATIO_full" '>=' 90) |"
	echo "| \`meetnoc classify\` within 1.5× of \`tcpdump --count\` (wall, whole frames) | **${TCPDUMP_RATIO_full}×** | $(goal "$TCPDUMP_RATIO_full" '<=' 1.5) |"
	echo "| the same two on the capture cut to 128 bytes a frame | ${TSHARK_RATIO_s128}× ($(goal "$TSHARK_RATIO_s128" '>=' 90)) / ${TCPDUMP_RATIO_s128}× ($(goal "$TCPDUMP_RATIO_s128" '<=' 1.5)) | |"
	for how in file pipe; do
		r1="RSS_${how}_1M" r10="RSS_${how}_10M" g="RSS_GROWTH_$how" t1="T_${how}_1M" t10="T_${how}_10M" a1="ANON_${how}_1M" a10="ANON_${how}_10M"
		echo "| RSS after 10M frames within 10 % of after 1M, and < 100 MB: $how ($([ "$how" = file ] && echo "mapped; 10M = $(awk -v b="$LONG_BYTES" 'BEGIN { printf "%.1f GB", b / 1e9 }')" || echo "piped from mixcap")); peak RSS (anonymous memory, sampled) | $(mb "${!r1}") → $(mb "${!r10}") (**${!g} %**; $(mb "${!a1}") → $(mb "${!a10}"); ${!t1} s and ${!t10} s) | $(awk -v g="${!g}" 'BEGIN { print (g <= 10 && g >= -10) ? "met" : "**missed**" }'), $(goal "${!r10}" '<=' 102400) |"
	done
	echo "| 0 allocations per packet: header walk hot / cold (1M frames, 10 rogue RAs), allocations per million packets; sFlow, per sample (max of the runs) | $ALLOCS_HOT / $ALLOCS_COLD per M; $SFLOW_ALLOCS_MAX | $(awk -v a="$ALLOCS_HOT" -v c="$ALLOCS_COLD" -v b="$SFLOW_ALLOCS_MAX" 'BEGIN { print (a == 0 && b == 0 && c == 0) ? "met" : "**not 0** (see docs/benchmarks.md)" }') |"
	echo "| ≥ 20 Mpps per core, header walk (hot; median): Classifier / Worker | **$HOT_MPPS** / **$WORKER_HOT_MPPS** Mpps | $(goal "$HOT_MPPS" '>=' 20) / $(goal "$WORKER_HOT_MPPS" '>=' 20) |"
	echo "| ≥ 1 M sFlow samples/s per core (Worker path; median) | **$(awk -v s="$SFLOW_WORKER" 'BEGIN { printf "%.2f M", s / 1e6 }')** | $(goal "$SFLOW_WORKER" '>=' 1000000) |"
	echo
	echo "### The captures"
	echo
	echo "\`mixcap -frames $FRAMES -seed $SEED\` ($(awk -v b="$CAP_BYTES_full" 'BEGIN { printf "%.2f GB", b / 1e9 }'), whole frames) and the same with \`-snaplen 128\` ($(awk -v b="$CAP_BYTES_s128" 'BEGIN { printf "%.0f MB", b / 1e6 }')); every frame 802.1Q-tagged. Both counted alike by meetnoc, tshark and the generator (tcpdump: the IPv6 + NAT64 frames):"
	echo
	echo "| family | frames | bytes (frame.len) |"
	echo "|---|---:|---:|"
	awk '{ printf "| %s | %d | %d |\n", $1, $2, $3 }' "$WORK/truth.txt"
	echo
	echo "### meetnoc classify, tshark and tcpdump on the same file"
	echo
	echo "$REPS rounds, the order rotating; the files in the page cache. Wall time from the shell's clock, CPU (user + system) and peak RSS from \`/usr/bin/time\`."
	echo
	echo "Whole frames:"
	echo
	side_by_side full meeting-1m.pcap
	echo
	echo "The same frames cut to 128 bytes (\`tcpdump -s 128\`; lengths on the wire kept):"
	echo
	side_by_side s128 meeting-1m-s128.pcap
	echo
	echo "### Go benchmarks"
	echo
	echo "\`$BENCH_CMD\` (built once with \`go test -c\`, run $GO_COUNT times) — medians:"
	echo
	echo "| benchmark | ns/packet | Mpps | allocs/packet | allocs/Mpacket | MB/s |"
	echo "|---|---:|---:|---:|---:|---:|"
	for b in HeaderWalk/Classify/hot HeaderWalk/Worker/hot HeaderWalk/Classify/cold HeaderWalk/Worker/cold CaptureFile/whole CaptureFile/snap128; do
		echo "| $b | $(gobench_median "$b" ns/packet) | $(gobench_median "$b" Mpps) | $(gobench_median "$b" allocs/packet) | $(gobench_median "$b" allocs/Mpacket) | $(gobench_median "$b" MB/s) |"
	done
	echo
	echo "| benchmark | ns/datagram | datagrams/s | samples/s | allocs/sample |"
	echo "|---|---:|---:|---:|---:|"
	for b in SFlow/ClassifySFlow SFlow/Worker; do
		echo "| $b | $(gobench_median "$b" ns/op) | $(gobench_median "$b" datagrams/s) | $(gobench_median "$b" samples/s) | $(gobench_median "$b" allocs/sample) |"
	done
	echo
	echo '```'
	grep -E '^(Benchmark|goos|goarch|cpu|ok|FAIL|---)' "$WORK/gobench.txt" | awk '!/^(goos|goarch|cpu)/ || !seen[$0]++' || true
	echo '```'
} | tee "$OUT"
log "done in ${elapsed} s; results in ${OUT#"$ROOT"/}"
