#!/usr/bin/env bash
# Data-parallel tests (issue 12, ALGORITHMS.md §14): installs Open MPI, builds llama-pretrain with
# `--traits MPI`, and runs 2 ranks × 1 thread against one process with the same global batch:
# - exact, haar(rank:16), gradlite(rank:16) with feedback off and on: the same losses step by step
#   (relative 1e-5 over 5 steps) and identical weights on both ranks (llama-pretrain checks it);
#   the sketch runs send at most k/n of the bytes of the exact gradients they replace;
# - faults: a global batch not divisible by the ranks, ranks started with different flags, and a
#   rank killed mid-run end the job with a non-zero exit (the kill within 30 s);
# - --dp-compress powersgd(rank:4): the loss falls over 20 steps and the compressed steps send at
#   most (m+n)·r/(m·n) of the exact bytes they replace;
# - a 2-rank run resumed from rank 0's checkpoint continues as a resumed one-process run.
# Usage: bash scripts/test_mpi.sh   (SKETCHGRAD_MPI_SCRATCH sets the build folder, default .build-mpi)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --mpi

scratch=${SKETCHGRAD_MPI_SCRATCH:-.build-mpi}
swift build -c release --traits MPI --scratch-path "$scratch" --product llama-pretrain
bin="$scratch/release/llama-pretrain"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SKETCHGRAD_CACHE="$work/cache"
mpi=(mpirun --oversubscribe)
if [ "$(id -u)" -eq 0 ]; then mpi+=(--allow-run-as-root); fi
mpirun=("${mpi[@]}" -np 2)

# n = 64 for every block matrix but down (n = 128): k = 16 gives k/n ≤ 1/4.
cat > "$work/tiny.json" <<'JSON'
{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2,
 "num_hidden_layers": 2, "vocab_size": 384, "max_position_embeddings": 64}
JSON
common=(--config "$work/tiny.json" --batch 8 --seq 32 --steps 5 --warmup 2 --eval-every 0 --threads 1)

failures=0
check() { # NAME COMMAND...: runs a check, reporting its result
    local name=$1; shift
    if "$@"; then echo "test_mpi: PASS $name"; else echo "test_mpi: FAIL $name"; failures=$((failures + 1)); fi
}

pair() { # NAME ESTIMATORS [compare flags...]: one process, then 2 ranks, then compares them
    local name=$1 est=$2; shift 2
    "$bin" "${common[@]}" --estimators "default=$est" --out "$work/$name-1" > "$work/$name-1.log" 2>&1 || { cat "$work/$name-1.log"; return 1; }
    "${mpirun[@]}" "$bin" "${common[@]}" --estimators "default=$est" --out "$work/$name-2" > "$work/$name-2.log" 2>&1 || { cat "$work/$name-2.log"; return 1; }
    grep -q "weights identical on all 2 ranks" "$work/$name-2.log" || { echo "no identical-weights line"; cat "$work/$name-2.log"; return 1; }
    python3 scripts/compare_mpi_runs.py "$work/$name-1" "$work/$name-2" "$@"
}

check "exact: 2 ranks = 1 process" pair exact exact
# 64 KB buckets: the tiny model's exact gradients go in several all-reduces started from the hooks.
small_buckets() {
    export SKETCHGRAD_BUCKET_BYTES=65536
    local rc=0
    pair "$@" || rc=$?
    unset SKETCHGRAD_BUCKET_BYTES
    return $rc
}
check "exact, small buckets: 2 ranks = 1 process" small_buckets exact-buckets exact
check "haar(rank:16): 2 ranks = 1 process, sketch bytes ≤ k/n" \
    pair haar 'haar(rank:16)' --sketch-ratio 0.25 --exact-reference "$work/exact-2"
check "gradlite(rank:16): 2 ranks = 1 process, sketch bytes ≤ k/n" \
    pair gradlite 'gradlite(rank:16)' --sketch-ratio 0.25 --exact-reference "$work/exact-2"
check "gradlite(rank:16,feedback:on): 2 ranks = 1 process, sketch bytes ≤ k/n" \
    pair gradlite-ef 'gradlite(rank:16,feedback:on)' --sketch-ratio 0.25 --exact-reference "$work/exact-2"

powersgd() { # 20 steps with PowerSGD rank 4 (plain for the first 10): trains, and sends ≤ (m+n)·r/(m·n)
    "${mpirun[@]}" "$bin" "${common[@]}" --steps 20 --dp-compress 'powersgd(rank:4)' --out "$work/powersgd" \
        > "$work/powersgd.log" 2>&1 || { cat "$work/powersgd.log"; return 1; }
    grep -q "weights identical on all 2 ranks" "$work/powersgd.log" || { cat "$work/powersgd.log"; return 1; }
    # the largest (m+n)·4/(m·n) of the tiny model's matrices: 64×64 → 0.125
    python3 scripts/check_powersgd_run.py "$work/powersgd" "$work/exact-2" 0.125
}
check "powersgd(rank:4): trains and sends ≤ (m+n)·r/(m·n) of exact's bytes" powersgd

resumed() { # 3 steps then a resume to 5, in one process and in 2 ranks: the same losses
    local short=("${common[@]}" --steps 3)
    "$bin" "${short[@]}" --out "$work/resume-1" > "$work/resume.log" 2>&1 &&
    "$bin" --resume "$work/resume-1" --steps 5 >> "$work/resume.log" 2>&1 &&
    "${mpirun[@]}" "$bin" "${short[@]}" --out "$work/resume-2" >> "$work/resume.log" 2>&1 &&
    "${mpirun[@]}" "$bin" --resume "$work/resume-2" --steps 5 >> "$work/resume.log" 2>&1 || { cat "$work/resume.log"; return 1; }
    python3 scripts/compare_mpi_runs.py "$work/resume-1" "$work/resume-2" &&
    grep -q '"exchange_bytes_per_step"' "$work/resume-2/summary.json"
}
check "resume from rank 0's checkpoint: 2 ranks = 1 process" resumed

expect_failure() { # PATTERN SECONDS COMMAND...: the command must fail within SECONDS, printing PATTERN
    local pattern=$1 limit=$2; shift 2
    local start=$SECONDS
    if timeout $((limit + 30)) "$@" > "$work/fault.log" 2>&1; then echo "exited 0"; cat "$work/fault.log"; return 1; fi
    (( SECONDS - start <= limit )) || { echo "took $((SECONDS - start)) s"; return 1; }
    grep -q -- "$pattern" "$work/fault.log" || { echo "no line matching '$pattern'"; cat "$work/fault.log"; return 1; }
}

check "a batch not divisible by the ranks is refused" \
    expect_failure "must be divisible by the 2 ranks" 30 "${mpirun[@]}" "$bin" "${common[@]}" --batch 7 --out "$work/odd"
check "ranks with different flags are refused" \
    expect_failure "different configurations" 30 \
    "${mpi[@]}" -np 1 "$bin" "${common[@]}" --seed 1 --out "$work/mixed" : -np 1 "$bin" "${common[@]}" --seed 2 --out "$work/mixed"

killed_run() { # 2 ranks of a long run; rank 1 is killed with SIGKILL after its first steps
    rm -f "$work/rank1.pid"
    "${mpi[@]}" -np 1 "$bin" "${common[@]}" --steps 100000 --out "$work/killed" \
        : -np 1 bash -c 'echo $$ > "$0"; exec "$@"' "$work/rank1.pid" "$bin" "${common[@]}" --steps 100000 --out "$work/killed" &
    local job=$!
    for _ in $(seq 1 100); do [ -s "$work/killed/metrics.jsonl" ] && break; sleep 0.3; done
    kill -9 "$(cat "$work/rank1.pid")"
    wait "$job"
}
check "a killed rank ends the job" expect_failure "" 30 killed_run

if [ "$failures" -ne 0 ]; then echo "test_mpi: $failures failed"; exit 1; fi
echo "test_mpi: all passed"
