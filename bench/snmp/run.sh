#!/usr/bin/env bash
# meetnoc's SNMP benchmark (`make bench`; method and results in docs/benchmarks.md).
#
#  1. meetnoc and Prometheus' snmp_exporter 0.21 (Debian's prometheus-snmp-exporter)
#     poll the same snmpsimd agents, interleaved, through counting UDP relays:
#     a real Catalyst 2960X recording (146 interfaces) and a generated
#     800-interface switch. Wall time, SNMP packets, varbinds and CPU per poll.
#     meetnoc's side is bench/snmp/poller: the daemon as `meetnoc run` builds it
#     (daemon.New), polled on request, scraped through its own /metrics handler.
#  2. Scale: one `meetnoc run` polls 1,000 simulated switches × 48 interfaces every
#     30 s (lab.NewSwitchMIB switches behind internal/lab/snmpagent agents, in a
#     process of their own): CPU % of one core, peak RSS, /metrics latency with
#     gzip (as Prometheus scrapes) and without, CPU cost per scrape.
#  3. The Go micro-benchmarks of collectors/snmp and internal/lab/snmpagent.
#
# Results: Markdown on stdout and in bench/snmp/results-latest.md.
# QUICK=1 runs a ~2-minute smoke version (fewer polls, a shorter scale window).
# Everything listens on 127.0.0.1 only; every child process is stopped on exit; the
# whole run ends within 14 minutes (each long step is bounded by what is left).
set -euo pipefail

QUICK=${QUICK:-0}
cd "$(dirname "$0")/../.."
ROOT=$PWD
[ -f go.mod ] || { echo "run.sh: $ROOT is not the repository root" >&2; exit 1; }
OUT=$ROOT/bench/snmp/results-latest.md
MEETNOC=${MEETNOC:-$ROOT/bin/meetnoc}
EXPORTER=${SNMP_EXPORTER:-/usr/bin/prometheus-snmp-exporter}
SNMPSIMD=${SNMPSIMD:-snmpsimd}
TESTDATA=$(cd "$ROOT/.." && pwd)/shared/testdata
RECORDING=$TESTDATA/snmprec/ios_2960x.snmprec
GO=${GO:-go}

if [ "$QUICK" = 1 ]; then
	POLLS_2960X=10 POLLS_800=3 WARMUP_POLLS=1
	SCALE_WARMUP=35s SCALE_INTERVALS=2 SCALE_SCRAPES=4
else
	POLLS_2960X=100 POLLS_800=40 WARMUP_POLLS=3
	SCALE_WARMUP=45s SCALE_INTERVALS=6 SCALE_SCRAPES=20
fi
SCALE_DEVICES=1000 SCALE_INTERFACES=48 SCALE_INTERVAL=30s

for f in "$MEETNOC" "$EXPORTER" "$RECORDING"; do
	[ -e "$f" ] || { echo "run.sh: missing $f (run 'make bench', which builds meetnoc and installs the test dependencies)" >&2; exit 1; }
done
command -v "$SNMPSIMD" >/dev/null || { echo "run.sh: snmpsimd not found (Debian package snmpsim)" >&2; exit 1; }
command -v snmpget >/dev/null || { echo "run.sh: snmpget not found (Debian package snmp)" >&2; exit 1; }

# shellcheck source=bench/snmp/lib.sh
. "$ROOT/bench/snmp/lib.sh"
bench_workdir meetnoc-bench

log() { echo "run.sh: $*" >&2; }
started=$(date +%s)
# The whole run ends within 14 minutes: each long step gets at most what is left.
DEADLINE=$((started + 14 * 60))
budget() { # CAP_SECONDS → a timeout(1) duration
	local left=$((DEADLINE - $(date +%s)))
	[ "$left" -gt 1 ] || left=1
	echo "$((left < $1 ? left : $1))s"
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# The bench tools, built like meetnoc (CGO_ENABLED=0).
log "building the bench tools"
mkdir -p "$WORK/bin"
for t in harness poller agents switchrec exporterconfig; do
	CGO_ENABLED=0 "$GO" build -o "$WORK/bin/$t" "./bench/snmp/$t"
done
H=$WORK/bin/harness

# snmp_exporter's snmp.yml, generated from meetnoc's if_mib profile and checked by
# snmp_exporter itself.
"$WORK/bin/exporterconfig" -profile if_mib -module if_mib -community public -out "$WORK/snmp.yml"
"$EXPORTER" --config.file="$WORK/snmp.yml" --dry-run >"$WORK/dry-run.log" 2>&1 ||
	{ cat "$WORK/dry-run.log" >&2; exit 1; }
# Kept beside the results: what snmp_exporter ran with.
cp "$WORK/snmp.yml" "$ROOT/bench/snmp/snmp_exporter-if_mib.yml"

# The agents: snmpsimd serving the 2960X recording and a generated 800-interface
# switch, each as public.snmprec (community "public") in a data dir of its own.
mkdir -p "$WORK/rec-2960x" "$WORK/rec-800" "$WORK/cache-2960x" "$WORK/cache-800"
cp "$RECORDING" "$WORK/rec-2960x/public.snmprec"
"$WORK/bin/switchrec" -interfaces 800 -name bench-sw800 -out "$WORK/rec-800/public.snmprec"
SIMFLAGS=(--logging-method=null)
if [ "$(id -u)" = 0 ]; then
	# snmpsimd refuses to run as root; its data and cache must be readable by the user it becomes.
	chown -R nobody:nogroup "$WORK/rec-2960x" "$WORK/rec-800" "$WORK/cache-2960x" "$WORK/cache-800"
	SIMFLAGS+=(--process-user=nobody --process-group=nogroup)
fi
start_snmpsim() { # name port
	"$SNMPSIMD" --data-dir="$WORK/rec-$1" --cache-dir="$WORK/cache-$1" \
		--agent-udpv4-endpoint="127.0.0.1:$2" "${SIMFLAGS[@]}" >"$WORK/snmpsimd-$1.log" 2>&1 &
	PIDS+=($!)
}
wait_snmp() { # port
	for _ in $(seq 1 120); do
		snmpget -v2c -c public -t 1 -r 0 "127.0.0.1:$1" 1.3.6.1.2.1.1.3.0 >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "run.sh: agent on 127.0.0.1:$1 does not answer" >&2
	return 1
}
PORT_2960X=$("$H" freeport)
PORT_800=$("$H" freeport)
start_snmpsim 2960x "$PORT_2960X"
start_snmpsim 800 "$PORT_800"
wait_snmp "$PORT_2960X"
wait_snmp "$PORT_800"

# 1. Side by side.
log "comparing meetnoc and snmp_exporter ($POLLS_2960X and $POLLS_800 polls per tool)"
timeout "$(budget 540)" "$H" compare -poller "$WORK/bin/poller" -exporter "$EXPORTER" -exporter.config "$WORK/snmp.yml" \
	-module if_mib -community public -warmup "$WARMUP_POLLS" -workdir "$WORK" -json "$WORK/compare.json" \
	-device "ios_2960x|127.0.0.1:$PORT_2960X|$POLLS_2960X|Catalyst 2960X recording, 146 interfaces" \
	-device "sw800|127.0.0.1:$PORT_800|$POLLS_800|generated switch, 800 interfaces" >"$WORK/compare.md"
for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
PIDS=()

# 2. Scale.
log "scale: $SCALE_DEVICES switches × $SCALE_INTERFACES interfaces every $SCALE_INTERVAL"
"$WORK/bin/agents" -devices "$SCALE_DEVICES" -interfaces "$SCALE_INTERFACES" -interval "$SCALE_INTERVAL" \
	-config.out "$WORK/scale.yml" >"$WORK/agents.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 120); do [ -f "$WORK/scale.yml" ] && break; sleep 0.5; done
[ -f "$WORK/scale.yml" ] || { echo "run.sh: the agents did not start" >&2; exit 1; }
"$MEETNOC" check "$WORK/scale.yml" >&2
WEB=127.0.0.1:$("$H" freeport) # a free TCP port is as likely free for TCP as for UDP; meetnoc fails loudly if not
"$MEETNOC" run --config.file="$WORK/scale.yml" --web.listen-address="$WEB" >"$WORK/meetnoc.log" 2>&1 &
MEETNOC_PID=$!
PIDS+=("$MEETNOC_PID")
timeout "$(budget 540)" "$H" scale -pid "$MEETNOC_PID" -url "http://$WEB" -interval "$SCALE_INTERVAL" -warmup "$SCALE_WARMUP" \
	-intervals "$SCALE_INTERVALS" -scrapes "$SCALE_SCRAPES" -devices "$SCALE_DEVICES" -interfaces "$SCALE_INTERFACES" \
	-json "$WORK/scale.json" >"$WORK/scale.md"
for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
PIDS=()

# 3. Go micro-benchmarks.
if [ "$QUICK" != 1 ]; then
	log "Go micro-benchmarks"
	{
		echo "### Go micro-benchmarks"
		echo
		echo '```'
		timeout "$(budget 240)" "$GO" test -bench . -benchmem -run '^$' ./collectors/snmp/ ./internal/lab/snmpagent/ 2>&1 |
			grep -E '^(Benchmark|goos|goarch|cpu|ok|FAIL|---)' || true
		echo '```'
		echo
	} >"$WORK/micro.md"
else
	: >"$WORK/micro.md"
fi

elapsed=$(($(date +%s) - started))
{
	echo "## SNMP benchmark results ($(date -u +%Y-%m-%dT%H:%MZ)$([ "$QUICK" = 1 ] && echo ', QUICK=1 smoke run'))"
	echo
	echo "Reproduce: \`make bench\` (bench/snmp/run.sh), ${elapsed} s for this run."
	echo
	echo "| machine | |"
	echo "|---|---|"
	echo "| CPU | $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') |"
	echo "| memory | $(awk '/MemTotal/ {printf "%.1f GB", $2/1e6}' /proc/meminfo) |"
	echo "| kernel | $(uname -sr) |"
	echo "| meetnoc | $("$MEETNOC" version 2>&1 | head -n1) ($("$GO" version | cut -d' ' -f3)) |"
	echo "| snmp_exporter | $("$EXPORTER" --version 2>&1 | head -n1) |"
	echo "| snmpsimd | $("$SNMPSIMD" --version 2>&1 | head -n1 | sed 's/^ *//') |"
	echo "| load average (1, 5, 15 min) before / after | $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg) |"
	echo
	echo "snmp_exporter ran with bench/snmp/snmp_exporter-if_mib.yml, generated from meetnoc's if_mib profile by bench/snmp/exporterconfig."
	echo
	cat "$WORK/compare.md" "$WORK/scale.md" "$WORK/micro.md"
} | tee "$OUT"
log "done in ${elapsed} s; results in ${OUT#"$ROOT"/}"
