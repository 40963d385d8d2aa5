#!/usr/bin/env bash
# stepcal_stability.sh: how steady the CPU decode-step calibration is
# (issue 8: two single-round calibrations of 110M q8_0 five minutes apart
# predicted rates up to 30% apart). Calibrates the 42M fp32 and 110M q8_0
# shapes N times in a row, afresh each time, and prints each prediction
# from the first round alone (the old calibration) and from the settled
# rounds (the new one), then max÷min over the N runs for each. About 1 to
# 2 minutes with N=3 on a quiet 2-vCPU machine.
#
#   runtime/bench/stepcal_stability.sh [N]   (default 3)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
WHISPERC_STEPCAL_STABILITY=${1:-3} go test -count=1 -run '^TestStepCalibrationStability$' -v -timeout 10m ./runtime |
	grep -vE '^(=== RUN|--- (PASS|SKIP)|PASS$)'
