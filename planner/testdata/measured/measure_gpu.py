#!/usr/bin/env python3
"""Measure real GPU memory and step time of Llama-shaped training and
inference, so whisperc's planner can be checked against measurements.

Runs on a machine with PyTorch, transformers and peft (the lent H100/H200).
Models are built from their published config shapes with random weights, so
nothing is downloaded. Each case runs in a fresh process (torch's caching
allocator keeps memory between cases otherwise) and prints one JSON line.

Usage: python3 measure_gpu.py [--names CASE,CASE] > measurements.jsonl
"""
import json
import os
import subprocess
import sys
import time

# Published config.json shapes.
SHAPES = {
    "llama-2-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                       max_position_embeddings=4096, tie_word_embeddings=False),
    "tinyllama-1.1b": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                           num_attention_heads=32, num_key_value_heads=4, vocab_size=32000,
                           max_position_embeddings=2048, tie_word_embeddings=False),
}

CASES = [
    # name, shape, mode, dtype, batch, seq, checkpointing, attention, lora rank
    dict(name="infer-7b-bf16-prefill", shape="llama-2-7b", mode="infer", dtype="bf16", batch=4, seq=1024, ckpt="none", attn="sdpa"),
    dict(name="lora-7b-bf16-nockpt", shape="llama-2-7b", mode="lora", dtype="bf16", batch=2, seq=1024, ckpt="none", attn="sdpa", rank=16),
    dict(name="lora-7b-bf16-full", shape="llama-2-7b", mode="lora", dtype="bf16", batch=2, seq=1024, ckpt="full", attn="sdpa", rank=16),
    dict(name="lora-7b-bf16-eager", shape="llama-2-7b", mode="lora", dtype="bf16", batch=2, seq=1024, ckpt="none", attn="eager", rank=16),
    dict(name="full-1.1b-amp-nockpt", shape="tinyllama-1.1b", mode="full", dtype="fp32-amp", batch=4, seq=512, ckpt="none", attn="sdpa"),
    dict(name="full-1.1b-amp-full", shape="tinyllama-1.1b", mode="full", dtype="fp32-amp", batch=4, seq=512, ckpt="full", attn="sdpa"),
    dict(name="full-1.1b-amp-eager", shape="tinyllama-1.1b", mode="full", dtype="fp32-amp", batch=4, seq=512, ckpt="none", attn="eager"),
    # Added for the adapter accounting: every projection adapted, dropout on
    # (masks and casts per adapter), grouped-query attention, pure bf16.
    dict(name="lora-1.1b-bf16-all-drop", shape="tinyllama-1.1b", mode="lora", dtype="bf16", batch=4, seq=1024, ckpt="none",
         attn="sdpa", rank=16, dropout=0.05, targets=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
    dict(name="lora-1.1b-bf16-mlp", shape="tinyllama-1.1b", mode="lora", dtype="bf16", batch=4, seq=1024, ckpt="none",
         attn="sdpa", rank=8, dropout=0.0, targets=["gate_proj", "up_proj", "down_proj"]),
    dict(name="full-1.1b-bf16-nockpt", shape="tinyllama-1.1b", mode="full", dtype="bf16", batch=4, seq=512, ckpt="none", attn="sdpa"),
    dict(name="infer-1.1b-bf16-prefill", shape="tinyllama-1.1b", mode="infer", dtype="bf16", batch=8, seq=2048, ckpt="none", attn="sdpa"),
    # The Hugging Face "model training anatomy" setting, on this GPU:
    # bert-large-uncased sequence classification, fp32, AdamW, eager.
    dict(name="full-bert-large-fp32", shape="bert-large-uncased", mode="full", dtype="fp32", batch=4, seq=512, ckpt="none", attn="eager"),
]

BERT_SHAPES = {
    "bert-large-uncased": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                               vocab_size=30522, max_position_embeddings=512, type_vocab_size=2),
}


def run_case(case):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    dev = torch.device("cuda")
    if case["shape"] in BERT_SHAPES:
        return run_bert(case, dev)
    cfg = LlamaConfig(**SHAPES[case["shape"]], use_cache=(case["mode"] == "infer"))
    cfg._attn_implementation = case["attn"]
    dtype = torch.bfloat16 if case["dtype"] == "bf16" else torch.float32
    torch.set_default_dtype(dtype)
    with dev:
        model = LlamaForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
    model.to(dev)
    torch.cuda.synchronize()
    params = sum(p.numel() for p in model.parameters())
    weights = torch.cuda.memory_allocated()
    out = dict(case, params=params, weights_bytes=weights, gpu=torch.cuda.get_device_name(),
               torch=torch.__version__)

    b, s = case["batch"], case["seq"]
    ids = torch.randint(0, cfg.vocab_size, (b, s), device=dev)
    if case["mode"] == "infer":
        model.eval()
        torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            for _ in range(2):
                torch.cuda.synchronize(); t0 = time.perf_counter()
                res = model(input_ids=ids, use_cache=True)
                torch.cuda.synchronize(); dt = time.perf_counter() - t0
        kv = sum(t.numel() * t.element_size() for layer in res.past_key_values.layers for t in (layer.keys, layer.values)) \
            if hasattr(res.past_key_values, "layers") else None
        out.update(peak_allocated=torch.cuda.max_memory_allocated(), step_s=dt, tokens_per_s=b * s / dt, kv_cache_bytes=kv)
        return out

    if case["ckpt"] == "full":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if case["mode"] == "lora":
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=case["rank"], lora_alpha=2 * case["rank"],
                                                 lora_dropout=case.get("dropout", 0.0),
                                                 target_modules=case.get("targets", ["q_proj", "k_proj", "v_proj", "o_proj"])))
        if case["ckpt"] == "full":
            model.enable_input_require_grads()
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    out["trainable_params"] = sum(p.numel() for p in trainable)
    opt = torch.optim.AdamW(trainable, lr=1e-4)
    torch.cuda.synchronize()
    out["after_optimizer_init_bytes"] = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for step in range(4):
        torch.cuda.synchronize(); t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=(case["dtype"] == "fp32-amp")):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize(); times.append(time.perf_counter() - t0)
    times.sort()
    out.update(peak_allocated=torch.cuda.max_memory_allocated(), peak_reserved=torch.cuda.max_memory_reserved(),
               after_step_bytes=torch.cuda.memory_allocated(), step_s=times[len(times) // 2],
               tokens_per_s=b * s / times[len(times) // 2])
    return out


def run_bert(case, dev):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    cfg = BertConfig(**BERT_SHAPES[case["shape"]], num_labels=2)
    cfg._attn_implementation = case["attn"]
    with dev:
        model = BertForSequenceClassification(cfg)
    torch.cuda.synchronize()
    out = dict(case, params=sum(p.numel() for p in model.parameters()), weights_bytes=torch.cuda.memory_allocated(),
               gpu=torch.cuda.get_device_name(), torch=torch.__version__)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    b, s = case["batch"], case["seq"]
    ids = torch.randint(0, cfg.vocab_size, (b, s), device=dev)
    labels = torch.randint(0, 2, (b,), device=dev)
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(4):
        torch.cuda.synchronize(); t0 = time.perf_counter()
        model(input_ids=ids, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize(); times.append(time.perf_counter() - t0)
    times.sort()
    out.update(peak_allocated=torch.cuda.max_memory_allocated(), peak_reserved=torch.cuda.max_memory_reserved(),
               after_step_bytes=torch.cuda.memory_allocated(), step_s=times[len(times) // 2],
               tokens_per_s=b * s / times[len(times) // 2])
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        case = next(c for c in CASES if c["name"] == sys.argv[2])
        try:
            print(json.dumps(run_case(case)))
        except Exception as e:  # report, do not hide: the line says what failed
            print(json.dumps(dict(case, error=f"{type(e).__name__}: {e}")))
        return
    names = None
    if len(sys.argv) == 3 and sys.argv[1] == "--names":
        names = sys.argv[2].split(",")
    for case in CASES:
        if names is not None and case["name"] not in names:
            continue
        r = subprocess.run([sys.executable, __file__, "--case", case["name"]], capture_output=True, text=True, timeout=300)
        line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else json.dumps(dict(case, error=r.stderr[-2000:]))
        print(line, flush=True)


if __name__ == "__main__":
    main()
