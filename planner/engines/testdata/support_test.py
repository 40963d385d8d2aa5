"""Runs whisperc_support (planner/engines/support.py, as the exports ship it) under
torch alone: the data checks on real files, and the non-finite-step guard on a
small model with gradients made NaN on purpose. TestSupportModule runs it with
the module beside it; it prints OK and exits 0 when every check holds."""
import io
import json
import os
import sys
import tempfile
import unittest

import torch

import whisperc_support as ws


class FakeTokenizer:
    """Whitespace words: one token each (ids from a growing vocabulary)."""

    bos_id, eos_id = 1, 2

    def __init__(self):
        self.vocab = {}

    def encode(self, text, add_bos=False, add_eos=False):
        ids = [self.vocab.setdefault(w, 3 + len(self.vocab)) for w in text.split()]
        return ([self.bos_id] if add_bos else []) + ids + ([self.eos_id] if add_eos else [])


def write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


GOOD = json.dumps({"text": "one two three"})
LONG = json.dumps({"text": " ".join(["w"] * 20)})
CHAT = json.dumps({"text": [{"role": "user", "content": "hi there"}, {"role": "assistant", "content": "hello you"}]})
INSTR = json.dumps({"instruction": "say hi", "output": "hi"})


class Data(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.out = io.StringIO()

    def test_bad_records_error_names_file_and_line(self):
        p = write(self.dir, "d.jsonl", GOOD + "\n\n{not json\n" + GOOD + "\n")
        with self.assertRaises(ws.BadRecord) as cm:
            ws.read_records(p, "jsonl", "text", ws.RecordLog("error"), name="d.jsonl")
        self.assertTrue(str(cm.exception).startswith("d.jsonl:3: invalid JSON"), str(cm.exception))

    def test_bad_records_skip_counts(self):
        lines = [GOOD, "{not json", json.dumps({"other": 1}), json.dumps({"text": "  "}), json.dumps({"text": 3}),
                 json.dumps({"text": [{"role": "user", "content": "x"}]}), json.dumps({"text": [{"role": "bot", "content": "x"}]}),
                 json.dumps([1, 2]), CHAT, INSTR, json.dumps({"instruction": "x"})]
        p = write(self.dir, "d.jsonl", "\n".join(lines) + "\n")
        log = ws.RecordLog("skip")
        items = ws.read_records(p, "jsonl", "text", log, name="d.jsonl")
        self.assertEqual([w for w, _, _ in items], ["d.jsonl:1", "d.jsonl:9", "d.jsonl:10"])
        self.assertEqual([k for _, k, _ in items], ["text", "chat", "instruction"])
        self.assertEqual((log.records, log.skipped), (11, 8))
        want = ["d.jsonl:2: invalid JSON", 'd.jsonl:3: no field "text"', 'd.jsonl:4: field "text" is empty',
                'd.jsonl:5: field "text" is neither', "d.jsonl:6: text has no assistant message",
                'd.jsonl:7: text[0] has role "bot"', "d.jsonl:8: invalid JSON", 'd.jsonl:11: instruction record has no "output"']
        for got, w in zip(log.problems, want):
            self.assertTrue(got.startswith(w), (got, w))

    def test_text_documents_are_separated_by_blank_lines(self):
        p = write(self.dir, "d.txt", "a b\nc\n\n\nd e\n")
        items = ws.read_records(p, "text", "text", ws.RecordLog(), name="d.txt")
        self.assertEqual([(w, s[0][0]) for w, _, s in items], [("d.txt:1", "a b\nc"), ("d.txt:5", "d e")])

    def test_rows(self):
        log = ws.RecordLog("skip")
        items = ws.check_rows([{"text": "a b"}, {"text": ""}, {"text": None}], "org/set", "text", log)
        self.assertEqual(len(items), 1)
        self.assertEqual(log.problems[0], 'org/set row 2: field "text" is empty')

    def lengths(self, truncate, packing, mode):
        p = write(self.dir, "d.jsonl", GOOD + "\n" + LONG + "\n" + GOOD + "\n")
        log = ws.RecordLog(mode)
        items = ws.read_records(p, "jsonl", "text", log, name="d.jsonl")
        kept = ws.check_lengths(items, lambda it: len(it[2][0][0].split()) + 2, 10, truncate, packing, log)
        return kept, log

    def test_long_record_is_bad_without_truncate(self):
        with self.assertRaises(ws.BadRecord) as cm:
            self.lengths(False, False, "error")
        self.assertIn("d.jsonl:2: the example is 22 tokens long", str(cm.exception))
        kept, log = self.lengths(False, False, "skip")
        self.assertEqual((len(kept), log.skipped, log.long_skipped, log.truncated), (2, 1, 1, 0))

    def test_long_record_is_cut_and_counted_with_truncate(self):
        kept, log = self.lengths(True, False, "error")
        self.assertEqual((len(kept), log.skipped, log.truncated), (3, 0, 1))

    def test_long_record_is_kept_when_packing(self):
        kept, log = self.lengths(False, True, "error")
        self.assertEqual((len(kept), log.skipped, log.truncated), (3, 0, 0))

    def test_nothing_usable(self):
        p = write(self.dir, "d.jsonl", "{bad\n")
        log = ws.RecordLog("skip")
        items = ws.read_records(p, "jsonl", "text", log)
        with self.assertRaises(ws.BadRecord):
            ws.check_lengths(items, len, 10, False, False, log)

    def test_line_too_long(self):
        p = os.path.join(self.dir, "big.jsonl")
        with open(p, "wb") as f:
            f.write(b'{"text": "' + b"a" * (ws.MAX_LINE + 10) + b'"}\n')
        with self.assertRaises(ws.BadRecord) as cm:
            ws.read_records(p, "jsonl", "text", ws.RecordLog("skip"), name="big.jsonl")
        self.assertIn("big.jsonl:1: line longer than", str(cm.exception))

    def test_tokens_and_masks_as_whisperc_run(self):
        tok = FakeTokenizer()
        _, segs = ws.parse_record(json.loads(INSTR), "text")
        toks, loss = ws.tokenize(segs, lambda t: tok.encode(t), 1, 2)
        # BOS, the prompt's words (no loss), the answer "hi" and EOS (loss).
        self.assertEqual(toks[0], 1)
        self.assertEqual(toks[-1], 2)
        self.assertEqual(loss, [False] * (len(toks) - 2) + [True, True])

    def test_token_rows(self):
        ex = [(list(range(10, 20)), [False] + [True] * 9), (list(range(30, 34)), [False, True, True, True])]
        rows = ws.token_rows(ex, 4, packing=False, truncate=True)
        self.assertEqual([r["tokens"] for r in rows], [[10, 11, 12, 13, 14], [30, 31, 32, 33]])
        self.assertEqual(rows[0]["labels"], [ws.IGNORE, 11, 12, 13, 14])
        rows = ws.token_rows(ex, 4, packing=True, truncate=False)
        # One stream of 14 tokens in windows of 5 overlapping by one: every token
        # after the first is a target exactly once.
        self.assertEqual([r["tokens"][0] for r in rows], [10, 14, 18, 32])
        targets = [t for r in rows for t in r["labels"][1:] if t != ws.IGNORE]
        self.assertEqual(targets, list(range(11, 20)) + [31, 32, 33])

    def test_torchtune_dataset(self):
        p = write(self.dir, "d.jsonl", GOOD + "\n" + LONG + "\n{bad\n" + CHAT + "\n")
        ds = ws.torchtune_dataset(FakeTokenizer(), data_files=p, format="jsonl", column="text", seq_len=10,
                                  truncate=False, on_bad_record="skip")
        self.assertEqual(len(ds), 2)  # the long and the invalid record skipped
        self.assertTrue(all(len(r["tokens"]) <= 11 for r in ds.rows))
        with self.assertRaises(ws.BadRecord):
            ws.torchtune_dataset(FakeTokenizer(), data_files=p, format="jsonl", column="text", seq_len=10, on_bad_record="error")
        ds = ws.torchtune_dataset(FakeTokenizer(), data_files=p, format="jsonl", column="text", seq_len=10,
                                  truncate=True, on_bad_record="skip")
        self.assertEqual(len(ds), 3)
        self.assertEqual(len(ds.rows[1]["tokens"]), 11)


def model_and_opt(lr=0.1, seed=0):
    torch.manual_seed(seed)
    m = torch.nn.Linear(4, 3)
    return m, torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.01)


def backward(m, x, poison=False):
    m.zero_grad()
    loss = m(x).pow(2).sum()
    if poison:
        loss = loss * float("nan")
    loss.backward()
    return loss


def params(m):
    return [p.detach().clone() for p in m.parameters()]


class Guard(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(1)
        self.x = torch.randn(5, 4)
        self.out = io.StringIO()

    def events(self):
        return [json.loads(l[len("whisperc-guard "):]) for l in self.out.getvalue().splitlines()]

    def test_skip_leaves_weights_and_moments(self):
        m, opt = model_and_opt()
        g = ws.NonFiniteGuard(opt, patience=3, out=self.out)
        backward(m, self.x)
        g.step()
        before, state = params(m), {k: v.clone() for k, v in opt.state[m.weight].items() if torch.is_tensor(v)}
        backward(m, self.x, poison=True)
        g.step()
        for a, b in zip(before, params(m)):
            self.assertTrue(torch.equal(a, b))
        for k, v in state.items():
            self.assertTrue(torch.equal(v, opt.state[m.weight][k]), k)
        self.assertEqual((g.skipped, g.bad, g.rollbacks), (1, 1, 0))
        self.assertEqual(self.events()[0]["event"], "skip")

    def test_rollback_to_start_with_lower_lr_matches_a_run_at_that_lr(self):
        m, opt = model_and_opt(lr=0.1)
        g = ws.NonFiniteGuard(opt, patience=2, lr_factor=0.5, rollbacks=3, out=self.out)
        sched = torch.optim.lr_scheduler.LambdaLR(g, lambda s: 1.0)  # the engines' schedulers take the guard
        start = params(m)
        for poison in (False, False, True, True):
            backward(m, self.x, poison)
            g.step()
            sched.step()
        for a, b in zip(start, params(m)):
            self.assertTrue(torch.equal(a, b), "not rolled back to the start")
        self.assertEqual(len(opt.state), 0, "the moments were not rolled back")
        self.assertEqual((g.rollbacks, g.lr_scale, g.bad), (1, 0.5, 0))
        ev = self.events()
        self.assertEqual([e["event"] for e in ev], ["skip", "skip", "rollback"])
        self.assertEqual((ev[-1]["rollback"], ev[-1]["lr_scale"], ev[-1]["to_step"]), (1, 0.5, 0))
        # The next updates are those of AdamW at half the learning rate.
        ref, ropt = model_and_opt(lr=0.05)
        for _ in range(2):
            backward(m, self.x)
            g.step()
            backward(ref, self.x)
            ropt.step()
        for a, b in zip(params(ref), params(m)):
            self.assertTrue(torch.allclose(a, b, rtol=1e-6, atol=1e-7), (a, b))
        self.assertEqual(opt.param_groups[0]["lr"], 0.1, "the schedule's learning rate was changed")

    def test_rollback_to_the_last_snapshot(self):
        m, opt = model_and_opt()
        g = ws.NonFiniteGuard(opt, patience=1, snapshot_every=2, out=self.out)
        for _ in range(3):
            backward(m, self.x)
            g.step()
        # snapshots: the start, then after update 2
        at2 = g._snap["params"]
        backward(m, self.x, poison=True)
        g.step()
        for a, b in zip(at2, params(m)):
            self.assertTrue(torch.equal(a, b))
        self.assertEqual(self.events()[-1]["to_step"], 2)
        # snapshot() by hand (a checkpoint was saved) moves the rollback target.
        backward(m, self.x)
        g.step()
        g.snapshot()
        now = params(m)
        backward(m, self.x, poison=True)
        g.step()
        for a, b in zip(now, params(m)):
            self.assertTrue(torch.equal(a, b))

    def test_diverged_after_the_rollbacks(self):
        m, opt = model_and_opt()
        g = ws.NonFiniteGuard(opt, patience=2, rollbacks=1, out=self.out)
        for _ in range(2):
            backward(m, self.x, poison=True)
            g.step()
        self.assertEqual(g.rollbacks, 1)
        backward(m, self.x, poison=True)
        g.step()
        backward(m, self.x, poison=True)
        with self.assertRaises(ws.Diverged) as cm:
            g.step()
        self.assertIn("after 1 rollbacks (nan_rollbacks = 1)", str(cm.exception))
        g0 = ws.NonFiniteGuard(model_and_opt()[1], patience=1, rollbacks=0, out=self.out)
        backward(m, self.x, poison=True)
        g0.optimizer.param_groups[0]["params"] = list(m.parameters())
        with self.assertRaises(ws.Diverged):
            g0.step()

    def test_finite_check_in_chunks(self):
        big = torch.zeros((1 << 24) + 5)
        self.assertTrue(bool(ws._all_finite(big)))
        big[-1] = float("inf")  # in the second chunk
        self.assertFalse(bool(ws._all_finite(big)))
        self.assertTrue(bool(ws._all_finite(torch.zeros(0))))

    def test_a_good_step_resets_the_run_of_bad_ones(self):
        m, opt = model_and_opt()
        g = ws.NonFiniteGuard(opt, patience=2, out=self.out)
        for poison in (True, False, True, False):
            backward(m, self.x, poison)
            g.step()
        self.assertEqual((g.skipped, g.rollbacks), (2, 0))

    def test_state_dict_is_the_optimizers(self):
        m, opt = model_and_opt()
        g = ws.NonFiniteGuard(opt, out=self.out)
        backward(m, self.x)
        g.step()
        sd = g.state_dict()
        self.assertEqual(set(sd), {"state", "param_groups"})
        m2, opt2 = model_and_opt()
        g2 = ws.NonFiniteGuard(opt2, out=self.out)
        g2.load_state_dict(sd)
        self.assertTrue(torch.equal(opt2.state[m2.weight]["exp_avg"], opt.state[m.weight]["exp_avg"]))

    def test_snapshot_every_epoch(self):
        # An epoch of 3 steps (12 rows, batch 2, 2 batches a step): the last good
        # state is the end of the last whole epoch, skipped steps counted.
        self.assertEqual(ws.epoch_steps(12, 2, 2, world=1), 3)
        self.assertEqual(ws.epoch_steps(13, 2, 2, world=2), 1)
        m, opt = model_and_opt()
        g = ws.NonFiniteGuard(opt, patience=2, out=self.out, snapshot_steps=lambda: 3)
        for poison in (False, True, False):
            backward(m, self.x, poison)
            g.step()
        at3 = params(m)
        for poison in (False, True, True):
            backward(m, self.x, poison)
            g.step()
        for a, b in zip(at3, params(m)):
            self.assertTrue(torch.equal(a, b), "not rolled back to the epoch's end")
        self.assertEqual(self.events()[-1]["to_step"], 3)

    def test_torchtune_component_snapshots_epochs(self):
        ws._DATASET["rows"] = None
        p = write(tempfile.mkdtemp(), "d.jsonl", "\n".join([GOOD] * 12) + "\n")
        m = torch.nn.Linear(4, 3)
        g = ws.guarded_optimizer(m.parameters(), optimizer="torch.optim.SGD", lr=0.1, snapshot_epochs=2,
                                 batch_size=2, gradient_accumulation_steps=2)
        ws.torchtune_dataset(FakeTokenizer(), data_files=p, seq_len=8)
        self.assertEqual(g.snapshot_steps(), 6)

    def test_torchtune_component(self):
        m = torch.nn.Linear(4, 3)
        g = ws.guarded_optimizer(m.parameters(), optimizer="torch.optim.SGD", lr=0.1, momentum=0.9, nan_patience=4)
        self.assertIsInstance(g.optimizer, torch.optim.SGD)
        self.assertEqual((g.patience, g.optimizer.defaults["momentum"]), (4, 0.9))

    def test_bad_policy(self):
        opt = model_and_opt()[1]
        for kw in ({"patience": 0}, {"lr_factor": 0}, {"lr_factor": 1.5}, {"rollbacks": -1}):
            with self.assertRaises(ValueError):
                ws.NonFiniteGuard(opt, **kw)


if __name__ == "__main__":
    r = unittest.main(exit=False, verbosity=1).result
    if not r.wasSuccessful():
        sys.exit(1)
    print("OK")
