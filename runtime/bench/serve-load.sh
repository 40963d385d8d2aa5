#!/usr/bin/env bash
# serve-load.sh: the serving benchmark. Starts `whisperc run` on a pipeline
# that serves the 15M llama2.c shape with seeded random weights (fp32,
# max_batch 16) on a loopback port, then drives it with `bench load`:
# aggregate tokens/s and p50/p99 latency at concurrency 1, 4, 8 and 16,
# time to first token with and without a cached shared prefix, and the
# server's RSS over 10,000 short requests. See README.md here.
#
#   runtime/bench/serve-load.sh [OUTDIR]     (env: CONCURRENCY, GEN, RSS_REQUESTS, PORT)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${TMPDIR:-/tmp}/whisperc-serve-bench}
tok=${TOKENIZER:-$root/../shared/models/llama2c-tokenizer32k.bin}
port=${PORT:-18089}
[ -f "$tok" ] || { echo "serve-load.sh: tokenizer $tok is missing (set TOKENIZER)" >&2; exit 1; }
mkdir -p "$out"
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
  max_batch  = 16
  max_queue  = 256
  max_tokens = 256
  timeout    = 300
}
PIPE

(cd "$out" && exec ./whisperc run serve.whisper >"$out/server.log" 2>&1) &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
echo "# whisperc serving benchmark: 15M llama2.c shape, random weights, fp32, max_batch 16"
echo "# $(nproc) CPUs; $(uname -m); $(date -u +%Y-%m-%dT%H:%MZ)"
echo
"$out/wbench" load -url "http://127.0.0.1:$port" -model m15 -pid "$server" \
	-concurrency "${CONCURRENCY:-1,4,8,16}" -gen "${GEN:-64}" -rss-requests "${RSS_REQUESTS:-10000}"
kill -TERM $server
wait $server && echo "server drained and exited 0"
trap - EXIT
