#!/usr/bin/env python3
"""Compare `llama-gradients` with PyTorch / Hugging Face transformers on a tiny LLaMA.

OPTIONAL: needs `pip install torch transformers safetensors numpy` (in a venv outside the repo)
and is not run by CI. Build the tool first: `swift build --product llama-gradients`.

It builds a small random LlamaForCausalLM (hidden 32, 2 layers, 2 heads, vocab 64; norm weights
randomised too, so the RMSNorm scale order matters), saves its weights, config.json and random
input_ids, runs the Swift tool, and prints the relative differences of the loss and of every
gradient against PyTorch in float32 and in float64. Exit code 1 if a difference exceeds --tol.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file
from transformers import LlamaConfig, LlamaForCausalLM


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/debug/llama-gradients")
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--seq", type=int, default=12)
    parser.add_argument("--kv-heads", type=int, default=2, help="fewer than 2 tests grouped-query attention")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tol", type=float, default=1e-4, help="max relative difference vs float64")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    config = LlamaConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=args.kv_heads, vocab_size=64, max_position_embeddings=64,
        rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False, initializer_range=0.2,
        attention_bias=False, mlp_bias=False, hidden_act="silu",
    )
    model = LlamaForCausalLM(config).float()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
    ids = torch.randint(0, config.vocab_size, (args.batch, args.seq), dtype=torch.int64)

    work = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="llama-grad-"))
    work.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(work / "model", safe_serialization=True)
    save_file({"input_ids": ids}, str(work / "ids.safetensors"))
    out = work / "grads.safetensors"
    run = subprocess.run([args.binary, "--model", str(work / "model"), "--input", str(work / "ids.safetensors"),
                          "--output", str(out)], capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr.strip(), file=sys.stderr)
        return 1
    print(run.stdout.strip())
    swift = load_file(str(out))

    report = {}
    for dtype in (torch.float32, torch.float64):
        m = LlamaForCausalLM(config)
        m.load_state_dict(model.state_dict())
        m = m.to(dtype)
        m.config._attn_implementation = "eager"
        m.zero_grad()
        out_hf = m(input_ids=ids, labels=ids)  # Hugging Face shift, mean over B*(S-1)
        # HF upcasts logits to float32 inside its loss, so for a true float64 reference the same
        # shifted mean cross-entropy is recomputed here in the model's dtype.
        logits = out_hf.logits.to(dtype)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, config.vocab_size), ids[:, 1:].reshape(-1))
        assert abs(loss.item() - out_hf.loss.item()) <= 1e-5 * abs(loss.item()), "shift convention differs from HF's"
        loss.backward()
        worst, worst_name = 0.0, ""
        for name, p in m.named_parameters():
            g = swift[f"grad.{name}"].to(dtype)
            rel = ((g - p.grad).abs().max() / p.grad.abs().max().clamp_min(1e-30)).item()
            if rel > worst:
                worst, worst_name = rel, name
        loss_rel = abs(swift["loss"].item() - loss.item()) / abs(loss.item())
        report[str(dtype).replace("torch.", "")] = {
            "loss_torch": loss.item(), "loss_swift": swift["loss"].item(), "loss_rel_diff": loss_rel,
            "grad_max_rel_diff": worst, "grad_worst_param": worst_name,
        }
        missing = {f"grad.{n}" for n, _ in m.named_parameters()} - set(swift)
        if missing:
            print(f"missing gradients: {sorted(missing)}", file=sys.stderr)
            return 1
    print(json.dumps(report, indent=2))
    ok = report["float64"]["loss_rel_diff"] <= args.tol and report["float64"]["grad_max_rel_diff"] <= args.tol
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
