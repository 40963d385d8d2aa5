#!/usr/bin/env bash
# ab.sh: two builds of whisperc's bench driver side by side on the same
# models, alternating old and new run by run, in tokens per CPU-second
# (prefill and decode, one thread): on a machine loaded by other work,
# alternation and CPU time compare two versions far better than two
# separate wall-clock runs. Build the old driver from any commit, e.g.
#   git worktree add /tmp/old <commit> && go build -o /tmp/wbench-old /tmp/old/runtime/bench
# and the models with issue8.sh (or wbench gen) into MODELS.
#
#   runtime/bench/ab.sh OLD_WBENCH NEW_WBENCH MODELS
#   (env: SHAPES="15M 42M 110M" FORMATS="fp32 q8_0 q4_0 q4_k_m" REPEAT=2 PROMPT=128 GEN=32)
#
# A format ending in -load (nf4-load, fp4-load, q8_0-load) runs the fp32
# llama2.c model quantised at load (wbench run -quantize).
set -euo pipefail
old=$1 new=$2 dir=$3
shapes=${SHAPES:-"15M 42M 110M"}
formats=${FORMATS:-"fp32 q8_0 q4_0 q4_k_m"}
repeat=${REPEAT:-2}
prompt=${PROMPT:-128}
gen=${GEN:-32}
for b in "$old" "$new"; do [ -x "$b" ] || { echo "ab.sh: $b is not executable" >&2; exit 1; }; done
# A run's output is read once it has exited: a reader started beside it
# (python3 behind a pyenv shim takes 0.3 CPU-seconds to start) slows it.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tokens per CPU-second, one thread, best of $repeat alternated runs; prompt $prompt, decode $gen"
echo
echo "| model | format | prefill old | prefill new | new÷old | decode old | decode new | new÷old |"
echo "|---|---|---|---|---|---|---|---|"
for s in $shapes; do
	for f in $formats; do
		q=none
		case $f in
		fp32) m="llama2c:$dir/$s.bin" ;;
		*-load) m="llama2c:$dir/$s.bin" q=${f%-load} ;;
		*) m="gguf:$dir/$s-$f.gguf" ;;
		esac
		po=0 pn=0 dold=0 dnew=0
		for _ in $(seq "$repeat"); do
			for v in old new; do
				b=$old; [ $v = new ] && b=$new
				"$b" run -model "$m" -quantize "$q" -threads 1 -prompt "$prompt" -gen "$gen" >"$tmp"
				read -r p d < <(python3 -c "import json,sys; r=json.load(sys.stdin); print(r['prefill_tokens']/r['prefill_cpu_s'], r['decode_tokens']/r['decode_cpu_s'])" <"$tmp")
				if [ $v = old ]; then
					po=$(python3 -c "print(max($po,$p))") dold=$(python3 -c "print(max($dold,$d))")
				else
					pn=$(python3 -c "print(max($pn,$p))") dnew=$(python3 -c "print(max($dnew,$d))")
				fi
			done
		done
		python3 -c "print(f'| $s | $f | {$po:.0f} | {$pn:.0f} | {$pn/$po:.2f} | {$dold:.1f} | {$dnew:.1f} | {$dnew/$dold:.2f} |')"
	done
done
