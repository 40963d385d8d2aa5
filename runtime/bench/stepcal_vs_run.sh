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
#   [THREADS=2] [ROUNDS=3] runtime/bench/stepcal_vs_run.sh [SHAPE:FORMAT...]
#   (default: story:fp32 15M:fp32 15M:nf4 15M:q8_0 42M:nf4 42M:q8_0)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
spec=${*:-story:fp32 15M:fp32 15M:nf4 15M:q8_0 42M:nf4 42M:q8_0}
WHISPERC_STEPVSRUN="$spec" WHISPERC_STEPVSRUN_THREADS=${THREADS:-2} WHISPERC_STEPVSRUN_ROUNDS=${ROUNDS:-3} \
	go test -count=1 -run '^TestStepVsRun$' -v -timeout 10m ./runtime |
	grep -vE '^(=== RUN|--- (PASS|SKIP)|PASS$)'
