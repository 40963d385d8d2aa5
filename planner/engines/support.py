"""Bad records, truncation and the non-finite-step guard, as `whisperc run` has them.

whisperc writes this module beside the exported training program (train.py for
Hugging Face, config.yaml for torchtune) so that the engine honours what the
pipeline says about its data and about steps that go wrong:

* dataset.on_bad_record: a bad record (invalid JSON, a missing or empty field, a chat
  without an assistant turn, an example longer than a sequence when neither packing
  nor truncate is set) stops the run with its file:line (error), or is skipped and
  counted (skip), the first few described;
* dataset.truncate: an example longer than a sequence is cut, and counted;
* finetune.nan_patience, nan_lr_factor, nan_rollbacks: a step whose gradient is not
  finite (a non-finite loss makes one) is skipped; after nan_patience in a row the
  weights and the optimizer's state return to the last good snapshot with the
  learning rate multiplied by nan_lr_factor, at most nan_rollbacks times, and every
  skip and rollback is printed as a `whisperc-guard {...}` line.

It needs only Python's standard library and torch, so that whisperc's own tests run
it without the engines (planner/engines/testdata/support_test.py).
"""
import copy
import json
import math
import sys

import torch

MAX_LINE = 16 << 20  # the longest line a data file may have, as whisperc run
MAX_PROBLEMS = 10  # how many skipped records are described

# whisperc's templates for instruction and chat records (runtime/data): the prompt
# part carries no loss, the response or assistant turn does, followed by EOS.
INSTRUCTION_HEADER = "### Instruction:\n"
INPUT_HEADER = "\n\n### Input:\n"
RESPONSE_HEADER = "\n\n### Response:\n"
USER_HEADER = "### User:\n"
SYSTEM_HEADER = "### System:\n"
ASSISTANT_HEADER = "### Assistant:\n"
TURN_END = "\n\n"

IGNORE = -100  # the label of a position that carries no loss

# The rows torchtune_dataset made in this process, for guarded_optimizer's
# snapshots every epoch (torchtune's recipe builds the optimizer first).
_DATASET = {"rows": None}


class BadRecord(ValueError):
    """A bad record, as file:line: why."""


class RecordLog:
    """Counts what reading the data did, and applies on_bad_record to bad records."""

    def __init__(self, on_bad_record="error"):
        if on_bad_record not in ("error", "skip"):
            raise ValueError("on_bad_record must be error or skip, not %r" % (on_bad_record,))
        self.on_bad_record = on_bad_record
        self.records = 0
        self.skipped = 0
        self.long_skipped = 0
        self.truncated = 0
        self.problems = []

    def bad(self, where, why, long=False):
        """Raises BadRecord (error), or counts and describes the record (skip)."""
        msg = "%s: %s" % (where, why)
        if self.on_bad_record == "error":
            raise BadRecord(msg)
        self.skipped += 1
        if long:
            self.long_skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(msg)

    def summary(self):
        return {"records": self.records, "skipped": self.skipped, "long_skipped": self.long_skipped,
                "truncated": self.truncated, "problems": list(self.problems)}

    def report(self, out=None):
        """Prints the counts as one `whisperc-data {...}` line."""
        print("whisperc-data " + json.dumps(self.summary(), sort_keys=True), file=out or sys.stdout, flush=True)


def parse_record(obj, field):
    """Returns the record's kind ("text", "chat" or "instruction") and its segments
    [(text, loss)], or raises ValueError saying why it is bad."""
    if not isinstance(obj, dict):
        raise ValueError("invalid JSON: a record must be an object, not %s" % type(obj).__name__)
    if field in obj:
        v = obj[field]
        if isinstance(v, str):
            if not v.strip():
                raise ValueError("field %s is empty" % json.dumps(field))
            return "text", [(v, True)]
        if isinstance(v, list):
            return "chat", chat_segments(v, field)
        raise ValueError("field %s is neither a string nor a list of {role, content} messages" % json.dumps(field))
    if "instruction" in obj:
        return "instruction", instruction_segments(obj)
    raise ValueError("no field %s (nor instruction/output for instruction data)" % json.dumps(field))


def chat_segments(msgs, field):
    segs = []
    prompt = ""
    answered = False
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or not isinstance(m.get("role", ""), str) or not isinstance(m.get("content", ""), str):
            raise ValueError("field %s is neither a string nor a list of {role, content} messages" % json.dumps(field))
        role, content = m.get("role", ""), m.get("content", "")
        if not content.strip():
            raise ValueError("%s[%d] has empty content" % (field, i))
        if role == "system":
            prompt += SYSTEM_HEADER + content + TURN_END
        elif role == "user":
            prompt += USER_HEADER + content + TURN_END
        elif role == "assistant":
            prompt += ASSISTANT_HEADER
            segs += [(prompt, False), (content, True)]
            prompt = TURN_END
            answered = True
        else:
            raise ValueError("%s[%d] has role %s; want system, user or assistant" % (field, i, json.dumps(role)))
    if not answered:
        raise ValueError("%s has no assistant message to learn from" % field)
    return segs


def instruction_segments(obj):
    def get(k, required):
        if k not in obj:
            if required:
                raise ValueError("instruction record has no %s" % json.dumps(k))
            return ""
        v = obj[k]
        if not isinstance(v, str):
            raise ValueError("field %s is not a string" % json.dumps(k))
        if required and not v.strip():
            raise ValueError("field %s is empty" % json.dumps(k))
        return v

    ins, inp, out = get("instruction", True), get("input", False), get("output", True)
    prompt = INSTRUCTION_HEADER + ins
    if inp.strip():
        prompt += INPUT_HEADER + inp
    return [(prompt + RESPONSE_HEADER, False), (out, True)]


def read_records(path, fmt, field, log, name=None):
    """Reads the jsonl or text file at path: [(where, kind, segments)], where is
    "name:line". Bad records go to log (which raises on error)."""
    name = name or path
    out = []
    with open(path, "rb") as f:
        line = 0
        if fmt == "jsonl":
            while True:
                raw = f.readline(MAX_LINE + 1)
                if not raw:
                    break
                line += 1
                if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                    raise BadRecord("%s:%d: line longer than %d bytes" % (name, line, MAX_LINE))
                raw = raw.strip()
                if not raw:
                    continue
                log.records += 1
                where = "%s:%d" % (name, line)
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except (ValueError, UnicodeDecodeError) as e:
                    log.bad(where, "invalid JSON: %s" % e)
                    continue
                try:
                    kind, segs = parse_record(obj, field)
                except ValueError as e:
                    log.bad(where, str(e))
                    continue
                out.append((where, kind, segs))
        elif fmt == "text":
            doc, first = [], 0

            def flush():
                if doc:
                    log.records += 1
                    out.append(("%s:%d" % (name, first), "text", [("\n".join(doc), True)]))
                    del doc[:]

            while True:
                raw = f.readline(MAX_LINE + 1)
                if not raw:
                    break
                line += 1
                if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
                    raise BadRecord("%s:%d: line longer than %d bytes" % (name, line, MAX_LINE))
                text = raw.decode("utf-8", errors="replace").rstrip("\n").rstrip("\r")
                if not text.strip():
                    flush()
                    continue
                if not doc:
                    first = line
                doc.append(text)
            flush()
        else:
            raise ValueError("%s: format %s is read by the datasets library; use check_rows" % (name, fmt))
    return out


def check_rows(rows, name, field, log):
    """Checks rows read by the datasets library (csv, parquet, hf): [(where, kind,
    segments)], where is "name row N" (1-based)."""
    out = []
    for i, row in enumerate(rows):
        log.records += 1
        where = "%s row %d" % (name, i + 1)
        try:
            kind, segs = parse_record(dict(row), field)
        except ValueError as e:
            log.bad(where, str(e))
            continue
        out.append((where, kind, segs))
    return out


def check_lengths(items, count, limit, truncate, packing, log):
    """Applies dataset.truncate and on_bad_record to examples longer than limit
    tokens (count(item) gives an example's tokens): with truncate they are kept and
    counted (the engine cuts them), with packing kept (packing splits them across
    sequences), and otherwise bad records. Returns the examples kept."""
    kept = []
    for item in items:
        n = count(item)
        if n > limit:
            if truncate:
                log.truncated += 1
            elif not packing:
                log.bad(item[0], "the example is %d tokens long; a sequence of seq_len holds at most %d: "
                                 "raise seq_len, set truncate = true or packing = true" % (n, limit), long=True)
                continue
        kept.append(item)
    if not kept:
        raise BadRecord("no usable example (%d skipped)" % log.skipped)
    return kept


def hf_rows(items, field):
    """The rows of a Hugging Face dataset for TRL's SFTTrainer, from checked records:
    text records as {field: text} (loss on every token), instruction records and chats
    whose only assistant turn comes last as {"prompt", "completion"} rendered with
    whisperc's template (TRL's prompt-completion format: loss on the completion and
    EOS only, as whisperc run masks them). A chat with several assistant turns, or
    text records mixed with the others, raise ValueError naming the record: TRL takes
    one format per dataset and learns one completion per row."""
    rows, first = [], None
    for where, kind, segs in items:
        if kind == "text":
            row = {field: segs[0][0]}
        elif len(segs) == 2 and not segs[0][1] and segs[1][1]:
            row = {"prompt": segs[0][0], "completion": segs[1][0]}
        else:
            raise ValueError("%s: a chat with %d assistant turns: the hf export learns one completion per record "
                             "(TRL's prompt-completion format); whisperc run and --engine torchtune learn every "
                             "assistant turn" % (where, sum(1 for _, loss in segs if loss)))
        shape = "text" if kind == "text" else "prompt-completion"
        if first is None:
            first = (where, shape)
        elif shape != first[1]:
            raise ValueError("%s: a %s record after %s records (from %s): TRL trains on one format per dataset; "
                             "split the file, or use --engine torchtune or whisperc run, which mix them"
                             % (where, shape, first[1], first[0]))
        rows.append(row)
    return rows


def record_text(item):
    """The whole rendered text of a checked record (its segments joined)."""
    return "".join(text for text, _ in item[2])


def tokenize(segs, encode, bos, eos):
    """Tokenises an example's segments as whisperc run does: BOS first, EOS after a
    final segment with loss; returns (tokens, loss) where loss[i] says whether
    tokens[i] is a target with loss (never the first token)."""
    tokens, loss = [], []
    for i, (text, with_loss) in enumerate(segs):
        ids = list(encode(text))
        if i == 0:
            ids = [bos] + ids
        if i == len(segs) - 1 and with_loss:
            ids = ids + [eos]
        for j, t in enumerate(ids):
            tokens.append(t)
            loss.append(bool(with_loss) and not (i == 0 and j == 0))
    return tokens, loss


def token_rows(examples, seq_len, packing, truncate):
    """Cuts tokenised examples [(tokens, loss)] into rows of at most seq_len + 1
    tokens ({"tokens", "labels"}; a label is the token, or IGNORE where it carries
    no loss), as whisperc run cuts its sequences: one row per example (cut first
    when truncate), or with packing one stream in windows of seq_len + 1 tokens that
    overlap by one, so that every token is a target once. Rows without a target
    with loss are dropped."""
    n = seq_len
    rows = []

    def row(toks, loss):
        if len(toks) < 2 or not any(loss[1:]):
            return
        rows.append({"tokens": list(toks), "labels": [t if l else IGNORE for t, l in zip(toks, loss)]})

    if truncate:
        examples = [(t[:n + 1], l[:n + 1]) for t, l in examples]
    if not packing:
        for toks, loss in examples:
            row(toks, loss)
        return rows
    stream, mask = [], []
    for toks, loss in examples:
        stream += toks
        mask += loss
    start = 0
    while start + 1 < len(stream):
        end = min(start + n + 1, len(stream))
        row(stream[start:end], [False] + mask[start + 1:end])
        start += n
    return rows


class TokenRows(torch.utils.data.Dataset):
    """Rows of tokens and labels, for torchtune's recipes (padded_collate_sft)."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def torchtune_dataset(tokenizer, data_files=None, source=None, format="jsonl", column="text", seq_len=1024,
                      packing=False, truncate=False, on_bad_record="error", split="train"):
    """torchtune's dataset component: the records checked, rendered and tokenised as
    whisperc run does (see the module's doc). tokenizer is torchtune's (encode,
    bos_id, eos_id); source and split name a Hugging Face dataset (format hf), read
    with the datasets library as csv and parquet files are."""
    log = RecordLog(on_bad_record)
    if format in ("jsonl", "text"):
        items = read_records(data_files, format, column, log)
    else:
        from datasets import load_dataset  # torchtune's own dependency

        if format == "hf":
            rows, name = load_dataset(source, split=split), source
        else:
            rows, name = load_dataset({"csv": "csv", "parquet": "parquet"}[format], data_files=data_files, split=split), data_files
        items = check_rows(rows, name, column, log)

    def encode(text):
        return tokenizer.encode(text, add_bos=False, add_eos=False)

    examples = []
    for where, kind, segs in items:
        examples.append((where, tokenize(segs, encode, tokenizer.bos_id, tokenizer.eos_id)))
    kept = check_lengths(examples, lambda e: len(e[1][0]), seq_len + 1, truncate, packing, log)
    rows = token_rows([e[1] for e in kept], seq_len, packing, truncate)
    log.report()
    if not rows:
        raise BadRecord("no training sequence with a target (%d records, %d skipped)" % (log.records, log.skipped))
    _DATASET["rows"] = len(rows)
    return TokenRows(rows)


class Diverged(RuntimeError):
    """Too many non-finite steps in a row after the allowed rollbacks."""


def _local(t):
    """The local shard of a distributed tensor (FSDP2's DTensor), else t."""
    return t.to_local() if hasattr(t, "to_local") else t


def _all_finite(t):
    """Reports (as a 0-dim tensor on t's device) whether every element of t is finite,
    checking 16M elements at a time so that the check's temporaries stay small next to
    the largest gradient."""
    flat = t.reshape(-1)
    if flat.numel() == 0:
        return torch.ones((), dtype=torch.bool, device=t.device)
    return torch.stack([torch.isfinite(c).all() for c in flat.split(1 << 24)]).all()


def _to_host(v):
    if torch.is_tensor(v):
        return (v.device, _local(v).detach().to("cpu", copy=True))
    return (None, copy.deepcopy(v))


class NonFiniteGuard(torch.optim.Optimizer):
    """Wraps an optimizer: a step whose gradients are not all finite is skipped (the
    gradients are dropped, nothing is updated); after `patience` such steps in a row
    the parameters and the optimizer's state return to the last snapshot, with the
    learning rate multiplied by `lr_factor`, at most `rollbacks` times; then the next
    run of `patience` bad steps raises Diverged. A snapshot (on the host, not the GPU)
    is taken before the first step, every `snapshot_every` updates (0: never), every
    `snapshot_steps()` steps when that is given (torchtune: save_every in epochs), and
    whenever snapshot() is called (train.py calls it as each checkpoint is saved).
    The snapshot costs host memory: the trained parameters and their moments.
    Under torch.distributed the ranks agree on a step's verdict. The learning rate is
    scaled around the inner step, so the engine's schedule stays the engine's."""

    def __init__(self, optimizer, patience=3, lr_factor=0.5, rollbacks=3, snapshot_every=0, out=None,
                 snapshot_steps=None):
        if not (isinstance(patience, int) and patience >= 1):
            raise ValueError("nan_patience must be at least 1, not %r" % (patience,))
        if not (0 < lr_factor <= 1):
            raise ValueError("nan_lr_factor must be in (0, 1], not %r" % (lr_factor,))
        if not (isinstance(rollbacks, int) and rollbacks >= 0):
            raise ValueError("nan_rollbacks must be 0 or more, not %r" % (rollbacks,))
        self.optimizer = optimizer
        self.patience, self.lr_factor, self.max_rollbacks = patience, float(lr_factor), rollbacks
        self.snapshot_every = int(snapshot_every or 0)
        # snapshot_steps, when given, returns (once, at the first step) a number
        # of steps, skipped ones included, after which a snapshot is taken
        # every time: an epoch's steps for save_every in epochs.
        self.snapshot_steps = snapshot_steps
        self._every_steps = 0
        self.out = out
        self.bad = 0  # non-finite steps in a row
        self.skipped = 0
        self.rollbacks = 0
        self.lr_scale = 1.0
        self.steps = 0  # steps asked for, skipped or not
        self.updates = 0
        self._snap = None
        self._snap_step = 0

    # The wrapped optimizer's own state, so that schedulers, accelerate and the
    # engines' checkpoints see it unchanged.
    @property
    def param_groups(self):
        return self.optimizer.param_groups

    @param_groups.setter
    def param_groups(self, v):
        self.optimizer.param_groups = v

    @property
    def state(self):
        return self.optimizer.state

    @state.setter
    def state(self, v):
        self.optimizer.state = v

    @property
    def defaults(self):
        return self.optimizer.defaults

    @defaults.setter
    def defaults(self, v):
        self.optimizer.defaults = v

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, sd):
        self.optimizer.load_state_dict(sd)
        self._snap = None  # a resumed run's start is its new last good state

    def zero_grad(self, set_to_none=True):
        return self.optimizer.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, group):
        return self.optimizer.add_param_group(group)

    def __repr__(self):
        return "NonFiniteGuard(%r)" % (self.optimizer,)

    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def _say(self, event, **kw):
        kw.update(event=event, step=self.steps)
        print("whisperc-guard " + json.dumps(kw, sort_keys=True), file=self.out or sys.stdout, flush=True)

    def finite(self, loss=None):
        """Reports whether every gradient (and loss, when given) is finite, on every rank."""
        ok = True
        flags = []
        for p in self._params():
            if p.grad is not None:
                flags.append(_all_finite(_local(p.grad)))
        if flags:
            ok = bool(torch.stack([f.to(flags[0].device) for f in flags]).all())
        if loss is not None and torch.is_tensor(loss):
            ok = ok and bool(torch.isfinite(loss.detach()).all())
        elif loss is not None:
            ok = ok and math.isfinite(float(loss))
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            dev = flags[0].device if flags else torch.device("cpu")
            t = torch.tensor([1.0 if ok else 0.0], device=dev)
            dist.all_reduce(t, op=dist.ReduceOp.MIN)
            ok = bool(t.item() == 1.0)
        return ok

    def snapshot(self):
        """Records the current parameters and optimizer state as the last good state."""
        params = self._params()
        self._snap = {
            "params": [_local(p).detach().to("cpu", copy=True) for p in params],
            "state": [{k: _to_host(v) for k, v in self.optimizer.state[p].items()} if p in self.optimizer.state else None
                      for p in params],
        }
        self._snap_step = self.steps

    def _restore(self):
        params = self._params()
        with torch.no_grad():
            for p, saved in zip(params, self._snap["params"]):
                _local(p).copy_(saved)
            for p, st in zip(params, self._snap["state"]):
                if st is None:
                    self.optimizer.state.pop(p, None)
                    continue
                self.optimizer.state[p] = {k: (v.to(dev, copy=True) if dev is not None else copy.deepcopy(v))
                                           for k, (dev, v) in st.items()}

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self._snap is None:
            self.snapshot()  # the start of the run
            if self.snapshot_steps is not None:
                self._every_steps = int(self.snapshot_steps() or 0)
        self.steps += 1
        if self._every_steps and self.steps % self._every_steps == 0:
            return self._step(loss, snap_after=True)
        return self._step(loss, snap_after=False)

    def _step(self, loss, snap_after):
        if not self.finite(loss):
            self.bad += 1
            self.skipped += 1
            self.zero_grad(set_to_none=True)
            self._say("skip", in_a_row=self.bad, skipped=self.skipped)
            if self.bad < self.patience:
                if snap_after:
                    self.snapshot()  # nothing changed since the last good step
            else:
                if self.rollbacks >= self.max_rollbacks:
                    raise Diverged("%d non-finite steps in a row after %d rollbacks (nan_rollbacks = %d); lower the "
                                   "learning rate, check the data, or raise nan_rollbacks" % (self.bad, self.rollbacks, self.max_rollbacks))
                self._restore()
                self.rollbacks += 1
                self.lr_scale *= self.lr_factor
                self.bad = 0
                self._say("rollback", rollback=self.rollbacks, of=self.max_rollbacks, to_step=self._snap_step, lr_scale=self.lr_scale)
            return loss
        self.bad = 0
        lrs = [g["lr"] for g in self.param_groups]
        if self.lr_scale != 1.0:
            for g in self.param_groups:
                g["lr"] = g["lr"] * self.lr_scale
        try:
            self.optimizer.step()
        finally:
            for g, lr in zip(self.param_groups, lrs):
                g["lr"] = lr
        self.updates += 1
        if snap_after or self.snapshot_every and self.updates % self.snapshot_every == 0:
            self.snapshot()
        return loss


def epoch_steps(rows, batch_size, grad_accum, world=None):
    """The optimizer steps of one epoch of torchtune's recipe over rows rows: each rank
    gets ceil(rows / world) of them (DistributedSampler), in whole batches (the
    DataLoader drops the last partial one), grad_accum batches a step."""
    if world is None:
        dist = torch.distributed
        world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    per_rank = -(-rows // max(world, 1))
    return (per_rank // max(batch_size, 1)) // max(grad_accum, 1)


def guarded_optimizer(params, optimizer="torch.optim.AdamW", nan_patience=3, nan_lr_factor=0.5, nan_rollbacks=3,
                      snapshot_every=0, snapshot_epochs=0, batch_size=1, gradient_accumulation_steps=1, **kwargs):
    """torchtune's optimizer component: `optimizer` (a dotted class name) over params
    with kwargs, wrapped in NonFiniteGuard. The last good state is snapshotted every
    snapshot_every updates, or every snapshot_epochs epochs of the dataset that
    torchtune_dataset made (where the recipe saves its checkpoints)."""
    import importlib

    mod, _, cls = optimizer.rpartition(".")
    inner = getattr(importlib.import_module(mod), cls)(params, **kwargs)
    steps = None
    if snapshot_epochs:
        def steps():
            if _DATASET["rows"] is None:
                return 0
            return snapshot_epochs * epoch_steps(_DATASET["rows"], batch_size, gradient_accumulation_steps)
    return NonFiniteGuard(inner, patience=nan_patience, lr_factor=nan_lr_factor, rollbacks=nan_rollbacks,
                          snapshot_every=snapshot_every, snapshot_steps=steps)
