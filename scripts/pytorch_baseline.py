#!/usr/bin/env python3
"""PyTorch reference for `sketchgrad-bench train --pytorch PYTHON`: trains the same LLaMA-20M
(transformers' LlamaForCausalLM, fp32, eager, AdamW) on random tokens and prints one JSON object.

Needs torch and transformers; not run by CI. Usage:
    python3 scripts/pytorch_baseline.py --batch 8 --seq 256 --steps 12 --warmup 2 --threads 2
"""
import argparse, json, resource, statistics, sys, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--intermediate", type=int, default=688)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--checkpointing", action="store_true", help="transformers' gradient checkpointing of every layer")
    a = ap.parse_args()
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=a.hidden, intermediate_size=a.intermediate, num_attention_heads=a.heads,
                      num_hidden_layers=a.layers, vocab_size=a.vocab, max_position_embeddings=max(1024, a.seq),
                      rms_norm_eps=1e-6, tie_word_embeddings=False, attn_implementation="eager")
    model = LlamaForCausalLM(cfg)
    model.train()
    if a.checkpointing:
        model.config.use_cache = False
        # transformers 5 renamed it; older versions only have the first name.
        enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
        enable()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    times = []
    for step in range(a.warmup + a.steps):
        ids = torch.randint(0, a.vocab, (a.batch, a.seq))
        t0 = time.perf_counter()
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "checkpointing": a.checkpointing,
        "threads": a.threads,
        "tokens_per_s": a.batch * a.seq / med,
        "ms_per_step": med * 1000,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "parameters": sum(p.numel() for p in model.parameters()),
    }))

if __name__ == "__main__":
    sys.exit(main())
