#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md and rewrites its results section and
# cycle-vs-backlog.png. Usage, from anywhere in the checkout:
#
#	benchmarks/run.sh            # 6 rounds (about 7 minutes on 2 cores)
#	COUNT=1 benchmarks/run.sh    # quicker, noisier, no confidence intervals
#
# Raw `go test -bench` output is kept in benchmarks/out/ (not committed).
# benchmarks/report gives the median of the COUNT runs with its 95%
# confidence interval (golang.org/x/perf/benchmath, nonparametric, as
# benchstat), which needs at least 6 runs; it fails, and leaves
# BENCHMARKS.md as it was, if a target's benchmark is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-6}
out=benchmarks/out
mkdir -p "$out"
# The root module's test binary, built once. Each benchmark runs COUNT
# times in rounds, each time in a process of its own: a passing disturbance
# on the machine spreads over every benchmark instead of spoiling one, and
# no benchmark inherits another's heap or garbage collector state.
go test -c -o "$out/cmq.test" .
bench() { # file, flags, then one -test.bench pattern per process
	local f=$1 flags=$2; shift 2
	echo "== cmq.test -test.run '^\$' $flags -test.bench {$*}" | tee -a "$out/log.txt"
	: >"$out/$f"
	for _ in $(seq "$COUNT"); do
		for p in "$@"; do
			# shellcheck disable=SC2086
			"$out/cmq.test" -test.run '^$' -test.count 1 $flags -test.bench "$p" | tee -a "$out/$f"
		done
	done
}
cycles=()
for mode in single batch16; do
	for backlog in queued=0 queued=1000 queued=100000 queued=1000000 inflight=100000; do
		cycles+=("^BenchmarkCycle\$/^$mode\$/^$backlog\$")
	done
done
: >"$out/log.txt"
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "go: $(go version)"
	echo "cpus: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt"

# The root module: the queue and the baselines, in one run.
bench cycle.txt "-test.benchtime 1s -test.benchmem" "${cycles[@]}" Baseline Parallel
bench wakeup.txt "-test.benchtime 10000x -test.benchmem" Wakeup
bench memory.txt "-test.benchtime 1x -test.benchmem" 'Memory|Queues/idle'
bench create.txt "-test.benchtime 100000x -test.benchmem" 'Queues/create'
# The peer comparison, in the nested module (goqite on in-memory SQLite).
(cd benchmarks && go test -run '^$' -count "$COUNT" -bench 'Peer' -benchtime 2s .) | tee "$out/peer.txt"

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
(cd benchmarks && go run ./report -out ../BENCHMARKS.md -png ../benchmarks/cycle-vs-backlog.png ../"$out"/*.txt)
