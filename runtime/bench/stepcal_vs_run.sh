#!/usr/bin/env bash
# stepcal_vs_run.sh: the CPU plan's decode step against a run's, in one
# process (issue 8, "A CPU plan that is true"). For each SHAPE:FORMAT it
# calibrates the decode step afresh (as `whisperc plan` does) and, in turn
# with it, generates 200 greedy tokens with engine.Generate on an engine
# of the run's kind, ROUNDS times (default 3), and prints the plan's
# predicted step, the run's step and their ratio, then the run's loop
# timed by parts: the forward pass (mean and median), sampling, and
# detokenising and writing (all in microseconds), and the collections.
# About 1 to 2 minutes with the defaults on a quiet 2-vCPU machine.
#
# OLD=rev:COMMIT (or a test binary of ./runtime built with go test -c)
# adds an older runtime side by side: each SHAPE:FORMAT is measured by
# the old and then by this checkout, so that both see the same machine
# (twice the time). NICE=1 runs each in an autogroup of its own at nice
# -20 (root only), as threads.sh does.
#
#   [THREADS=2] [ROUNDS=3] [OLD=rev:COMMIT] [NICE=1] runtime/bench/stepcal_vs_run.sh [SHAPE:FORMAT...]
#   (default: story:fp32 15M:fp32 15M:nf4 15M:q8_0 42M:nf4 42M:q8_0)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
spec=${*:-story:fp32 15M:fp32 15M:nf4 15M:q8_0 42M:nf4 42M:q8_0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/new.test" ./runtime
drivers=(new)
bins=("$tmp/new.test")
old=${OLD:-}
case $old in
"") ;;
rev:*)
	mkdir "$tmp/src"
	git archive "${old#rev:}" | tar -x -C "$tmp/src"
	(cd "$tmp/src" && go test -c -o "$tmp/old.test" ./runtime)
	drivers=(old new) bins=("$tmp/old.test" "$tmp/new.test")
	;;
*) drivers=(old new) bins=("$old" "$tmp/new.test") ;;
esac
rt=()
# shellcheck disable=SC2016
[ "${NICE:-0}" = 1 ] && rt=(setsid sh -c 'echo -20 > /proc/$$/autogroup && exec nice -n -20 "$@"' sh)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
header=1
for item in $spec; do
	for i in "${!bins[@]}"; do
		# The test binary runs in ./runtime, where the models' relative
		# paths (../../shared/models) resolve, whichever tree built it.
		(cd runtime && WHISPERC_STEPVSRUN="$item" WHISPERC_STEPVSRUN_THREADS=${THREADS:-2} WHISPERC_STEPVSRUN_ROUNDS=${ROUNDS:-3} \
			"${rt[@]}" "${bins[$i]}" -test.count=1 -test.run '^TestStepVsRun$' -test.timeout 10m) |
			grep -vE '^(=== RUN|--- (PASS|SKIP)|PASS$)' |
			awk -v d="${drivers[$i]}" -v h=$header 'NR == 1 { if (h) printf "%-6s %s\n", "driver", $0; next } { printf "%-6s %s\n", d, $0 }'
		header=0
	done
done
