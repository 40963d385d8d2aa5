#!/bin/sh
# Training throughput: whisperc's CPU trainer against PyTorch 1.13 (Debian's
# python3-torch, under /usr/bin/python3) on the same shapes and work, side by
# side in one run, with the ratio.
#
#   runtime/bench/train.sh [WORKDIR]
#
# Environment (defaults in brackets): SHAPES [15M,42M], THREADS [1,2],
# BATCH [1], SEQ [128], STEPS [1] timed optimizer steps after one warm-up
# step, OPENBLAS [unset]: a folder holding OpenBLAS's libblas.so.3 (from
# `apt-get download libopenblas0-pthread && dpkg -x ...`, which changes
# nothing on the system) to time torch a second time on an optimised BLAS.
# Debian's torch is built against the generic libblas.so.3, which resolves
# to Netlib's reference BLAS unless an optimised one is installed: the
# script prints which one torch loaded.
#
# The issue's shape is BATCH=8 SEQ=256; the defaults are 16 times less work
# so that both sides finish within about four minutes on a quiet 2-core
# machine. REFBLAS [1]: 0 skips timing torch on the BLAS Debian ships
# (Netlib's reference BLAS, ten to twenty times slower); without it the
# issue's shape should take some four to six minutes on a quiet machine
# (an estimate from the rates at 1 x 128, not yet measured quietly):
#
#   BATCH=8 SEQ=256 REFBLAS=0 OPENBLAS=<dir> runtime/bench/train.sh
#
# Torch on OpenBLAS runs with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS both
# set to the thread count of each row, as torch.set_num_threads is, and
# with OMP_WAIT_POLICY=PASSIVE (unless set otherwise): at two threads
# OpenMP's idle threads otherwise spin against OpenBLAS's on the same two
# cores (measured once on the 2-vCPU EPYC, 15M LoRA at two threads: 29
# tok/s spinning, 806 passive).
#
# BASE [unset]: a git revision (a commit, a tag, main~3) whose trainer is
# built from `git archive` in WORKDIR and timed in the same run right after
# this tree's, with a before/after table: an A/B of a change on the same
# machine at the same moment.
#
# Each side runs LoRA (rank 16 on q/k/v/o) and full fine-tuning
# with AdamW and clipping on random weights. PROFILE=1 then profiles
# whisperc's 15M full fine-tune at one thread and prints where the time goes.
set -eu
cd "$(dirname "$0")/../.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
SHAPES=${SHAPES:-15M,42M}
THREADS=${THREADS:-1,2}
BATCH=${BATCH:-1}
SEQ=${SEQ:-128}
STEPS=${STEPS:-1}
PY=/usr/bin/python3
"$PY" -c 'import torch' 2>/dev/null || { echo "train.sh: $PY cannot import torch (apt-get install -y --no-install-recommends python3-torch)" >&2; exit 1; }
blas=$("$PY" -c 'import torch, re; print(re.search(r"BLAS_INFO=(\w+)", torch.__config__.show()).group(1))')
lib=$(ldd "$("$PY" -c 'import torch, os; print(os.path.dirname(torch.__file__))')/lib/libtorch_cpu.so" 2>/dev/null | awk '/libblas/ {print $3}')
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs; go $(go env GOVERSION); torch $("$PY" -c 'import torch; print(torch.__version__)') (BLAS_INFO=$blas, libblas.so.3 -> $(readlink -f "$lib" 2>/dev/null || echo "$lib"))"
echo "work: batch $BATCH x seq $SEQ, $STEPS timed step(s) after a warm-up, shapes $SHAPES, threads $THREADS"
go test -c -o "$work/train.test" ./runtime/train
"$work/train.test" -test.run '^$' -test.bench 'BenchmarkTrainStep' -test.benchtime "${STEPS}x" \
	-train.batch "$BATCH" -train.seq "$SEQ" -train.shapes "$SHAPES" -train.threads "$THREADS" | tee "$work/ours.txt"
: >"$work/base.txt"
if [ -n "${BASE:-}" ]; then
	rev=$(git rev-parse --short "$BASE^{commit}")
	rm -rf "$work/base" && mkdir -p "$work/base"
	git archive "$rev" | tar -x -C "$work/base"
	(cd "$work/base" && go test -c -o "$work/base.test" ./runtime/train)
	echo "BASE $BASE ($rev):"
	"$work/base.test" -test.run '^$' -test.bench 'BenchmarkTrainStep' -test.benchtime "${STEPS}x" \
		-train.batch "$BATCH" -train.seq "$SEQ" -train.shapes "$SHAPES" -train.threads "$THREADS" | tee "$work/base.txt"
fi
: >"$work/torch.txt"
if [ "${REFBLAS:-1}" != 0 ]; then
	"$PY" runtime/train/testdata/bench_torch.py --steps "$STEPS" --batch "$BATCH" --seq "$SEQ" --shapes "$SHAPES" --threads "$THREADS" | tee "$work/torch.txt"
fi
if [ -n "${OPENBLAS:-}" ]; then
	for t in $(echo "$THREADS" | tr , ' '); do
		LD_LIBRARY_PATH="$OPENBLAS" OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} "$PY" runtime/train/testdata/bench_torch.py --steps "$STEPS" --batch "$BATCH" --seq "$SEQ" \
			--shapes "$SHAPES" --threads "$t" --label TorchOpenBLAS | tee -a "$work/torch.txt"
	done
fi
"$PY" - "$work/ours.txt" "$work/torch.txt" "$work/base.txt" <<'EOF'
import re, sys
def parse(path):
    tok, cpu = {}, {}
    for line in open(path):
        m = re.match(r"BenchmarkTrainStep/(\S+?)(?:-\d+)?\s.*?([\d.]+) tok/s", line)
        if m:
            tok[m.group(1)] = float(m.group(2))
            c = re.search(r"([\d.]+) cpu-s/step", line)
            if c:
                cpu[m.group(1)] = float(c.group(1))
    return tok, cpu
(ours, ourcpu), (base, basecpu) = parse(sys.argv[1]), parse(sys.argv[3])
torch, torchcpu = {}, {}
if base:
    print("\n| config | before tok/s | after tok/s | after/before | before cpu-s/step | after cpu-s/step | before/after |")
    print("|---|---|---|---|---|---|---|")
    for k, v in ours.items():
        b, bc, c = base.get(k), basecpu.get(k), ourcpu.get(k)
        print("| %s | %s | %.1f | %s | %s | %s | %s |" % (k, "%.1f" % b if b else "-", v, "%.2f×" % (v / b) if b else "-",
              "%.4f" % bc if bc else "-", "%.4f" % c if c else "-", "%.2f×" % (bc / c) if bc and c else "-"))
for line in open(sys.argv[2]):
    m = re.match(r"Benchmark(\w+)TrainStep/(\S+) ([\d.]+) tok/s(?: ([\d.]+) cpu-s/step)?", line)
    if m:
        torch.setdefault(m.group(1), {})[m.group(2)] = float(m.group(3))
        if m.group(4):
            torchcpu.setdefault(m.group(1), {})[m.group(2)] = float(m.group(4))
labels = sorted(torch)
print("\n| config | whisperc tok/s | " + " | ".join("%s tok/s | ratio" % l for l in labels) + " |")
print("|---|---|" + "---|---|" * len(labels))
for k, v in ours.items():
    cells = []
    for l in labels:
        t = torch[l].get(k)
        cells += ["%.1f" % t, "%.2f×" % (v / t)] if t else ["-", "-"]
    print("| %s | %.1f | %s |" % (k, v, " | ".join(cells)))
# The same comparison in CPU seconds per step (each process's user+system
# time, all its threads; ratio = torch's / ours): on a machine loaded by
# other work this moves less than the wall clock. An OpenBLAS that spins
# while it waits counts the spinning, so at two threads it flatters us.
print("\n| config | whisperc cpu-s/step | " + " | ".join("%s cpu-s/step | ratio" % l for l in labels) + " |")
print("|---|---|" + "---|---|" * len(labels))
for k, v in ourcpu.items():
    cells = []
    for l in labels:
        t = torchcpu.get(l, {}).get(k)
        cells += ["%.4f" % t, "%.2f×" % (t / v)] if t else ["-", "-"]
    print("| %s | %.4f | %s |" % (k, v, " | ".join(cells)))
EOF
if [ "${PROFILE:-}" = 1 ]; then
	echo; echo "where whisperc's time goes: 15M full fine-tune, 1 thread, $STEPS step(s) of $BATCH x $SEQ"
	"$work/train.test" -test.run '^$' -test.bench 'BenchmarkTrainStep/15M/full/threads=1$' -test.benchtime "${STEPS}x" \
		-train.batch "$BATCH" -train.seq "$SEQ" -train.shapes 15M -train.threads 1 -test.cpuprofile "$work/cpu.prof" >/dev/null
	go tool pprof -top -nodecount=25 "$work/train.test" "$work/cpu.prof" 2>/dev/null | sed -n '4,32p'
fi
