"""Runs the generated glue of an hf or a torchtune export under torch alone:
TestExportRuns lowers a pipeline with on_bad_record = skip, writes the export
to a directory and runs this script on it, which

* hf: imports train.py with stand-ins for datasets, transformers, trl and peft
  (not installed here), loads data files through its load_data with a fake
  tokenizer, and builds its GuardedTrainer's optimizer and GuardSnapshots;
* torchtune: reads config.yaml, instantiates its dataset and optimizer
  components as the recipe does (with ${...} interpolation) on a fake
  tokenizer and a small model.

Usage: export_test.py DIR hf|torchtune. It prints OK and exits 0 when every
check holds."""
import importlib
import importlib.util
import io
import json
import os
import re
import sys
import tempfile
import types

import torch

DIR, ENGINE = sys.argv[1], sys.argv[2]
sys.path.insert(0, DIR)
import whisperc_support as ws  # noqa: E402

GOOD = json.dumps({"text": "one two three"})
LONG = json.dumps({"text": " ".join(["w"] * 600)})  # longer than seq_len = 512
INSTR = json.dumps({"instruction": "say hi", "output": "hi there"})
CHAT2 = json.dumps({"text": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                             {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]})


def data(*lines):
    fd, p = tempfile.mkstemp(suffix=".jsonl")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return p


def expect_raises(exc, fn, want):
    try:
        fn()
    except exc as e:
        if want not in str(e):
            raise AssertionError("%s: %r does not say %r" % (exc.__name__, str(e), want))
        return
    raise AssertionError("no %s (%s)" % (exc.__name__, want))


def poison_step(opt, model):
    for p in model.parameters():
        p.grad = torch.full_like(p, float("nan"))
    opt.step()


def check_hf():
    class Dataset:
        def __init__(self, rows):
            self.rows = rows

        @classmethod
        def from_list(cls, rows):
            return cls(list(rows))

        def shuffle(self, seed=None):
            return self

        def train_test_split(self, test_size=None, seed=None):
            n = max(1, int(len(self.rows) * test_size)) if isinstance(test_size, float) else test_size
            return {"train": Dataset(self.rows[n:]), "test": Dataset(self.rows[:n])}

    class SFTTrainer:
        def __init__(self, model=None, **kw):
            self.model, self.optimizer = model, None

        def create_optimizer(self, *args, **kwargs):
            # As transformers' Trainer: made once, then returned.
            if self.optimizer is None:
                self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1)
            return self.optimizer

    stubs = {
        "datasets": {"Dataset": Dataset, "load_dataset": None},
        "peft": {"LoraConfig": lambda **kw: kw},
        "transformers": {"AutoModelForCausalLM": None, "AutoTokenizer": None, "BitsAndBytesConfig": lambda **kw: kw,
                         "TrainerCallback": object},
        "trl": {"SFTConfig": lambda **kw: kw, "SFTTrainer": SFTTrainer},
    }
    for name, attrs in stubs.items():
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
    spec = importlib.util.spec_from_file_location("train", os.path.join(DIR, "train.py"))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    assert train.ON_BAD_RECORD == "skip" and train.TRUNCATE is False, (train.ON_BAD_RECORD, train.TRUNCATE)

    class Tok:
        eos_token_id = 2

        def __call__(self, text):
            return {"input_ids": [1] + [5] * len(text.split())}

    def load(*lines):
        train.DATA, train.DATA_NAME = data(*lines), "d.jsonl"
        out = io.StringIO()
        sys.stdout, saved = out, sys.stdout
        try:
            parts = train.load_data(Tok())
        finally:
            sys.stdout = saved
        rec = json.loads([l for l in out.getvalue().splitlines() if l.startswith("whisperc-data ")][0][len("whisperc-data "):])
        return parts, rec

    (tr, ev), rec = load(GOOD, "{bad", LONG, GOOD, GOOD)
    rows = (tr.rows if tr else []) + (ev.rows if ev else [])
    assert len(rows) == 3 and all(r == {train.FIELD: "one two three"} for r in rows), rows
    assert (rec["records"], rec["skipped"], rec["long_skipped"]) == (5, 2, 1), rec
    assert rec["problems"][0].startswith("d.jsonl:2: invalid JSON") and rec["problems"][1].startswith("d.jsonl:3: the example is 602 tokens"), rec
    (tr, ev), _ = load(INSTR, INSTR)
    rows = (tr.rows if tr else []) + (ev.rows if ev else [])
    assert rows[0] == {"prompt": ws.INSTRUCTION_HEADER + "say hi" + ws.RESPONSE_HEADER, "completion": "hi there"}, rows[0]
    expect_raises(ValueError, lambda: load(GOOD, INSTR), "d.jsonl:2: a prompt-completion record after text records")
    expect_raises(ValueError, lambda: load(CHAT2), "d.jsonl:1: a chat with 2 assistant turns")

    model = torch.nn.Linear(4, 3)
    trainer = train.GuardedTrainer(model=model)
    opt = trainer.create_optimizer()
    assert isinstance(opt, ws.NonFiniteGuard) and trainer.guard is opt and trainer.optimizer is opt
    assert (opt.patience, opt.lr_factor, opt.max_rollbacks) == (train.NAN_PATIENCE, train.NAN_LR_FACTOR, train.NAN_ROLLBACKS)
    assert trainer.create_optimizer() is opt, "a second create_optimizer wrapped twice"
    opt.out = io.StringIO()
    poison_step(opt, model)  # the start is snapshotted, the step skipped
    assert opt.skipped == 1
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    saved = [p.detach().clone() for p in model.parameters()]
    train.GuardSnapshots(trainer).on_save(None, None, None)  # a checkpoint: the last good state
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    for _ in range(train.NAN_PATIENCE):
        poison_step(opt, model)
    assert opt.rollbacks == 1
    for a, p in zip(saved, model.parameters()):
        assert torch.equal(a, p), "not rolled back to the checkpoint saved"


def check_torchtune():
    import yaml

    with open(os.path.join(DIR, "config.yaml")) as f:
        cfg = yaml.safe_load(f)

    def value(v):
        m = re.fullmatch(r"\$\{(\w+)\}", v) if isinstance(v, str) else None
        return cfg[m.group(1)] if m else v

    def instantiate(node, *args, **over):
        kw = {k: value(v) for k, v in node.items() if k != "_component_"}
        kw.update(over)
        mod, _, name = node["_component_"].rpartition(".")
        return getattr(importlib.import_module(mod), name)(*args, **kw)

    class Tok:
        bos_id, eos_id = 1, 2

        def encode(self, text, add_bos=False, add_eos=False):
            return [5] * len(text.split())

    assert cfg["dataset"]["on_bad_record"] == "skip"
    out = io.StringIO()
    sys.stdout, saved = out, sys.stdout
    try:
        ds = instantiate(cfg["dataset"], Tok(), data_files=data(GOOD, "{bad", LONG, INSTR))
    finally:
        sys.stdout = saved
    assert len(ds) == 2, ds.rows
    assert ds[1]["labels"][-3:] == [5, 5, 2] and ds[1]["labels"][1] == ws.IGNORE, ds[1]
    rec = json.loads(out.getvalue().split("whisperc-data ", 1)[1])
    assert (rec["skipped"], rec["long_skipped"]) == (2, 1), rec

    model = torch.nn.Linear(4, 3)
    node = dict(cfg["optimizer"])
    node.pop("fused", None)  # fused AdamW needs CUDA tensors
    opt = instantiate(node, model.parameters())
    assert isinstance(opt, ws.NonFiniteGuard), opt
    assert opt.patience == cfg["optimizer"]["nan_patience"]
    opt.out = io.StringIO()
    poison_step(opt, model)
    assert opt.skipped == 1 and "skip" in opt.out.getvalue()


{"hf": check_hf, "torchtune": check_torchtune}[ENGINE]()
print("OK")
