#!/usr/bin/env bash
# meetnoc's DNS benchmark (`make bench`; method and results in docs/benchmarks.md).
#
#  1. bench/dns/harness starts Debian's unbound as meetnoc's tests do
#     (internal/testenv.StartUnbound: dns64 module, offline auth-zones, a random
#     loopback port), meetnoc's probes/dns Prober in a process of its own, and
#     Debian's prometheus-blackbox-exporter (0.23) with a dns module asking the
#     same question (ipv4only.arpa AAAA, synthesized). Alternating rounds, the
#     order rotating: meetnoc fast (256 probes every 1 ms, as fast as unbound
#     answers) and blackbox_exporter fast (4 keep-alive HTTP clients hitting
#     /probe as fast as they go); then both paced alike, at 1,000 and at 100 probes/s
#     (the daemon's own operating point is a few probes per second).
#     CPU per probe of each tool's process (unbound's apart), probes per second,
#     context switches per probe; medians and the ratio.
#  2. The Go benchmark of one probe (BenchmarkProbe in probes/dns).
#
# Results: Markdown on stdout and in bench/dns/results-latest.md.
# QUICK=1: 2 rounds of 2 s instead of 5 of 4 s, the Go benchmark for 1 s.
# Everything listens on 127.0.0.1 only; every child process is stopped on exit;
# a run takes about 2.5 minutes (QUICK=1: ~40 s).
set -euo pipefail

QUICK=${QUICK:-0}
cd "$(dirname "$0")/../.."
ROOT=$PWD
[ -f go.mod ] || { echo "run.sh: $ROOT is not the repository root" >&2; exit 1; }
OUT=$ROOT/bench/dns/results-latest.md
MEETNOC=${MEETNOC:-$ROOT/bin/meetnoc}
EXPORTER=${BLACKBOX_EXPORTER:-/usr/bin/prometheus-blackbox-exporter}
GO=${GO:-go}
if [ "$QUICK" = 1 ]; then
	ROUNDS=2 WINDOW=2s BENCHTIME=1s
else
	ROUNDS=5 WINDOW=4s BENCHTIME=2s
fi
PACED_RATES=1000,100

# unbound and blackbox_exporter are Debian packages; the script installs what is missing.
./scripts/install-test-deps.sh
for f in "$EXPORTER" /usr/sbin/unbound; do
	[ -x "$f" ] || { echo "run.sh: missing $f (run 'make test-deps')" >&2; exit 1; }
done

# shellcheck source=bench/snmp/lib.sh
. "$ROOT/bench/snmp/lib.sh"
bench_workdir meetnoc-dns-bench

log() { echo "run.sh: $*" >&2; }
started=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

log "building the harness"
CGO_ENABLED=0 "$GO" build -o "$WORK/harness" ./bench/dns/harness

COMPARE_CMD="harness compare -exporter $EXPORTER -rounds $ROUNDS -window $WINDOW -paced.rates $PACED_RATES"
log "meetnoc and blackbox_exporter: $ROUNDS rounds of $WINDOW per tool and pace"
timeout 300s "$WORK/harness" compare -exporter "$EXPORTER" -workdir "$WORK" -rounds "$ROUNDS" -window "$WINDOW" \
	-paced.rates "$PACED_RATES" -json "$WORK/compare.json" >"$WORK/compare.md" 2> >(tee "$WORK/harness.log" >&2)

log "Go benchmark of one probe"
BENCH_CMD="go test -run '^\$' -bench Probe -benchmem -benchtime $BENCHTIME ./probes/dns/"
timeout 120s "$GO" test -run '^$' -bench Probe -benchmem -benchtime "$BENCHTIME" ./probes/dns/ >"$WORK/gobench.txt" 2>&1 ||
	{ cat "$WORK/gobench.txt" >&2; exit 1; }

elapsed=$(($(date +%s) - started))
{
	echo "## DNS benchmark results ($(date -u +%Y-%m-%dT%H:%MZ)$([ "$QUICK" = 1 ] && echo ', QUICK=1 smoke run'))"
	echo
	echo "Reproduce: \`make bench\` (bench/dns/run.sh), ${elapsed} s for this run. The comparison: \`$COMPARE_CMD\` (bench/dns/harness)."
	echo
	echo "| machine | |"
	echo "|---|---|"
	echo "| CPU | $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') |"
	echo "| memory | $(awk '/MemTotal/ {printf "%.1f GB", $2/1e6}' /proc/meminfo) |"
	echo "| kernel | $(uname -sr) |"
	if [ -x "$MEETNOC" ]; then
		echo "| meetnoc | $("$MEETNOC" version 2>&1 | head -n1) ($("$GO" version | cut -d' ' -f3)) |"
	else
		echo "| meetnoc | probes/dns at $(git rev-parse --short HEAD 2>/dev/null || echo unknown) ($("$GO" version | cut -d' ' -f3)) |"
	fi
	echo "| blackbox_exporter | $("$EXPORTER" --version 2>&1 | head -n1) |"
	echo "| unbound | $(/usr/sbin/unbound -V 2>&1 | head -n1) |"
	echo "| load average (1, 5, 15 min) before / after | $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg) |"
	echo
	cat "$WORK/compare.md"
	echo "### Go benchmark of one probe"
	echo
	echo "\`$BENCH_CMD\`: one DNS64 check against the same kind of unbound per iteration, query to judged answer, waiting for each answer before the next query (ns/op is wall time per probe, unbound's turn included)."
	echo
	echo '```'
	grep -E '^(Benchmark|goos|goarch|cpu|ok|FAIL|---)' "$WORK/gobench.txt" || true
	echo '```'
} | tee "$OUT"
log "done in ${elapsed} s; results in ${OUT#"$ROOT"/}"
