#!/usr/bin/env bash
# llama2c.sh: whisperc against llama2.c's run.c on the same seeded random
# weights (the 15M/42M/110M llama2.c shapes, fp32), side by side in one run:
#   - decode tok/s at one thread (llama2.c's "achieved tok/s" against the
#     engine's decode rate from runtime/bench), and
#   - the whole process: `whisperc run` of a generate pipeline against
#     `run model.bin -t 0 -n N`, wall and CPU time and peak RSS, and whether
#     both printed the same text (they must: the runtime's fp32 products
#     are llama2.c's bit for bit, kernels.TestMatVecIsLlama2cOrder).
# The freshly built whisperc is dropped from the page cache first (fsync,
# POSIX_FADV_DONTNEED), as rss.sh does: a file the linker just wrote sits
# in the page cache in large folios and is mapped almost whole (about 37
# MiB resident against 24 MiB when read back from disk).
#
# llama2.c is not part of this repository. Build its run.c yourself, e.g.
#   gcc -Ofast -march=native -o run run.c -lm
# and point LLAMA2C_RUN at the binary:
#
#   LLAMA2C_RUN=/path/to/run runtime/bench/llama2c.sh [OUTDIR]   (env: SHAPES, STEPS, REPEAT)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${TMPDIR:-/tmp}/whisperc-bench}
shapes=${SHAPES:-"15M 42M 110M"}
steps=${STEPS:-256}
repeat=${REPEAT:-2}
tok=${TOKENIZER:-$root/../shared/models/llama2c-tokenizer32k.bin}
run=${LLAMA2C_RUN:-}

[ -n "$run" ] && [ -x "$run" ] || { echo "llama2c.sh: set LLAMA2C_RUN to a built llama2.c run binary (gcc -Ofast -march=native -o run run.c -lm)" >&2; exit 1; }
[ -f "$tok" ] || { echo "llama2c.sh: tokenizer $tok is missing (set TOKENIZER)" >&2; exit 1; }
mkdir -p "$out"
go build -o "$out/wbench" "$root/runtime/bench"
go build -o "$out/whisperc.built" "$root/cmd/whisperc"
cp "$out/whisperc.built" "$out/whisperc"
python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)" "$out/whisperc"

# measure CMD...: prints "wall_s cpu_s peak_rss_kib" of the child, its
# stdout into $out/stdout and stderr into $out/stderr.
measure() {
	/usr/bin/time -f '%e %U %S %M' -o "$out/time" "$@" >"$out/stdout" 2>"$out/stderr"
	read -r w u s m <"$out/time"
	python3 -c "import sys; w,u,s,m=sys.argv[1:]; print(w, float(u)+float(s), m)" "$w" "$u" "$s" "$m"
}
best() { python3 -c "import sys; print('%.2f' % min(float(x) for x in sys.argv[1:]))" "$@"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else '-')" "$1" "$2"; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "llama2.c: $run; $steps positions from BOS, greedy, fp32, one thread; best of $repeat"
echo
echo "| model | whisperc decode tok/s | llama2.c tok/s | ÷ | whole process wall s (whisperc / llama2.c) | ÷ (llama2.c / whisperc) | CPU s | peak RSS MiB | same text |"
echo "|---|---|---|---|---|---|---|---|---|"
for s in $shapes; do
	[ -f "$out/$s.bin" ] || "$out/wbench" gen -shape "$s" -tokenizer "$tok" -dir "$out"
	cat >"$out/$s.whisper" <<-EOF
		model m {
		  source    = "llama2c:$out/$s.bin"
		  tokenizer = "$tok"
		}
		generate g {
		  model       = m
		  prompt      = ""
		  max_tokens  = $steps
		  temperature = 0
		  kv_cache    = true
		}
	EOF
	wd=() ld=() ww=() lw=() wc=() lc=() wm=() lm=()
	same=yes
	for _ in $(seq "$repeat"); do
		j=$("$out/wbench" run -model "llama2c:$out/$s.bin" -threads 1 -prompt 1 -gen $((steps - 1)))
		wd+=("$(python3 -c "import json,sys; print(json.loads(sys.argv[1])['decode_tok_s'])" "$j")")

		read -r w c m < <(OMP_NUM_THREADS=1 measure "$run" "$out/$s.bin" -z "$tok" -t 0 -n "$steps" -i "")
		lw+=("$w") lc+=("$c") lm+=("$m")
		ld+=("$(sed -n 's/^achieved tok\/s: //p' "$out/stderr")")
		cp "$out/stdout" "$out/llama2c.txt"

		read -r w c m < <(GOMAXPROCS=1 measure "$out/whisperc" run "$out/$s.whisper")
		ww+=("$w") wc+=("$c") wm+=("$m")
		cmp -s "$out/stdout" "$out/llama2c.txt" || same=no
	done
	bwd=$(python3 -c "import sys; print(max(float(x) for x in sys.argv[1:]))" "${wd[@]}")
	bld=$(python3 -c "import sys; print(max(float(x) for x in sys.argv[1:]))" "${ld[@]}")
	bww=$(best "${ww[@]}") blw=$(best "${lw[@]}")
	echo "| $s | $(printf %.1f "$bwd") | $(printf %.1f "$bld") | $(ratio "$bwd" "$bld") | $bww / $blw | $(ratio "$blw" "$bww") | $(best "${wc[@]}") / $(best "${lc[@]}") | $(($(best "${wm[@]}" | cut -d. -f1) / 1024)) / $(($(best "${lm[@]}" | cut -d. -f1) / 1024)) | $same |"
done
