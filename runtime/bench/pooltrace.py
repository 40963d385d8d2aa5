#!/usr/bin/env python3
"""pooltrace.py FILE: summarise a wbench -pooltrace file (a build with
-tags pooltrace): per product size, how often the worker had not started
its range when the caller finished its own (taken), how long the worker
took to start (signal -> start of its range), and the stretches of
consecutive taken products, which show a worker whose thread was not
running (descheduled by the OS, or its goroutine waiting for a P)."""
import statistics as st
import sys

lines = open(sys.argv[1]).read().splitlines()
cols = lines[1].split()
R = [dict(zip(cols, map(int, l.split()))) for l in lines[2:]]
if not R:
    sys.exit("no shared products traced")
span = R[-1]["sig_ns"] + R[-1]["end_ns"] - R[0]["sig_ns"]
print("%d shared products over %.1f ms, %d taken (%.1f%%), %d collector cycles during them, caller parked in %d" % (
    len(R), span / 1e6, sum(r["taken"] for r in R), 100 * sum(r["taken"] for r in R) / len(R),
    R[-1]["gcs"] - R[0]["gcs"], sum(r["caller_parked"] for r in R)))
q = lambda xs, f: sorted(xs)[min(int(f * len(xs)), len(xs) - 1)]
print("| rows | range | products | taken | caller's range µs (median) | worker start µs (median / p90 / max) |")
print("|---|---|---|---|---|---|")
by = {}
for r in R:
    by.setdefault((r["rows"], r["chunk"]), []).append(r)
for (rows, chunk), L in sorted(by.items()):
    j = [r["react_ns"] / 1e3 for r in L if r["react_ns"] >= 0]
    print("| %d | %d | %d | %.0f%% | %.2f | %s |" % (rows, chunk, len(L), 100 * sum(r["taken"] for r in L) / len(L),
          st.median(r["own_ns"] for r in L) / 1e3, "%.2f / %.2f / %.1f" % (st.median(j), q(j, .9), max(j)) if j else "-"))
runs, i = [], 0
while i < len(R):
    if R[i]["taken"]:
        k = i
        while k < len(R) and R[k]["taken"]:
            k += 1
        runs.append(((R[k - 1]["sig_ns"] + R[k - 1]["end_ns"] - R[i]["sig_ns"]) / 1e3, k - i))
        i = k
    else:
        i += 1
runs.sort(reverse=True)
print("stretches of taken products: %d, %.1f ms in all; longest (µs, products): %s" % (
    len(runs), sum(r[0] for r in runs) / 1e3, ", ".join("%.0f/%d" % r for r in runs[:6])))
late = [r for r in R if r["ck_before_start_ns"] > 50000]
print("worker starts more than 50 µs after its last spin checkpoint (its thread was off the CPU): %d" % len(late))
