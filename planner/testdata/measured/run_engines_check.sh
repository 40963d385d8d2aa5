#!/usr/bin/env bash
# The GPU check of issue 12, in one call: the hf and torchtune exports of a
# QLoRA and a LoRA pipeline (TinyLlama's shape, random weights, 20 steps,
# checkpointing, SDPA) run on this machine's GPU; each run's allocator peaks
# are compared with the plan and each planned decision must show (4-bit
# layers, checkpointed layers, the attention kernel). Meant to finish in
# under 8 minutes on one H100 with the wheels below present.
#
# Nothing is downloaded. What must be present:
#   - an NVIDIA GPU with its driver, python3 (3.10-3.12) with venv;
#   - the whisperc binary (bin/whisperc, or $WHISPERC, or Go to build it);
#   - for each engine either an interpreter that already has its packages
#     ($HF_PYTHON, $TT_PYTHON), or a wheelhouse ($WHEELS, default
#     shared/wheels) holding every wheel, dependencies included, for this
#     Python and platform:
#       hf:        the hf export's requirements.txt (torch 2.15.0, transformers
#                  5.23.0, trl 1.16.0, peft 0.21.2, accelerate 1.15.0,
#                  datasets 5.2.0, bitsandbytes 0.50.2) + sentencepiece
#       torchtune: torch 2.7.1, torchao 0.11.0, torchtune 0.6.1 + sentencepiece
#     made on a networked machine with, for example,
#       pip download -d shared/wheels -r hf-requirements.txt sentencepiece
#       pip download -d shared/wheels -r tt-requirements.txt sentencepiece
#     (the two requirement files are what this script prints with --print-requirements).
#
# Usage: planner/testdata/measured/run_engines_check.sh [--print-requirements] [measure_engines.py flags]
# Results: one JSON line per case on stdout and in $OUT/engines-check.jsonl
# (OUT defaults to a temporary directory), the table on stderr. Exit 0 only
# when every case ran, showed every decision and is within 10% of the plan.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
start=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/engines-check.XXXXXX")
out=${OUT:-$work}
mkdir -p "$out"

whisperc=${WHISPERC:-$root/bin/whisperc}
if [ ! -x "$whisperc" ]; then
  if command -v go >/dev/null; then
    (cd "$root" && go build -o "$work/whisperc" ./cmd/whisperc)
    whisperc=$work/whisperc
  else
    echo "run_engines_check: no whisperc at $whisperc and no Go to build one; set WHISPERC" >&2
    exit 2
  fi
fi

# The requirements come from the exports themselves, so the check installs
# exactly what a user's export pins.
python3 "$here/measure_engines.py" --whisperc "$whisperc" --dry-run --work "$work" >/dev/null 2>&1 || {
  echo "run_engines_check: planning or exporting the cases failed:" >&2
  python3 "$here/measure_engines.py" --whisperc "$whisperc" --dry-run --work "$work" >&2 || true
  exit 2
}
hfreq=$(ls -d "$work"/hf-qlora-1.1b-*/out/requirements.txt | head -1)
ttreq=$(ls -d "$work"/tt-qlora-1.1b-*/out/requirements.txt | head -1)
if [ "${1:-}" = "--print-requirements" ]; then
  echo "# hf"; grep -v '^#' "$hfreq"; echo sentencepiece
  echo "# torchtune"; grep -v '^#' "$ttreq"; echo sentencepiece
  exit 0
fi

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || {
  echo "run_engines_check: no NVIDIA GPU here (nvidia-smi missing)" >&2
  exit 2
}

wheels=${WHEELS:-$root/shared/wheels}
venv() { # venv NAME REQUIREMENTS EXTRA... -> prints the interpreter
  local name=$1 dir=$work/venv-$1 req=$2
  shift 2
  python3 -m venv "$dir" >&2
  if [ ! -d "$wheels" ]; then
    echo "run_engines_check: no wheelhouse at $wheels and no ${name^^}_PYTHON; see the head of this script" >&2
    return 1
  fi
  "$dir/bin/pip" install -q --no-index --find-links "$wheels" -r "$req" "$@" >&2
  echo "$dir/bin/python"
}
hfpy=${HF_PYTHON:-}
ttpy=${TT_PYTHON:-}
[ -n "$hfpy" ] || hfpy=$(venv hf "$hfreq" sentencepiece)
[ -n "$ttpy" ] || ttpy=$(venv tt "$ttreq" sentencepiece)
"$hfpy" -c 'import torch, transformers, trl, peft, bitsandbytes, accelerate, sentencepiece; assert torch.cuda.is_available()'
"$ttpy" -c 'import torch, torchtune, torchao, sentencepiece; assert torch.cuda.is_available()'
echo "run_engines_check: environments ready after $(( $(date +%s) - start )) s" >&2

status=0
timeout 420 python3 "$here/measure_engines.py" --whisperc "$whisperc" --hf-python "$hfpy" --tt-python "$ttpy" \
  --work "$work" --case-timeout 150 "$@" | tee "$out/engines-check.jsonl" || status=$?
echo "run_engines_check: $(( $(date +%s) - start )) s in all; results in $out/engines-check.jsonl" >&2
exit "$status"
