#!/usr/bin/env bash
# bench.sh: whisperc against llama.cpp (node-llama-cpp 3.21.1, CPU) on the
# same seeded random weights, side by side in one run: decode and prefill
# tok/s, whisperc ÷ llama.cpp, for the 15M/42M/110M llama2.c shapes, each
# format and 1 and 2 threads. See README.md here.
#
#   runtime/bench/bench.sh [OUTDIR]     (env: SHAPES, THREADS, PROMPT, GEN)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${TMPDIR:-/tmp}/whisperc-bench}
shapes=${SHAPES:-"15M 42M 110M"}
threads=${THREADS:-"1 2"}
prompt=${PROMPT:-128}
gen=${GEN:-64}
tok=${TOKENIZER:-$root/../shared/models/llama2c-tokenizer32k.bin}

. "$root/runtime/bench/models.sh"

# One comparison: label, whisperc model spec and -quantize, llama.cpp file.
pairs() {
	local s=$1
	echo "fp32|llama2c:$out/$s.bin|none|$s-f32.gguf"
	echo "q8_0 (GGUF, as stored)|gguf:$out/$s-q8_0.gguf|none|$s-q8_0.gguf"
	echo "q8_0 (quantised at load)|llama2c:$out/$s.bin|q8_0|$s-q8_0.gguf"
	echo "q4_0 (GGUF, as stored)|gguf:$out/$s-q4_0.gguf|none|$s-q4_0.gguf"
	echo "Q4_K_M (llama.cpp's file)|gguf:$out/$s-q4_k_m.gguf|none|$s-q4_k_m.gguf"
	echo "nf4 vs Q4_0|llama2c:$out/$s.bin|nf4|$s-q4_0.gguf"
	echo "nf4 vs Q4_K_M|llama2c:$out/$s.bin|nf4|$s-q4_k_m.gguf"
}

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else '-')" "$1" "$2"; }
fmt() { python3 -c "import sys; print(f'{float(sys.argv[1]):.1f}')" "$1"; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "prompt $prompt tokens (one batch), then $gen greedy decode steps; tok/s are wall-clock, cpu = tokens per CPU-second"
echo
echo "| model | format | threads | whisperc decode | llama.cpp decode | ÷ | ÷ per CPU-s | whisperc prefill | llama.cpp prefill | ÷ | same greedy ids | whisperc RSS / file MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for s in $shapes; do
	while IFS='|' read -r label spec q peer; do
		for t in $threads; do
			w=$("$out/wbench" run -model "$spec" -quantize "$q" -threads "$t" -prompt "$prompt" -gen "$gen" -ids 2>"$out/w.ids")
			l=$(cd "$root/interop" && BENCH_IDS=1 node bench-llamacpp.mjs "$out/$peer" "$t" "$prompt" "$gen" 2>"$out/l.ids")
			same=no
			if [ "$(tr -s ' \n' ' ' <"$out/w.ids" | xargs)" = "$(tr -s ' \n' ' ' <"$out/l.ids" | xargs)" ]; then same=yes; fi
			wd=$(field "$w" decode_tok_s); ld=$(field "$l" decode_tok_s)
			wdc=$(python3 -c "import sys; print(float(sys.argv[1])/float(sys.argv[2]))" "$(field "$w" decode_tokens)" "$(field "$w" decode_cpu_s)")
			ldc=$(python3 -c "import sys; print(float(sys.argv[1])/float(sys.argv[2]))" "$(field "$l" decode_tokens)" "$(field "$l" decode_cpu_s)")
			wp=$(field "$w" prefill_tok_s); lp=$(field "$l" prefill_tok_s)
			rss=$(python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(f\"{r['peak_rss_bytes']/2**20:.0f} / {r['file_bytes']/2**20:.0f}\")" "$w")
			echo "| $s | $label | $t | $(fmt "$wd") | $(fmt "$ld") | $(ratio "$wd" "$ld") | $(ratio "$wdc" "$ldc") | $(fmt "$wp") | $(fmt "$lp") | $(ratio "$wp" "$lp") | $same | $rss |"
		done
	done < <(pairs "$s")
done
