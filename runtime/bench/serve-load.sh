#!/usr/bin/env bash
# serve-load.sh: the serving benchmark. Starts `whisperc run` on a pipeline
# that serves the 15M llama2.c shape with seeded random weights (fp32,
# max_batch 16) on a loopback port, then drives it with `bench load`:
# aggregate tokens/s and p50/p99 latency at concurrency 1, 4, 8 and 16,
# time to first token with and without a cached shared prefix, and the
# server's RSS over 10,000 short requests. See README.md here.
# Before serving, it plans the pipeline for this machine (`whisperc plan
# --json`, which measures the server's batched steps) and prints the
# plan's predicted tokens/s beside the measured ones; the pipeline's
# max_tokens is GEN, so that the plan's sequences are the benchmark's.
#
# RT=1 runs the plan, the server and the load under chrt -r 1, which takes
# both CPUs from other work while they run (no substitute for a quiet
# machine: the kernel still takes 5% of every second).
#
#   runtime/bench/serve-load.sh [OUTDIR]     (env: CONCURRENCY, GEN, RSS_REQUESTS, PORT, MAX_BATCH, RT)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${TMPDIR:-/tmp}/whisperc-serve-bench}
tok=${TOKENIZER:-$root/../shared/models/llama2c-tokenizer32k.bin}
port=${PORT:-18089}
[ -f "$tok" ] || { echo "serve-load.sh: tokenizer $tok is missing (set TOKENIZER)" >&2; exit 1; }
mkdir -p "$out"
rt=()
[ "${RT:-0}" = 1 ] && rt=(chrt -r 1)
out=$(cd "$out" && pwd)
go build -o "$out/whisperc" "$root/cmd/whisperc"
go build -o "$out/wbench" "$root/runtime/bench"
[ -f "$out/15M.bin" ] || "$out/wbench" gen -shape 15M -tokenizer "$tok" -dir "$out"

cat >"$out/serve.whisper" <<PIPE
model m15 {
  source    = "llama2c:$out/15M.bin"
  tokenizer = "$tok"
}

serve api {
  model      = m15
  port       = $port
  max_batch  = ${MAX_BATCH:-16}
  max_queue  = 256
  max_tokens = ${GEN:-64}
  timeout    = 300
}
PIPE

# The plan's prediction, from the server's steps measured now (cached
# per binary in the user cache directory).
(cd "$out" && "${rt[@]}" ./whisperc plan --json serve.whisper >"$out/plan.json")
planned=$(python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
t = next(s for s in p["stages"] if s["id"].startswith("serve."))["time"]
print(",".join("%d=%.1f" % (r["sequences"], r["tokens_per_second"]) for r in t.get("serving", [])))
print(t["assumption"], file=sys.stderr)
' "$out/plan.json" 2>"$out/plan-assumption.txt")
[ -n "$planned" ] || { echo "serve-load.sh: the plan predicts no serving rates: $(cat "$out/plan-assumption.txt")" >&2; exit 1; }

(cd "$out" && exec "${rt[@]}" ./whisperc run serve.whisper >"$out/server.log" 2>&1) &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
echo "# whisperc serving benchmark: 15M llama2.c shape, random weights, fp32, max_batch ${MAX_BATCH:-16}, max_tokens ${GEN:-64}"
echo "# $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')); $(uname -m); load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# plan: $(cat "$out/plan-assumption.txt")"
[ ${#rt[@]} = 0 ] || echo "# RT=1: plan, server and load ran under ${rt[*]}"
echo
"${rt[@]}" "$out/wbench" load -url "http://127.0.0.1:$port" -model m15 -pid "$server" -plan "$planned" \
	-concurrency "${CONCURRENCY:-1,4,8,16}" -gen "${GEN:-64}" -rss-requests "${RSS_REQUESTS:-10000}"
kill -TERM $server
wait $server && echo "server drained and exited 0"
trap - EXIT
