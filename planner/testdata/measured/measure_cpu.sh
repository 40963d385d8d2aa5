#!/usr/bin/env bash
# measure_cpu.sh measures whisperc's CPU plan against whisperc's own runs
# on this machine and rewrites the measured file (default
# cpu-amd-epyc-2vcpu.json beside this script), then checks it with
# planner/cost's TestMeasuredCPU. About 3 to 4 minutes on a quiet 2-vCPU
# machine (RUNS=1: 2 to 3), 1 GB of temporary disk.
#
# Steps (all in cmd/whisperc's TestMeasurePlanVsRun):
#   1. build whisperc;
#   2. calibrate: `whisperc plan` with an empty cache runs
#      runtime.Calibrate, which times every weight format's matrix-vector
#      kernel (fp32, nf4, fp4, q8_0: whatever kernels the build
#      dispatches to) at several working-set sizes, the per-layer and
#      per-token step costs, and the process's base memory. These rates
#      are recorded in the file ("rates"); nothing is hand-edited, so new
#      kernels are re-calibrated by running this script;
#   3. for the 15M, 42M and 110M TinyStories shapes (random weights) in
#      fp32, nf4 and q8_0, and for the examples that run here (story,
#      tiny-cpu), RUNS times (default 3) in turn: `whisperc plan --json`
#      with an empty step cache, which times the decode step of that very
#      shape afresh (runtime.StepCalibrator.Measure), then `whisperc run`,
#      reading its peak RSS (its stages' VmHWM, from its manifest: a
#      poller beside it slowed it) and decode tok/s; a row keeps the
#      median plan, the median tok/s and the largest VmHWM (the machine's
#      speed drifts by a third within a minute on the shared VM: plans and
#      runs alternate so that both medians see the same minutes);
#   4. write the rows (predicted and measured peak RSS and decode tok/s,
#      the measured decode step) with the machine and the rates.
#
# Set QUIET=1 only on a machine doing nothing else: the file then says
# so and TestMeasuredCPU asserts the speed half (±25%) as well as the
# memory half (±10%).
#
# With GGUF=DIR it also plans and runs the GGUF files runtime/bench/models.sh
# writes there (15M, 42M and 110M in Q8_0, Q4_0 and Q4_K_M, which whisperc
# runs as stored, mapped: rows "gguf:SHAPE"), about 2 minutes more.
#
# With MEMORY_ONLY=1 it rewrites only the memory half of the existing
# file (every row's predicted and measured peak RSS, and the rates' base,
# executable, startup and released bytes), keeping its speeds and quiet flag: peak
# RSS is steady on a loaded machine where speed is not. Every row of the
# file must be measured again (GGUF=DIR when the file has GGUF rows).
#
# Usage: [QUIET=1] [RUNS=3] [GGUF=DIR] [MEMORY_ONLY=1] planner/testdata/measured/measure_cpu.sh [OUT.json]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$here/cpu-amd-epyc-2vcpu.json}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
cd "$root"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! WHISPERC_MEASURE="$out" WHISPERC_MEASURE_QUIET="${QUIET:-0}" WHISPERC_MEASURE_RUNS="${RUNS:-3}" WHISPERC_MEASURE_GGUF="${GGUF:-}" WHISPERC_MEASURE_MEMORY_ONLY="${MEMORY_ONLY:-0}" \
	go test -count=1 -run '^TestMeasurePlanVsRun$' -v -timeout 15m ./cmd/whisperc >"$log" 2>&1; then
	cat "$log" >&2
	echo "measure_cpu.sh: the measurement failed" >&2
	exit 1
fi
grep -E 'RSS plan|^ok' "$log"
if [ "$out" = "$here/cpu-amd-epyc-2vcpu.json" ]; then
	go test -count=1 -run '^TestMeasuredCPU$' -v ./planner/cost | grep -E 'RSS|loaded|^(ok|FAIL|---)'
fi
