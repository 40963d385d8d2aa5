#!/usr/bin/env python3
"""Run whisperc's engine exports on a GPU and compare their peaks with the plan.

For each case this script builds (once per shape) a random-weight Llama of a
published shape in a local directory (config.json, bf16 safetensors, a
sentencepiece tokenizer trained on the synthetic data: nothing is
downloaded), writes a .whisper pipeline that fine-tunes it for --steps
steps, plans it with `whisperc plan --json --engine E`, exports it with
`whisperc export --engine E`, runs the export and prints one JSON line:

- the plan's allocated and reserved bytes and the run's allocator peaks
  (torch.cuda.max_memory_allocated / max_memory_reserved over the whole
  run), and the error of each;
- the decisions that visibly took effect: for hf the export's own
  `whisperc-decisions` line (Linear4bit layers, gradient checkpointing, the
  attention implementation); for torchtune a probe that runs the recipe's
  own class (not `tune run`) and counts NF4 weights, CheckpointWrapper
  layers and scaled_dot_product_attention calls before training;
- `ok`: the run finished, every planned decision showed, and allocated is
  within --tolerance of the plan.

The exit status is 0 only when every case is ok. run_engines_check.sh is
the driver that prepares the two Python environments (the engines pin
different torch releases) and calls this script.

Usage: python3 measure_engines.py --whisperc BIN --hf-python PY --tt-python PY
           [--names CASE,...] [--steps 20] [--work DIR] > engines-h100.jsonl
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

SHAPES = {
    "llama-2-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                       num_key_value_heads=32, vocab_size=32000, max_position_embeddings=4096),
    "tinyllama-1.1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                           num_key_value_heads=4, vocab_size=32000, max_position_embeddings=2048),
}

# The default set (the GPU check): QLoRA and LoRA on both engines,
# TinyLlama's shape, checkpointing on, SDPA, no compilation (so that the
# check fits in minutes). Each row of the data has more tokens than seq, so
# every sequence is truncated to exactly seq tokens without packing (TRL's
# packing turns on padding-free batches, which need FlashAttention). The
# rest run with --names.
CASES = [
    dict(name="hf-qlora-1.1b", engine="hf", method="qlora", shape="tinyllama-1.1b", batch=4, seq=1024, ckpt="full", default=True),
    dict(name="hf-lora-1.1b", engine="hf", method="lora", shape="tinyllama-1.1b", batch=4, seq=1024, ckpt="full", default=True),
    dict(name="tt-qlora-1.1b", engine="torchtune", method="qlora", shape="tinyllama-1.1b", batch=4, seq=1024, ckpt="full", default=True),
    dict(name="tt-lora-1.1b", engine="torchtune", method="lora", shape="tinyllama-1.1b", batch=4, seq=1024, ckpt="full", default=True),
    dict(name="hf-qlora-7b", engine="hf", method="qlora", shape="llama-2-7b", batch=2, seq=1024, ckpt="full"),
    dict(name="hf-lora-7b-nockpt", engine="hf", method="lora", shape="llama-2-7b", batch=1, seq=1024, ckpt="none"),
    dict(name="tt-qlora-7b", engine="torchtune", method="qlora", shape="llama-2-7b", batch=2, seq=1024, ckpt="full"),
    dict(name="tt-lora-7b-nockpt", engine="torchtune", method="lora", shape="llama-2-7b", batch=1, seq=1024, ckpt="none"),
    dict(name="hf-full-1.1b", engine="hf", method="full", shape="tinyllama-1.1b", batch=4, seq=512, ckpt="none"),
    dict(name="tt-full-1.1b", engine="torchtune", method="full", shape="tinyllama-1.1b", batch=4, seq=512, ckpt="none"),
]

WORDS = "the a model plan layer weight memory token step batch adapter quantise compile attention kernel".split()

# Written into a case's torchtune export: runs the recipe's own class on the
# export's config.yaml, reports what took effect, then trains.
TORCHTUNE_PROBE = r'''
import importlib.util, json, pathlib, sys
import torch, torchtune
from omegaconf import OmegaConf

recipe, files = sys.argv[1], sys.argv[2].split(",")
torch.cuda.reset_peak_memory_stats = lambda *a, **k: None  # peaks over the whole run
calls = {"sdpa": 0}
_sdpa = torch.nn.functional.scaled_dot_product_attention
def counting_sdpa(*a, **k):
    calls["sdpa"] += 1
    return _sdpa(*a, **k)
torch.nn.functional.scaled_dot_product_attention = counting_sdpa
path = pathlib.Path(torchtune.__file__).resolve().parent.parent / "recipes" / (recipe + ".py")
spec = importlib.util.spec_from_file_location(recipe, path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
cls = mod.LoRAFinetuneRecipeSingleDevice if recipe.startswith("lora") else mod.FullFinetuneRecipeSingleDevice
cfg = OmegaConf.load("config.yaml")
cfg.checkpointer.checkpoint_files = files
r = cls(cfg=cfg)
r.setup(cfg=cfg)
model = r._model
nf4 = sum(type(getattr(m, "weight", None)).__name__ == "NF4Tensor" for m in model.modules())
ckpt = sum(type(m).__name__ == "CheckpointWrapper" for m in model.modules())
decisions = {"nf4_linears": nf4, "checkpointed_layers": ckpt,
             "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)}
r.train()
decisions["sdpa_calls"] = calls["sdpa"]
decisions["attn_implementation"] = "sdpa" if calls["sdpa"] > 0 else "none"
print("whisperc-decisions " + json.dumps(decisions, sort_keys=True), flush=True)
print("whisperc-metrics " + json.dumps({"peak_allocated_bytes": torch.cuda.max_memory_allocated(),
                                         "peak_reserved_bytes": torch.cuda.max_memory_reserved()}, sort_keys=True), flush=True)
r.cleanup()
'''


def make_data(path, n, seq):
    rng = random.Random(0)
    with open(path, "w") as out:
        for _ in range(n):
            out.write(json.dumps({"text": " ".join(rng.choice(WORDS) for _ in range(seq * 2))}) + "\n")


MAKE_MODEL = r'''
import json, os, sys, torch
import sentencepiece as spm
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM
try:
    from transformers import PreTrainedTokenizerFast as FastTokenizer
except ImportError:  # transformers 5 renamed it
    from transformers import TokenizersBackend as FastTokenizer
shape, d, data = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
os.makedirs(d, exist_ok=True)
text = os.path.join(d, "corpus.txt")
with open(data) as src, open(text, "w") as dst:
    for line in src:
        dst.write(json.loads(line)["text"] + "\n")
# torchtune reads a sentencepiece model (tokenizer.model) ...
spm.SentencePieceTrainer.train(input=text, model_prefix=os.path.join(d, "tokenizer"), vocab_size=64,
                               model_type="bpe", hard_vocab_limit=False, pad_id=0, unk_id=1, bos_id=2, eos_id=3)
# ... the hf script a tokenizers file (tokenizer.json) through AutoTokenizer:
# one token per word, so every row has more than seq tokens.
tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
tok.train([text], trainers.WordLevelTrainer(special_tokens=["<pad>", "<unk>", "<s>", "</s>"]))
FastTokenizer(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="</s>").save_pretrained(d)
os.remove(text)
cfg = LlamaConfig(**shape, tie_word_embeddings=False, pad_token_id=0, bos_token_id=2, eos_token_id=3)
torch.manual_seed(0)
with torch.device("cuda"):
    model = LlamaForCausalLM(cfg).to(torch.bfloat16)
model.save_pretrained(d, safe_serialization=True)
'''


def make_model(py, shape, d, data):
    """Random bf16 weights of the shape, with a sentencepiece tokenizer
    (tokenizer.model, read by torchtune) and a word-level tokenizers file
    (tokenizer.json, read by the hf script), both trained on the data."""
    if os.path.exists(os.path.join(d, "config.json")) and any(f.endswith(".safetensors") for f in os.listdir(d)):
        return
    subprocess.run([py, "-c", MAKE_MODEL, json.dumps(SHAPES[shape]), d, data], check=True)


def pipeline(case, steps):
    quant = "quantize { method = nf4, double = true, compute = bf16 }" if case["method"] == "qlora" else ""
    lora = "" if case["method"] == "full" else "lora { rank = 16, alpha = 32, dropout = 0.05, targets = attention }"
    return f"""model m {{
  source = "safetensors:model"
  {quant}
}}
dataset d {{ source = "data.jsonl", format = jsonl, field = "text", seq_len = {case["seq"]}, packing = false, eval = 0, version = none }}
finetune ft {{
  model = m
  data = d
  method = {case["method"]}
  {lora}
  checkpointing = {case["ckpt"]}
  attention = sdpa
  compile = none
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
    return mem["allocated_bytes"], mem["reserved_bytes"], mem["total_bytes"]


def expected(case):
    """The decisions the run must show, by the engine's evidence keys."""
    layers = {"tinyllama-1.1b": 22, "llama-2-7b": 32}[case["shape"]]
    quant = 7 * layers if case["method"] == "qlora" else 0
    ckpt = case["ckpt"] == "full"
    if case["engine"] == "hf":
        return {"linear4bit": quant, "gradient_checkpointing": ckpt, "attn_implementation": "sdpa"}
    return {"nf4_linears": quant, "checkpointed_layers": layers if ckpt else 0, "attn_implementation": "sdpa"}


def run_case(case, args, models):
    t0 = time.time()
    work = tempfile.mkdtemp(prefix=case["name"] + "-", dir=args.work)
    data = os.path.join(work, "data.jsonl")
    make_data(data, 200, case["seq"])
    shared = os.path.join(models, case["shape"])
    if args.dry_run:  # plan and export only: a config.json is all the planner reads
        os.makedirs(shared, exist_ok=True)
        with open(os.path.join(shared, "config.json"), "w") as f:
            json.dump(dict(SHAPES[case["shape"]], architectures=["LlamaForCausalLM"], model_type="llama",
                           rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False), f)
    else:
        make_model(args.hf_python, case["shape"], shared, data)
    os.symlink(shared, os.path.join(work, "model"))
    with open(os.path.join(work, "p.whisper"), "w") as f:
        f.write(pipeline(case, args.steps))
    alloc, reserved, total = planned(args.whisperc, work, case["engine"], args.target)
    subprocess.run([args.whisperc, "export", "--engine", case["engine"], "--target", args.target, "-o", "out", "p.whisper"],
                   cwd=work, check=True, capture_output=True)
    out_dir = os.path.join(work, "out")
    if args.dry_run:
        return dict(name=case["name"], engine=case["engine"], planned_allocated=alloc, planned_reserved=reserved,
                    planned_total=total, files=sorted(os.listdir(out_dir)), ok=True, problems=[])
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    if case["engine"] == "hf":
        argv = [args.hf_python, "-m", "accelerate.commands.launch", "--config_file", "accelerate.yaml", "train.py"]
    else:
        with open(os.path.join(out_dir, "probe.py"), "w") as f:
            f.write(TORCHTUNE_PROBE)
        files = ",".join(sorted(x for x in os.listdir(shared) if x.endswith(".safetensors")))
        recipe = ("full" if case["method"] == "full" else "lora") + "_finetune_single_device"
        argv = [args.tt_python, "probe.py", recipe, files]
        env["PYTHONPATH"] = out_dir + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run(argv, cwd=out_dir, capture_output=True, text=True, timeout=args.case_timeout, env=env)
    log = r.stdout + r.stderr
    res = {k: v for k, v in case.items() if k != "default"}
    res.update(planned_allocated=alloc, planned_reserved=reserved, planned_total=total, returncode=r.returncode)
    for line in log.splitlines():
        if line.startswith("whisperc-metrics "):
            res.update(json.loads(line[len("whisperc-metrics "):]))
        elif line.startswith("whisperc-decisions "):
            res.setdefault("decisions", {}).update(json.loads(line[len("whisperc-decisions "):]))
    problems = []
    if r.returncode != 0:
        problems.append("exit status %d" % r.returncode)
        res["log_tail"] = log[-3000:]
    got = res.get("decisions", {})
    for k, want in expected(case).items():
        if got.get(k) != want:
            problems.append("%s: planned %r, the run showed %r" % (k, want, got.get(k)))
    if res.get("peak_allocated_bytes"):
        res["error_allocated"] = (alloc - res["peak_allocated_bytes"]) / res["peak_allocated_bytes"]
        if abs(res["error_allocated"]) > args.tolerance:
            problems.append("allocated %.2f GiB planned, %.2f GiB measured" % (alloc / 2**30, res["peak_allocated_bytes"] / 2**30))
    else:
        problems.append("no peak memory reported")
    if res.get("peak_reserved_bytes"):
        res["error_reserved"] = (reserved - res["peak_reserved_bytes"]) / res["peak_reserved_bytes"]
    res["problems"], res["ok"], res["seconds"] = problems, not problems, round(time.time() - t0, 1)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--whisperc", required=True)
    ap.add_argument("--hf-python", default=sys.executable, help="the interpreter with the hf export's requirements")
    ap.add_argument("--tt-python", default=sys.executable, help="the interpreter with the torchtune export's requirements")
    ap.add_argument("--names", default="", help="comma-separated cases; default: the four of the GPU check")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--target", default="h100-80gb")
    ap.add_argument("--tolerance", type=float, default=0.10)
    ap.add_argument("--case-timeout", type=int, default=240)
    ap.add_argument("--work", default=None, help="where the cases' directories go (default: the system's temp dir)")
    ap.add_argument("--dry-run", action="store_true", help="plan and export each case, run nothing (no GPU needed)")
    args = ap.parse_args()
    args.whisperc = os.path.abspath(args.whisperc)
    names = set(filter(None, args.names.split(",")))
    models = tempfile.mkdtemp(prefix="models-", dir=args.work)
    results = []
    for case in CASES:
        if (names and case["name"] not in names) or (not names and not case.get("default")):
            continue
        try:
            res = run_case(case, args, models)
        except Exception as e:  # report, do not hide: the line says what failed
            res = dict(name=case["name"], engine=case["engine"], ok=False, problems=["%s: %s" % (type(e).__name__, e)])
        results.append(res)
        print(json.dumps(res, sort_keys=True), flush=True)
    print("%-18s %-9s %10s %10s %8s %10s %10s  %s" % ("case", "engine", "plan GiB", "meas GiB", "err", "plan resv", "meas resv", "decisions"), file=sys.stderr)
    for r in results:
        print("%-18s %-9s %10s %10s %8s %10s %10s  %s" % (
            r["name"], r.get("engine", ""),
            "%.2f" % (r["planned_allocated"] / 2**30) if "planned_allocated" in r else "-",
            "%.2f" % (r["peak_allocated_bytes"] / 2**30) if r.get("peak_allocated_bytes") else "-",
            "%+.1f%%" % (100 * r["error_allocated"]) if "error_allocated" in r else "-",
            "%.2f" % (r["planned_reserved"] / 2**30) if "planned_reserved" in r else "-",
            "%.2f" % (r["peak_reserved_bytes"] / 2**30) if r.get("peak_reserved_bytes") else "-",
            "ok" if r.get("ok") else "; ".join(r.get("problems", []))), file=sys.stderr)
    return 0 if results and all(r.get("ok") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
