#!/usr/bin/env python3
"""Checks that transformers loads Sketchgrad's MoE checkpoints and computes the same loss.

OPTIONAL (not run by CI): needs torch, transformers and safetensors in a venv, e.g.
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch transformers tokenizers safetensors
Build first: `swift build -c release`. For a Mixtral-style MoE (no shared expert) and a
Qwen2-MoE-style one (shared expert), it trains a tiny model for a few steps with llama-pretrain,
loads the checkpoint folder with AutoModelForCausalLM and AutoTokenizer, and compares the
next-token loss of transformers (fp32, eager attention) on a batch with the loss llama-gradients
reports for the same batch. Exit code 1 if they differ by more than --tol.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, AutoTokenizer


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=".build/release")
    ap.add_argument("--work", default=None)
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()
    work = pathlib.Path(a.work or tempfile.mkdtemp(prefix="sketchgrad-moe-"))
    work.mkdir(parents=True, exist_ok=True)
    binary = pathlib.Path(a.bin)

    def run(tool, *args):
        r = subprocess.run([str(binary / tool), *map(str, args)], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{tool} failed: {r.stderr.strip()}")
        return r.stdout

    text = work / "text.txt"
    text.write_text(("The cat sat on the mat. The dog ran in the park, and the bird sang. " * 400), encoding="utf-8")
    config = work / "tiny.json"
    config.write_text(json.dumps({"model_type": "llama", "hidden_size": 32, "intermediate_size": 48,
                                  "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2,
                                  "vocab_size": 320, "max_position_embeddings": 64}))
    worst = 0.0
    for name, moe in [("mixtral-style", "experts:4,topk:2"), ("qwen2-moe-style", "experts:4,topk:2,shared:1")]:
        out = work / name
        run("llama-pretrain", "--config", config, "--moe", moe, "--data", text, "--steps", 20, "--batch", 4,
            "--seq", 32, "--lr", "3e-3", "--eval-every", 0, "--threads", 1, "--out", out)
        ckpt = out / "checkpoint"
        cfg = json.loads((ckpt / "config.json").read_text())
        tok = AutoTokenizer.from_pretrained(str(ckpt))
        sample = "The bird ran on the mat, and the cat sang in the park. The dog sat."
        ids = torch.tensor([tok(sample, add_special_tokens=False)["input_ids"][:16]] +
                           [tok(sample[10:], add_special_tokens=False)["input_ids"][:16]], dtype=torch.int64)
        save_file({"input_ids": ids}, str(work / f"{name}-ids.safetensors"))
        run("llama-gradients", "--model", ckpt, "--input", work / f"{name}-ids.safetensors",
            "--output", work / f"{name}-grads.safetensors")
        swift_loss = load_file(str(work / f"{name}-grads.safetensors"))["loss"].item()
        model = AutoModelForCausalLM.from_pretrained(str(ckpt), dtype=torch.float32, attn_implementation="eager")
        model.eval()
        with torch.no_grad():
            hf_loss = model(input_ids=ids, labels=ids).loss.item()
        diff = abs(hf_loss - swift_loss)
        worst = max(worst, diff)
        print(f"{name}: {type(model).__name__} (model_type {cfg['model_type']}), "
              f"transformers loss {hf_loss:.9g}, Sketchgrad loss {swift_loss:.9g}, |difference| {diff:.2e}")
    return 0 if worst <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
