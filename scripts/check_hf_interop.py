#!/usr/bin/env python3
"""Real-client checks of Sketchgrad's Hugging Face interop (run by .ci/run, takes seconds).

Needs `tokenizers` and `safetensors` (and numpy); `transformers` is used when installed.
Build first: `swift build -c release`. Checks, on text that no tokenizer was trained on:
  1. Hugging Face `tokenizers` loads the tokenizer.json that Sketchgrad writes (train-tokenizer and
     a training run's checkpoint) and gives exactly Sketchgrad's ids, and decodes them back;
     with transformers, AutoTokenizer.from_pretrained(folder) too.
  2. Sketchgrad loads tokenizers trained by `tokenizers` (GPT-2 ByteLevel, LLaMA-3-style Split +
     ByteLevel with special tokens, Qwen2-style NFC + Split) and gives exactly their ids.
  3. Python `safetensors` reads every .safetensors file Sketchgrad wrote (checkpoint weights and
     training state, token ids, gradients) and finds the same ids.
Prints one line per check and 'interop: N passed, M failed'; exit code 1 if any failed.
"""
import argparse
import json
import pathlib
import random
import subprocess
import sys
import tempfile

from safetensors.numpy import load_file
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

WORDS = ("the of and to in is was that for it with as his on be at by had are but from or have an they which one "
         "you were her all she there would their we him been has when who will more no if out so said what up its "
         "about into than them can only other new some could time these two may then do first any my now such like "
         "our over man me even most made after also did many before must through back years where much your way "
         "well down should because each just those people how too little state good very make world").split()
UNICODE = ["café", "naïve", "résumé", "日本語", "中文文本", "Привет", "мир", "ἀρχή", "😀", "🎉", "👍🏽", "🇫🇷",
           "€100", "1,234.56", "٣٤٥", "①②", "ſs", "'S", "İstanbul", "straße", "e\u0301", "\u00a0", "\u3000",
           "\u2028", "\x1c", "\x85", "\u200b", "\x00", "\x7f"]
CODE = ["def f(x):\n    return x**2  # square\n", "if (a && b) { c++; }\r\n", "for i in range(10):\n\tprint(i)\n",
        "x = [1, 2, 3]\n", "    \n\n\n   ", "it's", "we'll", "they've", "I'm", "you'd", "don't", "CAN'T", "O'Neil",
        "<|endoftext|>", "<|begin_of_text|>", "12345678", "3.14159", "----", "!!!", "  \t  "]


def random_scalars(seed, count):
    """Random Unicode scalars from every plane (no surrogates), weighted towards ASCII."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        r = rng.random()
        if r < 0.5:
            c = rng.randrange(0, 128)
        elif r < 0.8:
            c = rng.randrange(128, 0x3000)
        else:
            c = rng.randrange(0x3000, 0x110000)
        out.append(chr(c) if not 0xD800 <= c < 0xE000 else " ")
    return "".join(out)


def text(seed, pieces):
    rng = random.Random(seed)
    out = []
    for _ in range(pieces):
        r = rng.random()
        if r < 0.75:
            out.append(rng.choice(WORDS) + rng.choice([" ", " ", ". ", ", ", "\n", "  ", "\t", " - ", "\n\n"]))
        elif r < 0.9:
            out.append(rng.choice(UNICODE) + rng.choice([" ", "", "\n"]))
        else:
            out.append(rng.choice(CODE))
    return "".join(out)


class Checker:
    def __init__(self, bin_dir, work):
        self.bin = pathlib.Path(bin_dir)
        self.work = work
        self.failures = 0
        self.passes = 0

    def run(self, tool, *args):
        r = subprocess.run([str(self.bin / tool), *map(str, args)], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"check: {tool} {' '.join(map(str, args))} failed: {r.stderr.strip()}")
        return r.stdout

    def sketchgrad_ids(self, tokenizer, text_file, name):
        out = self.work / f"{name}.safetensors"
        self.run("llama-pretrain", "tokenize", "--tokenizer", tokenizer, "--text", text_file, "--out", out)
        ids = load_file(str(out))["input_ids"]
        assert ids.dtype.name == "int32" and ids.ndim == 2 and ids.shape[0] == 1, (ids.dtype, ids.shape)
        return ids[0].tolist()

    def expect(self, ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if ok:
            self.passes += 1
        else:
            self.failures += 1


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"first difference at {i}: {a[max(0, i - 3):i + 4]} vs {b[max(0, i - 3):i + 4]}"
    return f"lengths {len(a)} vs {len(b)}"


def hf_trained_tokenizers(train_file, out_dir):
    """Three byte-level BPE tokenizers trained by `tokenizers`, saved as folders."""
    gpt2_like = Tokenizer(models.BPE())
    gpt2_like.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    gpt2_like.decoder = decoders.ByteLevel()

    llama3_pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                      r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    llama3_like = Tokenizer(models.BPE(ignore_merges=True))
    llama3_like.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(llama3_pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    llama3_like.decoder = decoders.ByteLevel()

    qwen2_pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                     r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    qwen2_like = Tokenizer(models.BPE())
    qwen2_like.normalizer = normalizers.NFC()
    qwen2_like.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(qwen2_pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    qwen2_like.decoder = decoders.ByteLevel()

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    made = {}
    for name, tok, special in [("gpt2-like", gpt2_like, ["<|endoftext|>"]),
                               ("llama3-like", llama3_like, ["<|begin_of_text|>", "<|end_of_text|>"]),
                               ("qwen2-like", qwen2_like, ["<|endoftext|>", "<|im_start|>"])]:
        trainer = trainers.BpeTrainer(vocab_size=700, initial_alphabet=alphabet, special_tokens=special,
                                      show_progress=False)
        tok.train([str(train_file)], trainer)
        if name == "llama3-like":
            bos = tok.token_to_id("<|begin_of_text|>")
            tok.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                                               special_tokens=[("<|begin_of_text|>", bos)])
        folder = out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        tok.save(str(folder / "tokenizer.json"))
        made[name] = folder
    return made


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=".build/release", help="folder with llama-pretrain and llama-gradients")
    ap.add_argument("--work", default=None, help="scratch folder (default: a new temporary one)")
    a = ap.parse_args()
    work = pathlib.Path(a.work or tempfile.mkdtemp(prefix="sketchgrad-interop-"))
    work.mkdir(parents=True, exist_ok=True)
    c = Checker(a.bin, work)

    train_file, unseen_file = work / "train.txt", work / "unseen.txt"
    train_file.write_text(text(1, 20000), encoding="utf-8")
    unseen = text(2, 4000) + "".join(UNICODE) + "\n" + "".join(CODE) + random_scalars(3, 3000)
    unseen_file.write_text(unseen, encoding="utf-8")

    # 1. Sketchgrad's tokenizer.json in Hugging Face.
    sg_tok = work / "sketchgrad-tokenizer"
    c.run("llama-pretrain", "train-tokenizer", "--text", train_file, "--vocab-size", 800, "--out", sg_tok)
    config = work / "tiny.json"
    config.write_text(json.dumps({"model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
                                  "num_attention_heads": 2, "num_hidden_layers": 2, "vocab_size": 800,
                                  "max_position_embeddings": 64}))
    run_dir = work / "run"
    c.run("llama-pretrain", "--config", config, "--data", train_file, "--steps", 2, "--batch", 2, "--seq", 16,
          "--eval-every", 0, "--threads", 1, "--out", run_dir)
    for folder in [sg_tok, run_dir / "checkpoint"]:
        ours = c.sketchgrad_ids(folder, unseen_file, f"ids-{folder.name}")
        hf = Tokenizer.from_file(str(folder / "tokenizer.json"))
        theirs = hf.encode(unseen, add_special_tokens=False).ids
        c.expect(ours == theirs, f"tokenizers encodes Sketchgrad's {folder.name}/tokenizer.json identically "
                                 f"({len(ours)} ids){'' if ours == theirs else ': ' + first_difference(ours, theirs)}")
        c.expect(hf.decode(ours, skip_special_tokens=False) == unseen, f"tokenizers decodes {folder.name} ids to the text")
        try:
            from transformers import AutoTokenizer, PreTrainedTokenizerFast
        except ImportError:
            continue
        for loader in (AutoTokenizer, PreTrainedTokenizerFast):
            tok = loader.from_pretrained(str(folder), model_max_length=1 << 30)
            via = tok(unseen, add_special_tokens=False)["input_ids"]
            c.expect(via == ours and tok.eos_token == "<|endoftext|>",
                     f"transformers {loader.__name__}.from_pretrained encodes {folder.name} identically")

    # 2. Tokenizers trained by Hugging Face in Sketchgrad.
    for name, folder in hf_trained_tokenizers(train_file, work / "hf").items():
        hf = Tokenizer.from_file(str(folder / "tokenizer.json"))
        theirs = hf.encode(unseen, add_special_tokens=False).ids
        ours = c.sketchgrad_ids(folder, unseen_file, f"ids-{name}")
        c.expect(ours == theirs, f"Sketchgrad encodes the {name} tokenizer.json trained by tokenizers identically "
                                 f"({len(ours)} ids){'' if ours == theirs else ': ' + first_difference(ours, theirs)}")

    # 3. Every safetensors file Sketchgrad wrote, read by Python safetensors.
    short = work / "short.txt"
    short.write_text("The quick brown fox jumps over the lazy dog, twice: the quick brown fox!", encoding="utf-8")
    c.sketchgrad_ids(run_dir / "checkpoint", short, "ids-short")
    c.run("llama-gradients", "--model", run_dir / "checkpoint", "--input", work / "ids-short.safetensors",
          "--output", work / "grads.safetensors")
    files = sorted(work.rglob("*.safetensors"))
    for f in files:
        tensors = load_file(str(f))
        c.expect(len(tensors) > 0, f"safetensors reads {f.relative_to(work)} ({len(tensors)} tensors)")
    weights = load_file(str(run_dir / "checkpoint" / "model.safetensors"))
    c.expect(weights["model.embed_tokens.weight"].shape == (800, 32), "checkpoint weights have Hugging Face names and shapes")
    grads = load_file(str(work / "grads.safetensors"))
    c.expect("loss" in grads and "grad.lm_head.weight" in grads, "gradient dump has loss and grad.<name> tensors")

    print(f"interop: {c.passes} passed, {c.failures} failed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
