#!/usr/bin/env bash
# measure_serve.sh measures whisperc's CPU serving plan against whisperc's
# own server on this machine and rewrites the measured file (default
# serve-cpu-amd-epyc-2vcpu.json beside this script), then checks it with
# planner/cost's TestMeasuredServe. About 3 minutes on a quiet 2-vCPU
# machine.
#
# For each row (the 15M llama2.c shape with seeded random weights in fp32
# under compile = none, the serve stage's default, and under compile =
# default, in q8_0 and in nf4, each with max_batch 16 and max_tokens 64;
# and examples/serve-tiny.whisper as written, on another port):
#   1. `whisperc plan --json`, which calibrates the machine on first use
#      (a fresh cache, so every row is planned from this run's rates) and
#      times the server's own batched steps for that shape
#      (runtime.MeasureServe); the plan keeps them (time.serve_steps);
#   2. `whisperc run` serves the pipeline, and interop/serve-load.mjs
#      drives it with the official OpenAI npm client at each concurrency
#      the plan predicts (1, 2, 4, … max_batch), ROUNDS completions of
#      max_tokens tokens per client at temperature 1, measuring completion
#      tokens per second of wall time;
#   3. the same client then fills every slot's context (max_batch
#      prompts of about context-16 tokens at once), since the plan's peak
#      is that of full contexts, and the server's VmHWM (peak resident
#      memory) is read before it is stopped.
# The file keeps the rates, each row's plan inputs (the measured steps,
# the decode step), the predicted and measured tokens/s by concurrency and
# the predicted and measured peak RSS.
#
# Set QUIET=1 only on a machine doing nothing else: the file then says so
# and TestMeasuredServe asserts the speed half (±25%) as well as the
# memory half (±10%); otherwise it says "loaded" and the speed is reported.
#
# With MEMORY_ONLY=1 it rewrites only the memory half of the existing
# file (every row's measured and predicted peak RSS, its memory
# components and filled context, and the rates' base, executable,
# startup and released bytes), keeping its speeds, steps and quiet flag: peak RSS is
# steady on a loaded machine where speed is not. Every row of the file
# must be measured again (no ONLY); ROUNDS=1 saves time.
#
# Usage: [QUIET=1] [ROUNDS=3] [ONLY=name,...] [MEMORY_ONLY=1] planner/testdata/measured/measure_serve.sh [OUT.json]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$here/serve-cpu-amd-epyc-2vcpu.json}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
models=$(cd "$root/../shared/models" 2>/dev/null && pwd) || { echo "measure_serve.sh: ../shared/models is missing" >&2; exit 1; }
tok=$models/llama2c-tokenizer32k.bin
port=${PORT:-18190}
rounds=${ROUNDS:-3}
cd "$root"
work=$(mktemp -d)
server=
cleanup() {
	[ -z "$server" ] || { kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
	rm -rf "$work"
}
trap cleanup EXIT
[ -d interop/node_modules/openai ] || (cd interop && npm ci --omit=optional --no-audit --no-fund >/dev/null)
go build -o "$work/whisperc" ./cmd/whisperc
go build -o "$work/wbench" ./runtime/bench
"$work/wbench" gen -shape 15M -tokenizer "$tok" -dir "$work" >/dev/null
# A fresh cache: the machine is calibrated by this run's first plan, and
# every row's serving steps are measured now.
export XDG_CACHE_HOME=$work/cache WHISPERC_CPU_RATES=
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# row NAME MODEL_EXTRA SERVE_EXTRA: a 15M server of max_batch 16 and
# max_tokens 64.
row15() {
	local dir=$work/$1
	mkdir -p "$dir"
	cat >"$dir/p.whisper" <<PIPE
model m {
  source    = "llama2c:$work/15M.bin"
  tokenizer = "$tok"
$2
}

serve api {
  model      = m
  port       = $port
  max_batch  = 16
  max_queue  = 256
  max_tokens = 64
  timeout    = 300
$3
}
PIPE
	echo "$1 m 64 $port 15M $work/15M.bin $tok" >"$dir/row"
	port=$((port + 1))
}

# measure NAME: plan, serve, drive, read the peak.
measure() {
	local dir=$work/$1 model gen port levels fill slots
	read -r _ model gen port _ <"$dir/row"
	local t0=$SECONDS
	(cd "$dir" && "$work/whisperc" plan --json p.whisper >plan.json)
	levels=$(python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
t = next(s for s in p["stages"] if s["kind"] == "serve")["time"]
if not t.get("serving") or not t.get("serve_steps"):
    sys.exit("the plan predicts no serving rates: " + t["assumption"])
kv = next(s for s in p["stages"] if s["kind"] == "serve")["graph"]["kv_cache"]
print(",".join(str(r["sequences"]) for r in t["serving"]), kv["context"], kv["batch"])
' "$dir/plan.json")
	read -r levels fill slots <<<"$levels"
	local planned=$((SECONDS - t0))
	(cd "$dir" && exec "$work/whisperc" run p.whisper >run.log 2>&1) &
	server=$!
	if ! WHISPERC_URL="http://127.0.0.1:$port" WHISPERC_MODEL=$model CONCURRENCY=$levels GEN=$gen ROUNDS=$rounds FILL=$fill SLOTS=$slots \
		node interop/serve-load.mjs >"$dir/load.jsonl"; then
		cat "$dir/run.log" >&2
		echo "measure_serve.sh: driving $1 failed" >&2
		exit 1
	fi
	grep VmHWM "/proc/$server/status" | awk '{print $2 * 1024}' >"$dir/hwm"
	kill -TERM "$server"
	wait "$server" || { cat "$dir/run.log" >&2; echo "measure_serve.sh: the server of $1 did not exit cleanly" >&2; exit 1; }
	server=
	echo "measured $1: $(python3 -c '
import json, sys
print(", ".join("c=%d %.0f tok/s" % (r["concurrency"], r["tokens_per_s"]) for r in map(json.loads, open(sys.argv[1])) if "fill" not in r))' "$dir/load.jsonl"), peak RSS $(($(cat "$dir/hwm") >> 20)) MiB (plan ${planned} s, all $((SECONDS - t0)) s)"
}

rows=()
add() { if [ -z "${ONLY:-}" ] || [[ ",$ONLY," == *",$1,"* ]]; then rows+=("$1"); fi; }
add 15M-fp32 && row15 15M-fp32 "" ""
add 15M-fp32-compile-default && row15 15M-fp32-compile-default "" "  compile    = default"
add 15M-q8_0 && row15 15M-q8_0 "  quantize { method = q8_0 }" ""
add 15M-nf4 && row15 15M-nf4 "  quantize { method = nf4 }" ""
if add example-serve-tiny; then
	# The example as written, its paths made absolute and its port moved.
	mkdir -p "$work/example-serve-tiny"
	sed -e "s#\"\(llama2c:\)\{0,1\}\.\./\.\./shared/models/#\"\1$models/#g" -e "s#^\(  port *= *\)[0-9]*#\1$port#" \
		examples/serve-tiny.whisper >"$work/example-serve-tiny/p.whisper"
	echo "example-serve-tiny tiny 256 $port stories260K $models/stories260K.bin $models/tok512.bin" >"$work/example-serve-tiny/row"
fi
for r in "${rows[@]}"; do
	measure "$r"
done

python3 - "$work" "$out" "${QUIET:-0}" "$start" "$load0" "$rounds" "${MEMORY_ONLY:-0}" "${rows[@]}" <<'PY'
import json, os, sys, platform
work, out, quiet, start, load0, rounds, memory_only, names = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7] == "1", sys.argv[8:]
rates = json.load(open(os.path.join(work, "cache", "whisperc", "cpu-rates.json")))["rates"]
rows = []
for n in names:
    d = os.path.join(work, n)
    plan = json.load(open(os.path.join(d, "plan.json")))
    st = next(s for s in plan["stages"] if s["kind"] == "serve")
    t = st["time"]
    lines = [json.loads(l) for l in open(os.path.join(d, "load.jsonl"))]
    meas = {r["concurrency"]: r for r in lines if "fill" not in r}
    fill = next(r for r in lines if "fill" in r)
    row = open(os.path.join(d, "row")).read().split()
    rows.append({
        "name": n,
        "model": row[4],
        "file_bytes": os.path.getsize(row[5]),
        "tokenizer_file_bytes": os.path.getsize(row[6]),
        "compile": st["graph"]["compile"],
        "format": st["graph"]["layers"][0]["linears"][0]["weight"],
        "head_format": st["graph"]["head"]["weight"],
        "max_batch": max(r["sequences"] for r in t["serving"]),
        "max_tokens": int(row[2]),
        "predicted_peak_rss": st["memory"]["total_bytes"],
        "measured_peak_rss": int(open(os.path.join(d, "hwm")).read()),
        "context": fill["fill"],
        "filled_positions": fill["positions"],
        "memory_components": {c["name"]: c["bytes"] for c in st["memory"]["components"]},
        "serving": [{"sequences": r["sequences"], "predicted_tokens_per_s": r["tokens_per_second"],
                     "measured_tokens_per_s": meas[r["sequences"]]["tokens_per_s"],
                     "measured_tokens": meas[r["sequences"]]["tokens"], "measured_wall_s": meas[r["sequences"]]["wall_s"]} for r in t["serving"]],
        "serve_steps": t["serve_steps"],
        "serve_position": t["serve_position"],
        "decode_layer_seconds": t.get("decode_layer_seconds", 0),
        "decode_head_seconds": t.get("decode_head_seconds", 0),
        "decode_position_seconds": t.get("decode_position_seconds", 0),
        "assumption": t["assumption"],
    })
doc = {
    "date": start,
    "what": "whisperc plan vs whisperc run's server: completion tokens/s of wall time at each concurrency the plan predicts, "
            "driven by the official openai npm client (interop/serve-load.mjs, %d completions of max_tokens tokens per client, temperature 1), "
            "and the server's peak RSS (VmHWM) after all of them and after max_batch prompts that fill every slot's context" % rounds,
    "machine": {"cpu": platform.processor() or open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(" :\t"),
                "nproc": os.cpu_count(), "load_average_before": load0},
    "quiet": quiet,
    "note": "measured on a quiet machine (QUIET=1): TestMeasuredServe asserts the speed half" if quiet else
            "measured on a LOADED machine (other builds running): TestMeasuredServe asserts memory only and reports speed",
    "rates": rates,
    "rows": rows,
}
if memory_only:
    old = json.load(open(out))
    fresh = {r["name"]: r for r in rows}
    for r in old["rows"]:
        if r["name"] not in fresh:
            sys.exit("measure_serve.sh: MEMORY_ONLY=1 but row %s was not measured again (no ONLY)" % r["name"])
        for k in ("predicted_peak_rss", "measured_peak_rss", "memory_components", "context", "filled_positions"):
            r[k] = fresh[r["name"]][k]
    for k in ("base_bytes", "executable_bytes", "startup_bytes", "released_bytes"):
        if k in rates:
            old["rates"][k] = rates[k]
    old["memory_measured"] = {"date": start, "load_average_before": load0,
        "note": "peak RSS (every row's measured and predicted), the memory components and the rates' base, executable, startup and released bytes re-measured on this date with MEMORY_ONLY=1; the speeds, steps and other rates are the measurement of \"date\""}
    doc = old
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
PY
echo "wrote $out"
if [ "$out" = "$here/serve-cpu-amd-epyc-2vcpu.json" ]; then
	go test -count=1 -run '^TestMeasuredServe$' -v ./planner/cost | grep -E 'RSS|loaded|known|^(ok|FAIL|---)'
fi
