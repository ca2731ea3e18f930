#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md and rewrites its results section and
# cycle-vs-backlog.png. Usage, from anywhere in the checkout:
#
#	benchmarks/run.sh            # -count 3 (about 6 minutes on 2 cores)
#	COUNT=1 benchmarks/run.sh    # quicker, noisier
#
# Raw `go test -bench` output is kept in benchmarks/out/ (not committed).
# Numbers are medians over COUNT runs; no benchstat needed.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-3}
out=benchmarks/out
mkdir -p "$out"
bench() { # file, then go test arguments
	local f=$1; shift
	echo "== go test -run '^\$' $*" | tee -a "$out/log.txt"
	go test -run '^$' -count "$COUNT" "$@" | tee "$out/$f"
}
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
bench cycle.txt -bench 'Cycle|Baseline|Parallel' -benchtime 1s .
bench wakeup.txt -bench 'Wakeup' -benchtime 10000x .
bench memory.txt -bench 'Memory|Queues/idle' -benchtime 1x .
bench create.txt -bench 'Queues/create' -benchtime 100000x .
# The peer comparison, in the nested module (goqite on in-memory SQLite).
(cd benchmarks && go test -run '^$' -count "$COUNT" -bench 'Peer' -benchtime 2s .) | tee "$out/peer.txt"

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
(cd benchmarks && go run ./report -out ../BENCHMARKS.md -png ../benchmarks/cycle-vs-backlog.png ../"$out"/*.txt)
