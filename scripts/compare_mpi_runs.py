#!/usr/bin/env python3
"""Compares a data-parallel llama-pretrain run with the one-process run of the same global batch.

usage: compare_mpi_runs.py ONE_PROCESS_DIR DATA_PARALLEL_DIR [--rtol 1e-5]
           [--sketch-ratio K/N --exact-reference EXACT_DATA_PARALLEL_DIR]

Checks the losses step by step (relative tolerance), and with --sketch-ratio that the sketch
bytes sent are at most K/N of the exact gradient bytes the sketches replaced (the exact reference
run's exact bytes minus this run's exact bytes, over the same steps).
"""
import argparse
import json
import sys


def metrics(run):
    with open(f"{run}/metrics.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("single")
    ap.add_argument("parallel")
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--sketch-ratio", type=float)
    ap.add_argument("--exact-reference")
    a = ap.parse_args()
    one, dp = metrics(a.single), metrics(a.parallel)
    if len(one) != len(dp) or not one:
        sys.exit(f"compare: {len(one)} steps in {a.single}, {len(dp)} in {a.parallel}")
    worst = 0.0
    for x, y in zip(one, dp):
        rel = abs(x["loss"] - y["loss"]) / max(abs(x["loss"]), 1e-30)
        worst = max(worst, rel)
        if not rel <= a.rtol:
            sys.exit(f"compare: step {x['step']}: loss {x['loss']} (1 process) vs {y['loss']} (data parallel), relative {rel:.2e} > {a.rtol}")
    if any("exchange_bytes" not in y for y in dp):
        sys.exit(f"compare: {a.parallel}/metrics.jsonl has no exchange_bytes")
    sent = {k: sum(y["exchange_bytes"][k] for y in dp) for k in ("exact", "sketch", "norms")}
    line = f"{len(dp)} steps, worst relative loss difference {worst:.1e}; bytes sent over the run: {sent}"
    if a.sketch_ratio is not None:
        ref = metrics(a.exact_reference)
        replaced = sum(r["exchange_bytes"]["exact"] for r in ref) - sent["exact"]
        if replaced <= 0 or sent["sketch"] <= 0:
            sys.exit(f"compare: no sketch exchange measured (replaced {replaced}, sketch {sent['sketch']})")
        ratio = sent["sketch"] / replaced
        if ratio > a.sketch_ratio:
            sys.exit(f"compare: sketch bytes are {ratio:.3f} of the exact bytes they replace, above k/n = {a.sketch_ratio}")
        line += f"; sketches are {ratio:.3f} of the exact gradient bytes they replace (k/n = {a.sketch_ratio})"
    print(f"compare: ok: {line}")


if __name__ == "__main__":
    main()
