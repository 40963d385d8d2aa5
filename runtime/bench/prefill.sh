#!/usr/bin/env bash
# prefill.sh: quantised prefill (and decode) at one thread, whisperc against
# llama.cpp (node-llama-cpp 3.21.1) and, when OLD names a bench driver built
# from an earlier commit, against that too, run by run alternated: per round
# one llama.cpp process measures every file of the shape, then each
# whisperc driver runs each format. Prints the median over ROUNDS rounds of
# tokens per CPU-second (steadier than wall clock on a shared machine) and
# the ratios. The models are issue8.sh's (written by models.sh into OUTDIR
# when missing). Then the first prefill's cold start (`wbench cold`, one
# more process per format and round; the new driver's with -reserve, as
# `wbench run` builds its engine; interop/cold-llamacpp.mjs for llama.cpp,
# one process per file and round): the load, the prompt's graph built
# alone (llama.cpp: its context created), the first prefill and a second
# one of the same prompt, each in CPU ms with its page faults and
# collections, medians too. About 3 minutes for the defaults on a quiet
# 2-CPU machine.
#
#   [OLD=/tmp/wbench-old] runtime/bench/prefill.sh [OUTDIR]
#   (env: SHAPES="15M 42M" FORMATS="q8_0 q4_0 q4_k_m nf4" ROUNDS=5 PROMPT=128 GEN=32)
#   old driver: git worktree add /tmp/old <commit> && go build -o /tmp/wbench-old /tmp/old/runtime/bench
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-${TMPDIR:-/tmp}/whisperc-bench}
shapes=${SHAPES:-"15M 42M"}
formats=${FORMATS:-"q8_0 q4_0 q4_k_m nf4"}
rounds=${ROUNDS:-5}
prompt=${PROMPT:-128}
gen=${GEN:-32}
tok=${TOKENIZER:-$root/../shared/models/llama2c-tokenizer32k.bin}
old=${OLD:-}
if [ -n "$old" ] && [ ! -x "$old" ]; then echo "prefill.sh: OLD=$old is not executable" >&2; exit 1; fi
. "$root/runtime/bench/models.sh"

# spec FORMAT SHAPE: whisperc's model spec, -quantize and llama.cpp's file.
spec() {
	case $1 in
	nf4) echo "llama2c:$out/$2.bin nf4 $2-q4_0.gguf" ;;
	*) echo "gguf:$out/$2-$1.gguf none $2-$1.gguf" ;;
	esac
}
res=$out/prefill.jsonl
: >"$res"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
	for s in $shapes; do
		files=$(for f in $formats; do spec "$f" "$s" | cut -d' ' -f3; done | sort -u | sed "s|^|$out/|" | paste -sd,)
		# Each run's output is read once it has exited: a reader started
		# beside it (python3 behind a pyenv shim takes 0.3 CPU-seconds to
		# start) slows it.
		(cd "$root/interop" && node bench-llamacpp.mjs "$files" 1 "$prompt" "$gen") >"$out/run.json"
		python3 -c "import json,sys
for l in open('$out/run.json'):
    r=json.loads(l); print(json.dumps(dict(side='llama.cpp', shape='$s', file=r['model'], prefill=r['prefill_tokens']/r['prefill_cpu_s'], decode=r['decode_tokens']/r['decode_cpu_s'])))" >>"$res"
		for file in $(echo "$files" | tr , ' '); do
			(cd "$root/interop" && node cold-llamacpp.mjs "$file" "$prompt" "$gen") >"$out/run.json"
			python3 -c "import json,sys
r=json.load(open('$out/run.json'))
print(json.dumps(dict(side='llama.cpp', shape='$s', format=r['model'].split('/')[-1], cold=r)))" >>"$res"
		done
		for f in $formats; do
			read -r m q peer < <(spec "$f" "$s")
			for side in new ${old:+old}; do
				b=$out/wbench
				[ "$side" = old ] && b=$old
				"$b" run -model "$m" -quantize "$q" -threads 1 -prompt "$prompt" -gen "$gen" >"$out/run.json"
				python3 -c "import json,sys
r=json.load(open('$out/run.json'))
print(json.dumps(dict(side='$side', shape='$s', format='$f', file='$peer', prefill=r['prefill_tokens']/r['prefill_cpu_s'], decode=r['decode_tokens']/r['decode_cpu_s'])))" >>"$res"
				# An old driver without the cold command is left out.
				reserve=-reserve
				[ "$side" = old ] && reserve=
				"$b" cold $reserve -model "$m" -quantize "$q" -prompt "$prompt" -gen "$gen" 2>/dev/null >"$out/run.json" &&
					python3 -c "import json,sys
r=json.load(open('$out/run.json'))
print(json.dumps(dict(side='$side', shape='$s', format='$f', cold=r)))" >>"$res" || true
			done
		done
	done
done
python3 - "$res" "$rounds" <<'PY'
import json, sys, statistics as st
every = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in every if 'cold' not in r]
def med(side, shape, key, fmt=None, file=None):
    v = [r[key] for r in rows if r['side'] == side and r['shape'] == shape and (fmt is None or r.get('format') == fmt) and (file is None or r['file'] == file)]
    return st.median(v) if v else None
has_old = any(r['side'] == 'old' for r in rows)
print(f"tokens per CPU-second, 1 thread, median of {sys.argv[2]} alternated rounds; whisperc new (old) ÷ llama.cpp\n")
print('| model | format | prefill new | ' + ('prefill old | ' if has_old else '') + 'llama.cpp | new÷llama | ' + ('old÷llama | ' if has_old else '') +
      'decode new÷llama | ' + ('decode old÷llama |' if has_old else ''))
print('|---' * (7 + 2 * has_old) + '|')
seen = []
for r in rows:
    k = (r['shape'], r.get('format'))
    if r['side'] != 'new' or k in seen:
        continue
    seen.append(k)
    s, f, peer = r['shape'], r['format'], r['file']
    pn, po, pl = med('new', s, 'prefill', f), med('old', s, 'prefill', f), med('llama.cpp', s, 'prefill', file=peer)
    dn, do, dl = med('new', s, 'decode', f), med('old', s, 'decode', f), med('llama.cpp', s, 'decode', file=peer)
    cells = [s, f, f"{pn:.0f}"] + ([f"{po:.0f}"] if has_old else []) + [f"{pl:.0f}", f"{pn/pl:.2f}"] + ([f"{po/pl:.2f}"] if has_old else []) + [f"{dn/dl:.2f}"] + ([f"{do/dl:.2f}"] if has_old else [])
    print('| ' + ' | '.join(cells) + ' |')
cold = [r for r in every if 'cold' in r]
if cold:
    print(f"\nthe first prefill's cold start (wbench cold), median of {sys.argv[2]}: CPU ms / minor page faults / collections")
    print("(new: engine built for the prompt, -reserve; llama.cpp: its graph build is the context's creation)")
    print("\n| model | format | side | load | graph build | first prefill | second prefill | first - second |")
    print('|---' * 8 + '|')
    seen = []
    for r in cold:
        k = (r['shape'], r['format'], r['side'])
        if k in seen:
            continue
        seen.append(k)
        rs = [x['cold'] for x in cold if (x['shape'], x['format'], x['side']) == k]
        m = lambda ph, key: st.median([x[ph][key] for x in rs])
        cell = lambda ph: f"{m(ph, 'cpu_s')*1e3:.1f} / {m(ph, 'minflt'):.0f} / {m(ph, 'gcs'):g}"
        print(f"| {k[0]} | {k[1]} | {k[2]} | {cell('load')} | {cell('build')} | {cell('first')} | {cell('second')} | {st.median([(x['first']['cpu_s'] - x['second']['cpu_s'])*1e3 for x in rs]):.1f} |")
PY
