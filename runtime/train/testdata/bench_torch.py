#!/usr/bin/python3
"""Training throughput of PyTorch (CPU) on whisperc's benchmark shapes.

Usage: bench_torch.py [--steps N] [--batch B] [--seq T] [--shapes 15M,42M]
                      [--threads 1,2] [--label NAME]

For the TinyStories 15M and 42M Llama shapes with random weights, LoRA
(rank 16 on q/k/v/o) and full fine-tuning, it times optimizer steps (AdamW,
clipping) over a batch of B sequences of T tokens (8 x 256 by default),
the same work as runtime/train's BenchmarkTrainStep, and prints tokens per
second in the same naming. runtime/bench/train.sh runs both side by side.
"""

import argparse
import math
import time

import torch

SHAPES = [("15M", 288, 768, 6, 6, 32000), ("42M", 512, 1376, 8, 8, 32000)]


class Llama(torch.nn.Module):
    def __init__(self, dim, hidden, layers, heads, vocab, lora, seq):
        super().__init__()
        self.heads, self.hs = heads, dim // heads
        self.emb = torch.nn.Embedding(vocab, dim)
        self.layers = torch.nn.ModuleList()
        for _ in range(layers):
            blk = torch.nn.Module()
            for n, (i, o) in {"wq": (dim, dim), "wk": (dim, dim), "wv": (dim, dim), "wo": (dim, dim),
                              "w1": (dim, hidden), "w2": (hidden, dim), "w3": (dim, hidden)}.items():
                setattr(blk, n, torch.nn.Linear(i, o, bias=False))
                if lora and n in ("wq", "wk", "wv", "wo"):
                    setattr(blk, n + "_a", torch.nn.Linear(i, 16, bias=False))
                    setattr(blk, n + "_b", torch.nn.Linear(16, o, bias=False))
            blk.n1, blk.n2 = torch.nn.Parameter(torch.ones(dim)), torch.nn.Parameter(torch.ones(dim))
            self.layers.append(blk)
        self.norm = torch.nn.Parameter(torch.ones(dim))
        self.lora = lora
        inv = 1.0 / (10000 ** (torch.arange(0, self.hs, 2).float() / self.hs))
        ang = torch.arange(seq).float()[:, None] * inv[None, :]
        self.cos, self.sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
        self.mask = torch.full((seq, seq), float("-inf")).triu(1)

    def lin(self, blk, n, x):
        y = getattr(blk, n)(x)
        if self.lora and hasattr(blk, n + "_a"):
            y = y + 2.0 * getattr(blk, n + "_b")(getattr(blk, n + "_a")(x))
        return y

    def forward(self, tok):
        def norm(x, w):
            return w * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5)

        def rot(x):
            h = self.hs // 2
            return x * self.cos + torch.cat([-x[..., h:], x[..., :h]], -1) * self.sin

        B, T = tok.shape
        x = self.emb(tok)
        for blk in self.layers:
            h = norm(x, blk.n1)
            q, k, v = (self.lin(blk, n, h).view(B, T, self.heads, self.hs).transpose(1, 2) for n in ("wq", "wk", "wv"))
            a = torch.softmax(rot(q) @ rot(k).transpose(-1, -2) / math.sqrt(self.hs) + self.mask, -1) @ v
            x = x + self.lin(blk, "wo", a.transpose(1, 2).reshape(B, T, -1))
            h = norm(x, blk.n2)
            x = x + self.lin(blk, "w2", torch.nn.functional.silu(self.lin(blk, "w1", h)) * self.lin(blk, "w3", h))
        return norm(x, self.norm) @ self.emb.weight.t()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--shapes", default="15M,42M")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--label", default="Torch")
    a = ap.parse_args()
    for name, dim, hidden, layers, heads, vocab in SHAPES:
        if name not in a.shapes.split(","):
            continue
        for method in ("lora", "full"):
            for threads in (int(t) for t in a.threads.split(",")):
                torch.set_num_threads(threads)
                torch.manual_seed(0)
                m = Llama(dim, hidden, layers, heads, vocab, method == "lora", a.seq)
                params = [p for n, p in m.named_parameters() if method == "full" or n.endswith(("_a.weight", "_b.weight"))]
                if method == "lora":
                    for n, p in m.named_parameters():
                        p.requires_grad_(n.endswith(("_a.weight", "_b.weight")))
                opt = torch.optim.AdamW(params, lr=1e-4, foreach=False)
                tok = torch.randint(0, vocab, (a.batch, a.seq))
                tgt = torch.randint(0, vocab, (a.batch, a.seq))

                def step():
                    opt.zero_grad()
                    loss = torch.nn.functional.cross_entropy(m(tok).view(-1, vocab), tgt.view(-1))
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(params, 1.0)
                    opt.step()

                step()  # warm up
                start, cpu = time.perf_counter(), time.process_time()
                for _ in range(a.steps):
                    step()
                tps = a.steps * a.batch * a.seq / (time.perf_counter() - start)
                # The process's CPU time per step (all its threads), which a
                # loaded machine distorts less than the wall clock.
                cps = (time.process_time() - cpu) / a.steps
                print("Benchmark%sTrainStep/%s/%s/threads=%d %.1f tok/s %.4f cpu-s/step" % (a.label, name, method, threads, tps, cps), flush=True)


if __name__ == "__main__":
    main()
