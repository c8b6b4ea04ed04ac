#!/usr/bin/env bash
# Where meetnoc's time and memory go in the SNMP benchmark: Go profiles of
# bench/snmp/poller, which builds the daemon as `meetnoc run` does
# (daemon.New), serves its handler (the real /metrics path) and, with -run,
# polls on schedule as the daemon does (the SNMP collector's Run); it adds
# /debug/pprof, which the daemon does not serve.
#
#   bench/snmp/profile.sh     # ~3 minutes; writes bench/snmp/profile-latest.txt
#
#  1. Polls of the Catalyst 2960X recording served by snmpsimd, one after the
#     other, each followed by a scrape of /metrics (the comparison's load): CPU;
#     and the same polls by snmp_exporter 0.21 (it serves /debug/pprof too).
#  2. The scale load, 1,000 simulated switches × 48 interfaces every 30 s: CPU
#     while polling (no scrapes), heap in use at steady state, CPU of one GET
#     /metrics, allocations.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
[ -f go.mod ] || { echo "profile.sh: $ROOT is not the repository root" >&2; exit 1; }
OUT=${PROFILE_OUT:-$ROOT/bench/snmp/profile-latest.txt}
EXPORTER=${SNMP_EXPORTER:-/usr/bin/prometheus-snmp-exporter}
GO=${GO:-go}
DEVICES=${DEVICES:-1000} INTERFACES=${INTERFACES:-48} WARMUP=${WARMUP:-45}
RECORDING=$(cd "$ROOT/.." && pwd)/shared/testdata/snmprec/ios_2960x.snmprec
[ -f "$RECORDING" ] || { echo "profile.sh: missing $RECORDING" >&2; exit 1; }

# shellcheck source=bench/snmp/lib.sh
. "$ROOT/bench/snmp/lib.sh"
bench_workdir meetnoc-profile

mkdir -p "$WORK/bin"
for t in poller agents harness exporterconfig; do CGO_ENABLED=0 "$GO" build -o "$WORK/bin/$t" "./bench/snmp/$t"; done

pprof_top() { "$GO" tool pprof -top -nodecount=30 "$@" 2>/dev/null | sed -n '1,45p'; }
# cpu_profile NAME SECONDS fetches a CPU profile of the poller into $WORK/NAME.pb.gz.
cpu_profile() { "$GO" tool pprof -proto "$WORK/bin/poller" "http://$ADDR/debug/pprof/profile?seconds=$2" >"$WORK/$1.pb.gz" 2>/dev/null; }
# show_cpu NAME prints the top entries by own time, then by cumulative time.
show_cpu() {
	pprof_top "$WORK/$1.pb.gz"
	echo "(by cumulative time)"
	"$GO" tool pprof -top -cum -nodecount=25 "$WORK/$1.pb.gz" 2>/dev/null | sed -n '/flat%/,$p'
}

# start_poller CONFIG [FLAGS…] starts bench/snmp/poller and sets ADDR and POLLER.
start_poller() {
	local cfg=$1
	shift
	: >"$WORK/poller.out"
	"$WORK/bin/poller" "$@" -config.file "$cfg" >"$WORK/poller.out" 2>>"$WORK/poller.log" &
	POLLER=$!
	PIDS+=("$POLLER")
	ADDR=
	for _ in $(seq 1 60); do
		ADDR=$(sed -n 's/^listening on //p' "$WORK/poller.out")
		[ -n "$ADDR" ] && return 0
		sleep 0.5
	done
	echo "profile.sh: the poller did not start" >&2
	exit 1
}

# 1. The 2960X recording, poll after poll.
mkdir -p "$WORK/rec" "$WORK/cache"
cp "$RECORDING" "$WORK/rec/public.snmprec"
SIMFLAGS=(--logging-method=null)
if [ "$(id -u)" = 0 ]; then
	chown -R nobody:nogroup "$WORK/rec" "$WORK/cache"
	SIMFLAGS+=(--process-user=nobody --process-group=nogroup)
fi
SIMPORT=$("$WORK/bin/harness" freeport)
snmpsimd --data-dir="$WORK/rec" --cache-dir="$WORK/cache" --agent-udpv4-endpoint="127.0.0.1:$SIMPORT" \
	"${SIMFLAGS[@]}" >"$WORK/snmpsimd.log" 2>&1 &
SIMPID=$!
PIDS+=("$SIMPID")
for _ in $(seq 1 120); do
	snmpget -v2c -c public -t 1 -r 0 "127.0.0.1:$SIMPORT" 1.3.6.1.2.1.1.3.0 >/dev/null 2>&1 && break
	sleep 0.5
done
printf '%s\n' "snmp:" "  timeout: 5s" "  retries: 1" \
	"  auths: {bench: {version: \"2c\", community: public}}" "  targets:" \
	"    - {name: ios_2960x, address: \"127.0.0.1:$SIMPORT\", auth: bench, profiles: [if_mib]}" >"$WORK/2960x.yml"
start_poller "$WORK/2960x.yml"
echo "profile.sh: polling the 2960X recording for 25 s" >&2
(
	end=$(($(date +%s) + 27))
	while [ "$(date +%s)" -lt "$end" ]; do
		curl -sf -o /dev/null "http://$ADDR/poll?target=ios_2960x"
		curl -sf --compressed -o /dev/null "http://$ADDR/metrics"
	done
) &
LOOP=$!
PIDS+=("$LOOP")
sleep 1
{
	echo "# meetnoc SNMP poller profiles ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $("$GO" version | cut -d' ' -f3))"
	echo
	echo "## 1. CPU of polls of the Catalyst 2960X recording (146 interfaces, snmpsimd), each followed by GET /metrics, 25 s"
	cpu_profile poll2960x 25
	show_cpu poll2960x
	echo
} >"$WORK/part1.txt"
wait "$LOOP" || true
kill -TERM "$POLLER" 2>/dev/null || true

"$WORK/bin/exporterconfig" -out "$WORK/snmp.yml"
EXPORTER_ADDR=127.0.0.1:$("$WORK/bin/harness" freeport)
"$EXPORTER" --config.file="$WORK/snmp.yml" --web.listen-address="$EXPORTER_ADDR" >"$WORK/snmp_exporter.log" 2>&1 &
EXPORTER_PID=$!
PIDS+=("$EXPORTER_PID")
for _ in $(seq 1 40); do curl -sf -o /dev/null "http://$EXPORTER_ADDR/" && break; sleep 0.25; done
echo "profile.sh: polling the 2960X recording with snmp_exporter for 25 s" >&2
(
	end=$(($(date +%s) + 27))
	while [ "$(date +%s)" -lt "$end" ]; do
		curl -sf --compressed -o /dev/null "http://$EXPORTER_ADDR/snmp?module=if_mib&target=127.0.0.1:$SIMPORT"
	done
) &
LOOP=$!
PIDS+=("$LOOP")
sleep 1
{
	echo "## 1b. CPU of snmp_exporter $("$EXPORTER" --version 2>&1 | sed -n 's/.*version \([^ ]*\).*/\1/p' | head -n1) scraping the same recording (module generated from if_mib), 25 s"
	"$GO" tool pprof -proto "http://$EXPORTER_ADDR/debug/pprof/profile?seconds=25" >"$WORK/exporter.pb.gz" 2>/dev/null
	pprof_top "$WORK/exporter.pb.gz"
	echo "(by cumulative time)"
	"$GO" tool pprof -top -cum -nodecount=25 "$WORK/exporter.pb.gz" 2>/dev/null | sed -n '/flat%/,$p'
	echo
} >>"$WORK/part1.txt"
wait "$LOOP" || true
kill -TERM "$EXPORTER_PID" "$SIMPID" 2>/dev/null || true

# 2. The scale load.
"$WORK/bin/agents" -devices "$DEVICES" -interfaces "$INTERFACES" -config.out "$WORK/scale.yml" >"$WORK/agents.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 120); do [ -f "$WORK/scale.yml" ] && break; sleep 0.5; done
[ -f "$WORK/scale.yml" ] || { echo "profile.sh: the agents did not start" >&2; exit 1; }
start_poller "$WORK/scale.yml" -run
echo "profile.sh: $DEVICES switches × $INTERFACES interfaces; warming up ${WARMUP}s" >&2
sleep "$WARMUP"
{
	cat "$WORK/part1.txt"
	echo "## 2. Scale load: $DEVICES switches × $INTERFACES interfaces every 30 s (poller -run)"
	echo
	echo "## 2a. CPU while polling, 30 s, no scrapes"
	cpu_profile polling 30
	show_cpu polling
	echo
	echo "## 2b. Heap in use at steady state, before any scrape"
	pprof_top -sample_index=inuse_space "$WORK/bin/poller" "http://$ADDR/debug/pprof/heap"
	echo
	echo "## 2c. CPU of one GET /metrics (10 s profile around it; polling goes on meanwhile)"
	cpu_profile scrape 10 &
	PPROF=$!
	sleep 1
	curl -s --compressed -o /dev/null -w "# GET /metrics (gzip): %{time_total} s, %{size_download} bytes\n" "http://$ADDR/metrics"
	wait "$PPROF"
	show_cpu scrape
	echo
	echo "## 2d. Allocations since start (alloc_space), after the scrape"
	pprof_top -sample_index=alloc_space "$WORK/bin/poller" "http://$ADDR/debug/pprof/heap"
} | tee "$OUT"
echo "profile.sh: written to ${OUT#"$ROOT"/}" >&2
