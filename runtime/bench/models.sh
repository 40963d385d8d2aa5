# Shared set-up of bench.sh and issue8.sh, sourced after `set -euo pipefail`
# with root, out, shapes and tok set: checks the tokenizer, node-llama-cpp's
# libraries and a C compiler; builds the bench driver (wbench) and the
# llama.cpp quantiser caller (quantize); writes each shape's llama2.c file
# and GGUF F32/Q8_0/Q4_0 copies with whisperc's writers, and llama.cpp's
# own Q4_K_M file, unless they are in $out already. Sets libdir.
libdir=$root/interop/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
me=$(basename "$0")
[ -f "$tok" ] || { echo "$me: tokenizer $tok is missing (set TOKENIZER)" >&2; exit 1; }
[ -d "$libdir" ] || { echo "$me: $libdir is missing; run (cd interop && npm ci --omit=optional)" >&2; exit 1; }
command -v cc >/dev/null || { echo "$me: a C compiler is needed to call llama_model_quantize" >&2; exit 1; }
mkdir -p "$out"
go build -o "$out/wbench" "$root/runtime/bench"
cc -O1 "$root/runtime/bench/llamacpp/quantize.c" -o "$out/quantize" -L"$libdir" -l:libllama.v0.4.0.so -Wl,-rpath,"$libdir"
for s in $shapes; do
	[ -f "$out/$s-q4_0.gguf" ] || "$out/wbench" gen -shape "$s" -tokenizer "$tok" -dir "$out"
	[ -f "$out/$s-q4_k_m.gguf" ] || "$out/quantize" "$out/$s-f32.gguf" "$out/$s-q4_k_m.gguf" 15 >/dev/null 2>&1
done
