# Sourced by run.sh and profile.sh: a work directory and the cleanup that stops every
# process they started (kept in PIDS) and removes it, whatever way the script ends.
# Usage: bench_workdir NAME  → sets WORK; then append child PIDs to PIDS.

PIDS=()

bench_workdir() {
	WORK=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 755 "$WORK" # snmpsimd runs as nobody and reads its data from here
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
}

bench_cleanup() {
	local status=$?
	trap - EXIT INT TERM HUP
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ "$status" != 0 ]; then
		echo "$(basename "$0"): failed ($status); logs:" >&2
		tail -n 20 "$WORK"/*.log >&2 2>/dev/null || true
	fi
	rm -rf "$WORK"
	exit "$status"
}
