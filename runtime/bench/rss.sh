#!/usr/bin/env bash
# rss.sh: what a `whisperc run` process holds resident, by mapping, at its
# largest sampled resident set: the executable's code (r-x), read-only data
# and function tables (r--), writable data (rw-), the anonymous memory (Go
# heap, stacks, collector metadata), the model file and the rest. Given a
# second binary (BASE=path/to/whisperc, e.g. one built from an older
# commit) it runs both in turn, REPEAT times, for a side-by-side table.
# About 10 seconds; needs python3 and the shared stories260K model. The
# executable's share depends on the kernel and the page cache: on this
# project's 6.18 VM a fault maps a whole folio, and a file just written
# sits in the page cache in large folios, so a freshly built whisperc is
# resident almost whole (about 37 MiB) where the same file read back from
# disk is about 24 MiB. Both binaries and the model are therefore dropped
# from the page cache first (fsync, then POSIX_FADV_DONTNEED), as the
# plan-versus-run table does; FRESH=1 keeps them cached as written.
# A generation releases the executable's startup pages before it loads
# its model (runtime.releaseExecutable), so at a 15M model's peak the
# executable's share is what decoding touched again (about 13 MiB of
# 56 MB read back from disk, against 24 before the release).
#
#   runtime/bench/rss.sh [MODEL.bin TOKENIZER.bin]   (env: BASE, REPEAT, TOKENS, FRESH)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
model=${1:-$root/../shared/models/stories260K.bin}
tok=${2:-$root/../shared/models/tok512.bin}
repeat=${REPEAT:-3}
tokens=${TOKENS:-500}
for f in "$model" "$tok"; do
	[ -f "$f" ] || { echo "rss.sh: $f is missing" >&2; exit 1; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(cd "$root" && go build -o "$dir/built" ./cmd/whisperc)
# Both binaries are copied the same way: how much of an executable is
# resident depends on the folios its file has in the page cache, which
# differ between a file the linker wrote and one cp wrote.
cp "$dir/built" "$dir/whisperc"
cat >"$dir/g.whisper" <<EOF
model m {
  source    = "llama2c:$model"
  tokenizer = "$tok"
}
generate g {
  model       = m
  prompt      = ""
  max_tokens  = $tokens
  temperature = 0
  ignore_eos  = true
  kv_cache    = true
}
EOF
cat >"$dir/sample.py" <<'EOF'
import collections, os, re, subprocess, sys, time
exe, wf = sys.argv[1], sys.argv[2]
p = subprocess.Popen([exe, "run", wf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
best, hwm = None, 0
name = os.path.basename(exe)
while p.poll() is None:
    try:
        smaps = open(f"/proc/{p.pid}/smaps").read()
        status = open(f"/proc/{p.pid}/status").read()
    except OSError:
        break
    m = re.search(r"VmHWM:\s+(\d+)", status)
    hwm = max(hwm, int(m.group(1)) if m else 0)
    agg, key = collections.Counter(), None
    for line in smaps.split("\n"):
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            f = line.split(None, 5)
            path = f[5].strip() if len(f) > 5 else ""
            if os.path.basename(path) == name:
                key = {"r-xp": "exe code", "r--p": "exe rodata+pclntab"}.get(f[1], "exe data")
            elif path.endswith(".bin"):
                key = "model file"
            elif path == "" or path.startswith("[heap") or path.startswith("[stack"):
                key = "anonymous (Go heap, stacks, GC)"
            else:
                key = "libraries and other"
        elif line.startswith("Rss:") and key:
            agg[key] += int(line.split()[1])
    if best is None or sum(agg.values()) > sum(best.values()):
        best = agg
    time.sleep(0.002)
p.wait()
print("%-34s %8.1f" % ("VmHWM", hwm / 1024))
print("%-34s %8.1f" % ("largest sample", sum(best.values()) / 1024))
for k in ["exe code", "exe rodata+pclntab", "exe data", "anonymous (Go heap, stacks, GC)", "model file", "libraries and other"]:
    print("%-34s %8.1f" % (k, best.get(k, 0) / 1024))
EOF
bins=("$dir/whisperc")
if [ -n "${BASE:-}" ]; then
	cp "$BASE" "$dir/base-whisperc"
	bins+=("$dir/base-whisperc")
fi
if [ -z "${FRESH:-}" ]; then
	python3 - "${bins[@]}" "$model" <<'EOF'
import os, sys
for name in sys.argv[1:]:
    fd = os.open(name, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
EOF
fi
echo "MiB resident at the largest sample of \`whisperc run\` ($(basename "$model"), $tokens tokens)"
for r in $(seq "$repeat"); do
	for b in "${bins[@]}"; do
		echo "--- $(basename "$b") (run $r)"
		python3 "$dir/sample.py" "$b" "$dir/g.whisper"
	done
done
