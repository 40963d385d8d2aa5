#!/usr/bin/env python3
"""Run whisperc's engine exports on a GPU and compare their peaks with the plan.

For each case this script builds a random-weight Llama of a published shape
in a local directory (config.json, safetensors, a tokenizer trained on the
synthetic data: nothing is downloaded), writes a .whisper pipeline that
fine-tunes it for a few steps, plans it with `whisperc plan --json --engine E`,
exports it with `whisperc export --engine E`, runs the export with the
engine's launcher, and prints one JSON line: the plan's allocated and total
bytes, the engine's measured peaks, the error, and the decisions the script
saw take effect (4-bit layers, checkpointing, attention kernel).

Needs: a CUDA GPU, the export's requirements (pip install -r the
requirements.txt that `whisperc export` writes; both engines' for both),
sentencepiece (torchtune's tokenizer) and the whisperc binary.

Usage: python3 measure_engines.py --whisperc ./bin/whisperc [--names CASE,...] [--steps 20] > engines-GPU.jsonl
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile

SHAPES = {
    "llama-2-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=32, vocab_size=32000, max_position_embeddings=4096),
    "tinyllama-1.1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                           num_key_value_heads=4, vocab_size=32000, max_position_embeddings=2048),
}

# engine, method, shape, batch, seq, checkpointing
CASES = [
    dict(name="hf-qlora-7b-ckpt", engine="hf", method="qlora", shape="llama-2-7b", batch=2, seq=1024, ckpt="full"),
    dict(name="hf-lora-7b-ckpt", engine="hf", method="lora", shape="llama-2-7b", batch=2, seq=1024, ckpt="full"),
    dict(name="hf-lora-7b-nockpt", engine="hf", method="lora", shape="llama-2-7b", batch=1, seq=1024, ckpt="none"),
    dict(name="hf-full-1.1b", engine="hf", method="full", shape="tinyllama-1.1b", batch=4, seq=512, ckpt="none"),
    dict(name="tt-qlora-7b-ckpt", engine="torchtune", method="qlora", shape="llama-2-7b", batch=2, seq=1024, ckpt="full"),
    dict(name="tt-lora-7b-ckpt", engine="torchtune", method="lora", shape="llama-2-7b", batch=2, seq=1024, ckpt="full"),
    dict(name="tt-lora-7b-nockpt", engine="torchtune", method="lora", shape="llama-2-7b", batch=1, seq=1024, ckpt="none"),
    dict(name="tt-full-1.1b", engine="torchtune", method="full", shape="tinyllama-1.1b", batch=4, seq=512, ckpt="none"),
]

WORDS = "the a model plan layer weight memory token step batch adapter quantise compile attention kernel".split()


def make_data(path, n, seq):
    rng = random.Random(0)
    with open(path, "w") as out:
        for _ in range(n):
            out.write(json.dumps({"text": " ".join(rng.choice(WORDS) for _ in range(seq * 2))}) + "\n")


def make_model(shape, d, data):
    """Random weights of the shape, in bf16, with a sentencepiece tokenizer
    (tokenizer.model, read by torchtune) and its transformers wrapper."""
    import sentencepiece as spm
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaTokenizer

    os.makedirs(d, exist_ok=True)
    spm.SentencePieceTrainer.train(input=data, model_prefix=os.path.join(d, "tokenizer"), vocab_size=64,
                                   model_type="bpe", hard_vocab_limit=False, input_format="text")
    LlamaTokenizer(vocab_file=os.path.join(d, "tokenizer.model")).save_pretrained(d)
    cfg = LlamaConfig(**SHAPES[shape], tie_word_embeddings=False, torch_dtype="bfloat16")
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
    model.save_pretrained(d, safe_serialization=True)
    del model
    torch.cuda.empty_cache()


def pipeline(case, steps):
    quant = "quantize { method = nf4, double = true, compute = bf16 }" if case["method"] == "qlora" else ""
    lora = "" if case["method"] == "full" else "lora { rank = 16, alpha = 32, dropout = 0.05, targets = attention }"
    return f"""model m {{
  source = "safetensors:model"
  {quant}
}}
dataset d {{ source = "data.jsonl", format = jsonl, field = "text", seq_len = {case["seq"]}, packing = true, eval = 0, version = none }}
finetune ft {{
  model = m
  data = d
  method = {case["method"]}
  {lora}
  checkpointing = {case["ckpt"]}
  attention = sdpa
  precision = bf16
  optimizer {{ name = adamw, lr = 1e-4, schedule = constant, warmup = 2 steps }}
  batch = {case["batch"]}
  max_steps = {steps}
}}
"""


def planned(whisperc, work, engine, target):
    out = subprocess.run([whisperc, "plan", "--json", "--engine", engine, "--target", target, "p.whisper"], cwd=work,
                         capture_output=True, text=True)
    plan = json.loads(out.stdout)
    mem = next(s for s in plan["stages"] if s["id"] == "train.ft")["memory"]
    alloc = sum(c["bytes"] for c in mem["components"] if c["name"] not in ("allocator_reserve", "cuda_context"))
    return alloc, mem["total_bytes"]


def run_case(case, whisperc, steps, target):
    work = tempfile.mkdtemp(prefix=case["name"] + "-")
    make_data(os.path.join(work, "data.jsonl"), 400, case["seq"])
    make_model(case["shape"], os.path.join(work, "model"), os.path.join(work, "data.jsonl"))
    with open(os.path.join(work, "p.whisper"), "w") as f:
        f.write(pipeline(case, steps))
    alloc, total = planned(whisperc, work, case["engine"], target)
    subprocess.run([whisperc, "export", "--engine", case["engine"], "--target", target, "-o", "out", "p.whisper"], cwd=work,
                   check=True, capture_output=True)
    out_dir = os.path.join(work, "out")
    if case["engine"] == "hf":
        argv = ["accelerate", "launch", "--config_file", "accelerate.yaml", "train.py"]
    else:
        argv = ["bash", "run.sh"]  # the config reads ../model, where the export's paths point
    r = subprocess.run(argv, cwd=out_dir, capture_output=True, text=True, timeout=3000)
    log = r.stdout + r.stderr
    res = dict(case, planned_allocated=alloc, planned_total=total, returncode=r.returncode)
    for line in log.splitlines():
        if line.startswith("whisperc-metrics "):
            res.update(json.loads(line[len("whisperc-metrics "):]))
        elif line.startswith("whisperc-decisions "):
            res.setdefault("decisions", {}).update(json.loads(line[len("whisperc-decisions "):]))
        else:
            # torchtune: "Step N | loss:... peak_memory_alloc:GiB peak_memory_reserved:GiB"
            m = re.search(r"peak_memory_alloc:([0-9.]+)", line)
            if m:
                res["peak_allocated_bytes"] = max(res.get("peak_allocated_bytes", 0), int(float(m.group(1)) * 2**30))
            m = re.search(r"peak_memory_reserved:([0-9.]+)", line)
            if m:
                res["peak_reserved_bytes"] = max(res.get("peak_reserved_bytes", 0), int(float(m.group(1)) * 2**30))
    if "peak_allocated_bytes" in res:
        res["error_allocated"] = (alloc - res["peak_allocated_bytes"]) / res["peak_allocated_bytes"]
    if r.returncode != 0:
        res["error"] = log[-3000:]
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--whisperc", required=True)
    ap.add_argument("--names", default="")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--target", default="h100-80gb")
    args = ap.parse_args()
    names = set(filter(None, args.names.split(",")))
    for case in CASES:
        if names and case["name"] not in names:
            continue
        try:
            print(json.dumps(run_case(case, os.path.abspath(args.whisperc), args.steps, args.target)), flush=True)
        except Exception as e:  # report, do not hide: the line says what failed
            print(json.dumps(dict(case, error=f"{type(e).__name__}: {e}")), flush=True)


if __name__ == "__main__":
    sys.exit(main())
