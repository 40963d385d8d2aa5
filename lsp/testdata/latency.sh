#!/usr/bin/env bash
# Edit-to-diagnostics latency of the language server (issue 13): this tree
# side by side with an earlier commit, BenchmarkEditLatency (lsp/latency_test.go)
# on a 5,000-line document and on one just under 4 MiB. Both servers run
# the same benchmark file. Prints one table; takes about 2 minutes on a
# quiet 2-core machine.
# Usage: lsp/testdata/latency.sh [BASE-COMMIT]   (default: 2a3b9c1, the
# main before incremental parsing)
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:-2a3b9c1}
work=$(mktemp -d)
cleanup() { git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
git worktree add --detach "$work/base" "$base" >/dev/null 2>&1
cp lsp/latency_test.go "$work/base/lsp/"
(cd "$work/base" && go test -c -o "$work/base.test" ./lsp)
go test -c -o "$work/head.test" ./lsp
run() { # binary sub-benchmark count
  (cd lsp && "$work/$1" -test.run '^$' -test.bench "^BenchmarkEditLatency/$2\$" -test.benchtime "$3x") |
    awk -v who="${1%.test}" -v case="$2" '/^BenchmarkEditLatency/ {
      for (i = 1; i <= NF; i++) m[$(i+1)] = $i
      printf "%-10s %-5s %7.1f %9.1f %9.1f %9.1f %8.2f\n", case, who, m["lines"], m["diag-ms"], m["full-ms"], m["cpu-ms"], m["MiB"] }'
}
printf "%-10s %-5s %7s %9s %9s %9s %8s\n" case tree lines diag-ms full-ms cpu-ms MiB
for c in "5000lines 20" "4MiB 2"; do
  set -- $c
  run base.test "$1" "$2"
  run head.test "$1" "$2"
done
echo "diag-ms: keystroke to its first diagnostics; full-ms: to the analysis with the plan; cpu-ms: CPU per keystroke (wall times grow with the machine's load, CPU does not)"
