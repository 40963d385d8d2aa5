#!/usr/bin/python3
"""PyTorch reference for whisperc's trainer (runtime/train/torch_test.go).

Usage: reference.py IN.safetensors OUT.safetensors

IN holds the model's weights under whisperc's canonical (Meta) names, the
training sequences (seq.N.inputs/targets/weights) and, for LoRA, each
adapter's initial A and B (NAME.lora_A / NAME.lora_B); its metadata holds a
JSON "config". The script builds the same Llama in PyTorch (fp32, one
thread) and runs it twice, in float32 and in float64 (a config "bf16" names
weights stored in bfloat16 between steps, computed on in the run's dtype),
then writes to OUT: the logits of sequence 0, the loss and every
trained tensor's gradient of the first step (before clipping), and every
trained tensor after all steps of AdamW with warmup and clipping; the
float64 results carry the prefix "f64.", as the exact values against which
both float32 implementations' rounding errors are measured.
Everything is written independently of whisperc's code: this is the bar
its Go implementation is held to.
"""
import json
import math
import struct
import sys

import torch

torch.set_num_threads(1)
torch.manual_seed(0)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", name
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[b:e]), dtype=torch.float32).clone()
        out[name] = t.reshape(info["shape"]) if info["shape"] else t.reshape(())
    return out, meta


def write_safetensors(path, tensors):
    header, chunks, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        b = t.numpy().tobytes() if hasattr(t, "numpy") else bytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def rope_tables(T, hs, theta, dtype):
    # float32 as llama2.c computes them: freq = 1/theta^(2i/hs), angle = pos*freq.
    i = torch.arange(0, hs // 2, dtype=torch.float32)
    freq = (1.0 / torch.pow(torch.tensor(theta, dtype=torch.float64), (2 * i / hs).to(torch.float64))).to(torch.float32)
    ang = torch.arange(T, dtype=torch.float32)[:, None] * freq[None, :]
    return torch.cos(ang.double()).to(dtype), torch.sin(ang.double()).to(dtype)


def rope(x, cos, sin, hs):
    # x [T, n*hs] in Meta's interleaved layout: pairs (2i, 2i+1) rotate.
    T, d = x.shape
    x = x.reshape(T, d // hs, hs // 2, 2)
    x0, x1 = x[..., 0], x[..., 1]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.stack([x0 * c - x1 * s, x0 * s + x1 * c], dim=-1).reshape(T, d)


def rmsnorm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


class Model:
    def __init__(self, cfg, W, adapters, scale):
        self.c, self.W, self.A, self.scale = cfg, W, adapters, scale

    def linear(self, x, name):
        y = x @ self.W[name].t()
        if name in self.A:
            a, b = self.A[name]
            y = y + self.scale * ((x @ a.t()) @ b.t())
        return y

    def forward(self, tokens):
        c, W = self.c, self.W
        T = len(tokens)
        hs = c["dim"] // c["heads"]
        group = c["heads"] // c["kv_heads"]
        cos, sin = rope_tables(T, hs, c["rope_theta"], W["norm.weight"].dtype)
        x = W["tok_embeddings.weight"][tokens]
        mask = torch.full((T, T), float("-inf"), dtype=x.dtype).triu(1)
        for l in range(c["layers"]):
            p = "layers.%d." % l
            h = rmsnorm(x, W[p + "attention_norm.weight"], c["norm_eps"])
            q = rope(self.linear(h, p + "attention.wq.weight"), cos, sin, hs)
            k = rope(self.linear(h, p + "attention.wk.weight"), cos, sin, hs)
            v = self.linear(h, p + "attention.wv.weight")
            q = q.reshape(T, c["heads"], hs).transpose(0, 1)
            k = k.reshape(T, c["kv_heads"], hs).transpose(0, 1).repeat_interleave(group, dim=0)
            v = v.reshape(T, c["kv_heads"], hs).transpose(0, 1).repeat_interleave(group, dim=0)
            s = (q @ k.transpose(1, 2)) / math.sqrt(hs) + mask
            a = (torch.softmax(s, dim=-1) @ v).transpose(0, 1).reshape(T, c["heads"] * hs)
            x = x + self.linear(a, p + "attention.wo.weight")
            h = rmsnorm(x, W[p + "ffn_norm.weight"], c["norm_eps"])
            f = torch.nn.functional.silu(self.linear(h, p + "feed_forward.w1.weight")) * self.linear(h, p + "feed_forward.w3.weight")
            x = x + self.linear(f, p + "feed_forward.w2.weight")
        x = rmsnorm(x, W["norm.weight"], c["norm_eps"])
        out = W["output.weight"] if "output.weight" in W else W["tok_embeddings.weight"]
        return x @ out.t()


def lr_at(cfg, s):
    warm, total, lr = cfg["warmup"], cfg["total_steps"], cfg["lr"]
    if s < warm:
        return lr * s / max(1, warm)
    if cfg["schedule"] == "linear":
        return lr * max(0.0, (total - s) / max(1, total - warm))
    if cfg["schedule"] == "cosine":
        return lr * max(0.0, 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm))))
    return lr


def main():
    tensors, meta = read_safetensors(sys.argv[1])
    cfg = json.loads(meta["config"])
    out = {}
    run(tensors, cfg, torch.float32, out, "")
    run(tensors, cfg, torch.float64, out, "f64.")
    write_safetensors(sys.argv[2], out)


def run(tensors, cfg, dtype, out, prefix):
    """Trains in dtype and adds the results to out, names prefixed."""
    tensors = {k: v.detach().to(dtype).clone() for k, v in tensors.items()}
    W = {k: v for k, v in tensors.items() if not k.startswith("seq.") and ".lora_" not in k}
    seqs = []
    i = 0
    while "seq.%d.inputs" % i in tensors:
        seqs.append(tuple(tensors["seq.%d.%s" % (i, k)] for k in ("inputs", "targets", "weights")))
        i += 1
    adapters = {}
    for k in tensors:
        if k.endswith(".lora_A"):
            base = k[: -len(".lora_A")]
            adapters[base] = (tensors[k].clone(), tensors[base + ".lora_B"].clone())
    params = {}
    if cfg["method"] == "lora":
        for n, (a, b) in adapters.items():
            params[n + ".lora_A"], params[n + ".lora_B"] = a, b
    else:
        for n in W:
            params[n] = W[n]
    # A bf16 full fine-tune (cfg "bf16" names the weights stored in bf16):
    # each such weight lives as a bfloat16 tensor; every step computes with
    # its exact widening (W.float(), or .double() in the float64 run), the
    # gradients and AdamW's moments and update are in dtype, and the updated
    # weight is rounded back to bfloat16 (torch rounds to nearest even).
    stored = {n: params[n].to(torch.bfloat16) for n in cfg.get("bf16", [])}
    for n, b in stored.items():
        params[n].data.copy_(b.to(dtype))
    for p in params.values():
        p.requires_grad_(True)
    # PEFT's scaling, from the adapter settings rather than from the Go
    # side: lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora.
    scale = 1.0
    if cfg["method"] == "lora":
        scale = cfg["alpha"] / (math.sqrt(cfg["rank"]) if cfg.get("rslora") else cfg["rank"])
    model = Model(cfg, W, {n: (params[n + ".lora_A"], params[n + ".lora_B"]) for n in adapters}, scale)
    names = sorted(params)
    opt = torch.optim.AdamW([params[n] for n in names], lr=cfg["lr"], betas=(0.9, 0.999), eps=cfg["eps"],
                            weight_decay=cfg["weight_decay"], foreach=False)
    for step, batch in enumerate(cfg["steps"]):
        n_tok = sum(float(seqs[j][2].sum()) for j in batch)
        for n, b in stored.items():
            params[n].data.copy_(b.to(dtype))
        opt.zero_grad()
        loss = torch.zeros((), dtype=dtype)
        for j in batch:
            inp, tgt, w = seqs[j]
            logits = model.forward(inp.long())
            ce = torch.nn.functional.cross_entropy(logits, tgt.long(), reduction="none")
            l = (ce * (w / n_tok)).sum()
            l.backward()
            loss = loss + l.detach()
            if step == 0 and j == batch[0]:
                out[prefix + "logits"] = logits.detach()
        if step == 0:
            out[prefix + "loss"] = loss
            for n in names:
                out[prefix + "grad." + n] = params[n].grad.detach().clone()
        if cfg["max_grad_norm"] > 0:
            torch.nn.utils.clip_grad_norm_([params[n] for n in names], cfg["max_grad_norm"])
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, step)
        opt.step()
        for n, b in stored.items():
            b.copy_(params[n].data)
            params[n].data.copy_(b.to(dtype))
    for n in names:
        out[prefix + "final." + n] = params[n].detach()


if __name__ == "__main__":
    main()
