#!/usr/bin/env python3
"""Checks a data-parallel llama-pretrain run with --dp-compress powersgd.

usage: check_powersgd_run.py RUN_DIR EXACT_RUN_DIR BOUND

The loss must fall (the mean of the last 3 steps below the first step's), and on every compressed
step (those that sent PowerSGD bytes) the PowerSGD bytes must be at most BOUND (the largest
(m+n)·r/(m·n) of the model's matrices) of the exact bytes of the matrices they replace: the
exact run's exact bytes per step minus this step's.
"""
import json
import sys


def metrics(run):
    with open(f"{run}/metrics.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    run, exact_run, bound = sys.argv[1], sys.argv[2], float(sys.argv[3])
    m, ref = metrics(run), metrics(exact_run)
    losses = [x["loss"] for x in m]
    if not sum(losses[-3:]) / 3 < losses[0]:
        sys.exit(f"powersgd: the loss did not fall: {losses}")
    per_step = ref[0]["exchange_bytes"]["exact"]
    compressed = [x for x in m if x["exchange_bytes"].get("powersgd", 0) > 0]
    if not compressed:
        sys.exit("powersgd: no step sent PowerSGD bytes")
    worst = max(x["exchange_bytes"]["powersgd"] / (per_step - x["exchange_bytes"]["exact"]) for x in compressed)
    if worst > bound:
        sys.exit(f"powersgd: sends {worst:.3f} of the exact bytes it replaces, above {bound}")
    print(f"powersgd: ok: loss {losses[0]:.4f} -> {losses[-1]:.4f} over {len(m)} steps; "
          f"{len(compressed)} compressed steps send {worst:.3f} of the exact bytes they replace (bound {bound})")


if __name__ == "__main__":
    main()
