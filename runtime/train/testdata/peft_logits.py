#!/usr/bin/python3
"""Logits of a Hugging Face Llama checkpoint with PEFT LoRA adapters.

Usage: peft_logits.py MODEL_DIR ADAPTER_DIR TOKENS_JSON OUT.safetensors

MODEL_DIR holds config.json and model.safetensors in transformers' Llama
layout; ADAPTER_DIR holds adapter_config.json and adapter_model.safetensors
in PEFT's layout. The script applies the conventions those libraries use,
written here from their documentation rather than imported: rotary
embeddings by rotate_half over the two halves of each head (the layout
transformers' conversion script permutes q_proj and k_proj into), and
W + (lora_alpha / r) * B @ A on each base_model.model.<module>.lora_A/B pair
(alpha / sqrt(r) with use_rslora). It writes the logits of the token list.
"""
import json
import math
import os
import struct
import sys

import torch

torch.set_num_threads(1)


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", name
        b, e = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(body[b:e]), dtype=torch.float32).reshape(info["shape"])
    return out


def main():
    model_dir, adapter_dir, tokens_json, out_path = sys.argv[1:5]
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    W = read(os.path.join(model_dir, "model.safetensors"))
    acfg = json.load(open(os.path.join(adapter_dir, "adapter_config.json")))
    assert acfg["peft_type"] == "LORA"
    scale = acfg["lora_alpha"] / (math.sqrt(acfg["r"]) if acfg.get("use_rslora") else acfg["r"])
    A = read(os.path.join(adapter_dir, "adapter_model.safetensors"))
    for name in list(A):
        if name.endswith(".lora_A.weight"):
            module = name[len("base_model.model."):-len(".lora_A.weight")]
            b = A[module.join(["base_model.model.", ".lora_B.weight"])]
            W[module + ".weight"] = W[module + ".weight"] + scale * (b @ A[name])
    tokens = torch.tensor(json.load(open(tokens_json)), dtype=torch.long)
    T, dim, heads = len(tokens), cfg["hidden_size"], cfg["num_attention_heads"]
    kv, hs, eps = cfg.get("num_key_value_heads", heads), dim // heads, cfg["rms_norm_eps"]
    inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, hs, 2, dtype=torch.float32) / hs))
    ang = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
    cos, sin = torch.cat([ang.cos(), ang.cos()], -1), torch.cat([ang.sin(), ang.sin()], -1)

    def rot(x):  # [n, T, hs]
        x1, x2 = x[..., : hs // 2], x[..., hs // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def norm(x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    x = W["model.embed_tokens.weight"][tokens]
    mask = torch.full((T, T), float("-inf")).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        h = norm(x, W[p + "input_layernorm.weight"])
        q = (h @ W[p + "self_attn.q_proj.weight"].t()).reshape(T, heads, hs).transpose(0, 1)
        k = (h @ W[p + "self_attn.k_proj.weight"].t()).reshape(T, kv, hs).transpose(0, 1)
        v = (h @ W[p + "self_attn.v_proj.weight"].t()).reshape(T, kv, hs).transpose(0, 1)
        q, k = rot(q), rot(k)
        k, v = k.repeat_interleave(heads // kv, 0), v.repeat_interleave(heads // kv, 0)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hs) + mask, -1) @ v
        x = x + a.transpose(0, 1).reshape(T, dim) @ W[p + "self_attn.o_proj.weight"].t()
        h = norm(x, W[p + "post_attention_layernorm.weight"])
        g = torch.nn.functional.silu(h @ W[p + "mlp.gate_proj.weight"].t()) * (h @ W[p + "mlp.up_proj.weight"].t())
        x = x + g @ W[p + "mlp.down_proj.weight"].t()
    x = norm(x, W["model.norm.weight"])
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    logits = (x @ head.t()).contiguous()
    b = logits.numpy().tobytes()
    h = json.dumps({"logits": {"dtype": "F32", "shape": list(logits.shape), "data_offsets": [0, len(b)]}}).encode()
    with open(out_path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b)


if __name__ == "__main__":
    main()
